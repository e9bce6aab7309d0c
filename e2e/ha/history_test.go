//go:build e2e

package ha

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"webservicemonitor/e2e/internal/rig"
	"webservicemonitor/ha"
	"webservicemonitor/monitor"
	"webservicemonitor/state"
	"webservicemonitor/state/etcdstore"
)

// staleFence is a leader that checked its leadership just before a pause:
// it still writes with the fence of a term that has ended.
type staleFence struct {
	fence etcdstore.Fence
	lost  []string
}

func (s *staleFence) Leading() (etcdstore.Fence, bool) { return s.fence, true }
func (s *staleFence) Lost(reason string)               { s.lost = append(s.lost, reason) }

// TestHistory: the cycle's history in etcd over a real three-member
// cluster: what is recorded reads back as the state file would give it,
// a deposed leader records nothing, and admins on two hosts number their
// actions without a clash.
func TestHistory(t *testing.T) {
	cluster := rig.StartEtcdCluster(t, 3)
	t.Run("round trip", func(t *testing.T) { testHistoryRoundTrip(t, cluster) })
	t.Run("deposed leader", func(t *testing.T) { testHistoryDeposed(t, cluster) })
	t.Run("concurrent admin actions", func(t *testing.T) { testConcurrentActions(t, cluster) })
}

var at = time.Date(2026, 11, 30, 4, 0, 0, 123456789, time.UTC)

func testHistoryRoundTrip(t *testing.T, cluster *rig.EtcdCluster) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	keys := keysFor(t)
	a := startCandidate(t, "a", client(t, cluster.Endpoints(), nil), keys, 5*time.Second)
	waitLeading(t, a, 30*time.Second)
	h := ha.EtcdHistory{Store: a.store, Leader: a.elector}
	pause := recordAction(t, a.store, state.Action{Kind: state.ActionPause, Who: "alice", At: at, Until: at.Add(time.Hour)})
	retry := recordAction(t, a.store, state.Action{Kind: state.ActionRetry, Tools: []string{"y"}, Who: "bob", At: at})

	pause.Seen = at.Add(time.Minute)
	records := map[string]state.ToolRecord{
		"y": {DownSince: at, Attempts: []state.Attempt{{At: at, Outcome: state.OutcomeStarted, Reason: "down <5m> & more"}}},
		"x": {UpSince: at, LastSeenUp: at},
		"z": {UpSince: at},
	}
	first := state.Changes{At: at.Add(time.Minute), Put: records, Actions: []state.Action{pause}, DeleteActions: []uint64{retry.ID}}
	if err := h.RecordAttempts(ctx, first); err != nil {
		t.Fatalf("recording %+v: %v", first, err)
	}
	snap := read(t, h)
	wantRecords := state.RecordsOf(records)
	same(t, "records", snap.Records, wantRecords)
	same(t, "actions", snap.Actions, []state.Action{pause})
	if !snap.LastCycle.Equal(first.At) {
		t.Errorf("last cycle %s, want %s", snap.LastCycle, first.At)
	}
	// The same bytes as the state file's, so a history moves unchanged.
	tools, encoded, err := state.EncodeRecords(records)
	if err != nil {
		t.Fatal(err)
	}
	for i, tool := range tools {
		if got := value(t, a.cli, keys.Tool(tool)); got != string(encoded[i]) {
			t.Errorf("etcd holds %s for %s, the state file would hold %s", got, tool, encoded[i])
		}
	}

	second := state.Changes{At: at.Add(2 * time.Minute), Delete: []string{"z"}}
	if err := h.RecordOutcomes(ctx, second); err != nil {
		t.Fatalf("recording %+v: %v", second, err)
	}
	snap = read(t, h)
	same(t, "records after forgetting z", snap.Records, state.RecordsOf(map[string]state.ToolRecord{"x": records["x"], "y": records["y"]}))
	if !snap.LastCycle.Equal(second.At) {
		t.Errorf("last cycle %s, want %s", snap.LastCycle, second.At)
	}

	// Replacing an action nobody recorded is refused whole, and is not a
	// lost leadership.
	bogus := state.Changes{Put: map[string]state.ToolRecord{"w": {}}, Actions: []state.Action{{ID: 99, Kind: state.ActionRetry, Who: "nobody", At: at}}}
	err = h.RecordOutcomes(ctx, bogus)
	if !errors.Is(err, state.ErrUnknownAction) || errors.Is(err, ha.ErrNotLeader) {
		t.Errorf("replacing unknown action 99: %v, want ErrUnknownAction and not ErrNotLeader", err)
	}
	if value(t, a.cli, keys.Tool("w")) != "" {
		t.Errorf("the refused chunk's record of w was stored")
	}
	if _, ok := a.elector.Leading(); !ok {
		t.Errorf("a lost the leadership over an unknown action")
	}
}

func testHistoryDeposed(t *testing.T, cluster *rig.EtcdCluster) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	keys := keysFor(t)
	a := startCandidate(t, "a", client(t, cluster.Endpoints(), nil), keys, 5*time.Second)
	fence := waitLeading(t, a, 30*time.Second)
	b := startCandidate(t, "b", client(t, cluster.Endpoints(), nil), keys, 5*time.Second)
	ch := state.Changes{At: at, Put: map[string]state.ToolRecord{"t": {Attempts: []state.Attempt{{At: at, Outcome: state.OutcomeStarted}}}}}
	if err := (ha.EtcdHistory{Store: a.store, Leader: a.elector}).RecordAttempts(ctx, ch); err != nil {
		t.Fatalf("the leader's record: %v", err)
	}
	a.stop() // revokes a's lease: b wins
	waitLeading(t, b, 30*time.Second)

	deposed := state.Changes{At: at.Add(time.Minute), Put: map[string]state.ToolRecord{
		"t": {Attempts: []state.Attempt{{At: at, Outcome: state.OutcomeStarted}, {At: at.Add(time.Minute), Outcome: state.OutcomeStarted}}},
		"u": {DownSince: at},
	}}
	stale := &staleFence{fence: fence}
	for name, h := range map[string]ha.EtcdHistory{
		"a's elector, which knows":   {Store: a.store, Leader: a.elector},
		"a write with the old fence": {Store: a.store, Leader: stale},
	} {
		err := h.RecordAttempts(ctx, deposed)
		if !errors.Is(err, ha.ErrNotLeader) || !errors.Is(err, monitor.ErrStateUnavailable) {
			t.Errorf("%s: %v, want ErrNotLeader and ErrStateUnavailable", name, err)
		}
	}
	if len(stale.lost) != 1 {
		t.Errorf("a refused fenced write stepped down %d times, want once", len(stale.lost))
	}
	snap := read(t, ha.EtcdHistory{Store: b.store, ReadOnly: true})
	same(t, "records after the deposed leader's writes", snap.Records, state.RecordsOf(ch.Put))
	if !snap.LastCycle.Equal(ch.At) {
		t.Errorf("last cycle %s, want the leader's %s", snap.LastCycle, ch.At)
	}
}

func testConcurrentActions(t *testing.T, cluster *rig.EtcdCluster) {
	keys := keysFor(t)
	const each = 15
	hosts := []string{"a", "b"}
	ids := make([][]uint64, len(hosts))
	var wg sync.WaitGroup
	for i, host := range hosts {
		s := etcdstore.New(client(t, cluster.Endpoints(), nil), keys, 5*time.Second)
		wg.Go(func() {
			for n := range each {
				a, err := s.RecordAction(context.Background(), state.Action{Kind: state.ActionRetry, Tools: []string{fmt.Sprint(n)}, Who: host, At: at})
				if err != nil {
					t.Errorf("host %s, action %d: %v", host, n, err)
					return
				}
				ids[i] = append(ids[i], a.ID)
			}
		})
	}
	wg.Wait()
	var all []uint64
	for i, got := range ids {
		if !slices.IsSorted(got) {
			t.Errorf("host %s got IDs %v, not increasing", hosts[i], got)
		}
		all = append(all, got...)
	}
	slices.Sort(all)
	var want []uint64
	for id := range uint64(len(hosts) * each) {
		want = append(want, id+1)
	}
	if !slices.Equal(all, want) {
		t.Fatalf("IDs given %v, want each of 1..%d once", all, len(want))
	}
	snap := read(t, ha.EtcdHistory{Store: etcdstore.New(client(t, cluster.Endpoints(), nil), keys, 5*time.Second), ReadOnly: true})
	if len(snap.Actions) != len(want) {
		t.Fatalf("%d actions stored, want %d", len(snap.Actions), len(want))
	}
	for i, a := range snap.Actions {
		if a.ID != want[i] || !slices.Contains(ids[slices.Index(hosts, a.Who)], a.ID) {
			t.Errorf("stored action %d (by %s) is not the one its host was given", a.ID, a.Who)
		}
	}
	if got := value(t, client(t, cluster.Endpoints(), nil), keys.ActionsSeq()); got != fmt.Sprint(len(want)) {
		t.Errorf("actions-seq %q, want %d", got, len(want))
	}
}

func recordAction(t *testing.T, s *etcdstore.Store, a state.Action) state.Action {
	t.Helper()
	stored, err := s.RecordAction(context.Background(), a)
	if err != nil {
		t.Fatalf("recording %s: %v", a.Kind, err)
	}
	return stored
}

func read(t *testing.T, h ha.EtcdHistory) monitor.HistorySnapshot {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	snap, err := h.Read(ctx)
	if err != nil {
		t.Fatalf("reading the history: %v", err)
	}
	return snap
}

// same compares by JSON: what is stored is what a reader decodes.
func same(t *testing.T, what string, got, want any) {
	t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if string(g) != string(w) {
		t.Errorf("%s:\n got  %s\n want %s", what, g, w)
	}
}
