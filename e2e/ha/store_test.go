//go:build e2e

package ha

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"webservicemonitor/e2e/internal/rig"
	"webservicemonitor/ha"
	"webservicemonitor/state"
)

// TestStore: the firing alerts' memory and the whole-history import and
// export over a real three-member cluster.
func TestStore(t *testing.T) {
	cluster := rig.StartEtcdCluster(t, 3)
	t.Run("firing alerts", func(t *testing.T) { testFiringAlerts(t, cluster) })
	t.Run("dump round trip", func(t *testing.T) { testDumpRoundTrip(t, cluster) })
}

func alertRecord(name string) state.AlertRecord {
	return state.AlertRecord{Labels: map[string]string{"alertname": name, "tool": "x"}, Annotations: map[string]string{"summary": name + " <&>"}, StartsAt: at}
}

func testFiringAlerts(t *testing.T, cluster *rig.EtcdCluster) {
	keys := keysFor(t)
	a := startCandidate(t, "a", client(t, cluster.Endpoints(), nil), keys, 5*time.Second)
	fence := waitLeading(t, a, 30*time.Second)
	mem := ha.AlertMemory{Store: a.store, Leader: a.elector, Timeout: 10 * time.Second}

	first := map[string]state.AlertRecord{"down": alertRecord("down"), "valve": alertRecord("valve")}
	if err := mem.Save(first); err != nil {
		t.Fatalf("the leader's save: %v", err)
	}
	second := map[string]state.AlertRecord{"down": alertRecord("down again"), "stale": alertRecord("stale")}
	if err := mem.Save(second); err != nil {
		t.Fatalf("the leader's second save: %v", err)
	}
	// The same JSON as the state file's.
	dir := t.TempDir()
	f, err := state.Open(filepath.Join(dir, "state.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.SetFiringAlerts(second); err != nil {
		t.Fatal(err)
	}
	fromFile, err := f.FiringAlerts()
	if err != nil {
		t.Fatal(err)
	}
	b := startCandidate(t, "b", client(t, cluster.Endpoints(), nil), keys, 5*time.Second)
	standby := ha.AlertMemory{Store: b.store, Leader: b.elector, Timeout: 10 * time.Second}
	got, err := standby.Load()
	if err != nil {
		t.Fatalf("a standby's load: %v", err)
	}
	if !reflect.DeepEqual(got, second) || !reflect.DeepEqual(got, fromFile) {
		t.Errorf("loaded %+v, want %+v (the state file gives %+v)", got, second, fromFile)
	}
	if err := standby.Save(first); !errors.Is(err, ha.ErrNotLeader) {
		t.Errorf("a standby's save: %v, want ErrNotLeader", err)
	}

	a.stop() // revokes a's lease: b wins
	waitLeading(t, b, 30*time.Second)
	stale := &staleFence{fence: fence}
	deposed := ha.AlertMemory{Store: a.store, Leader: stale, Timeout: 10 * time.Second}
	if err := deposed.Save(first); !errors.Is(err, ha.ErrNotLeader) {
		t.Errorf("the deposed leader's save: %v, want ErrNotLeader", err)
	}
	if len(stale.lost) != 1 {
		t.Errorf("the refused save stepped down %d times, want once", len(stale.lost))
	}
	if got, err := standby.Load(); err != nil || !reflect.DeepEqual(got, second) {
		t.Errorf("after the deposed leader's save: %+v, %v; want %+v", got, err, second)
	}
	if err := standby.Save(nil); err != nil {
		t.Fatalf("the new leader clearing the alerts: %v", err)
	}
	if got, err := standby.Load(); err != nil || len(got) != 0 {
		t.Errorf("after clearing: %+v, %v; want none", got, err)
	}
}

// historyFile fills a state file with one of everything a dump carries:
// records (one attempt by another host), actions with the oldest pruned
// (the numbering ahead of the IDs), firing alerts, the last cycle.
func historyFile(t *testing.T, path string) state.Dump {
	t.Helper()
	s, err := state.Open(path, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var ids []uint64
	for _, kind := range []state.ActionKind{state.ActionRetry, state.ActionPause, state.ActionForget} {
		a, err := s.RecordAction(state.Action{Kind: kind, Tools: []string{"y"}, Who: "alice", At: at, Until: at.Add(time.Hour)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, a.ID)
	}
	put := map[string]state.ToolRecord{
		"y": {DownSince: at, Attempts: []state.Attempt{{At: at, Outcome: state.OutcomeStarted, Host: "cron-2", Reason: "down <5m> & more"}}},
		"x": {UpSince: at, LastSeenUp: at},
	}
	if err := s.Commit(state.Changes{At: at, Put: put, DeleteActions: ids[:1]}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetFiringAlerts(map[string]state.AlertRecord{"down": alertRecord("down")}); err != nil {
		t.Fatal(err)
	}
	d, err := s.Export()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// testDumpRoundTrip: state file → Dump → etcd → Dump → state file, equal
// at every step; an import refuses a prefix with history unless replace,
// a deposed leader imports nothing, and a half-done import is not read.
func testDumpRoundTrip(t *testing.T, cluster *rig.EtcdCluster) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dir := t.TempDir()
	want := historyFile(t, filepath.Join(dir, "from.db"))
	if want.ActionsSeq != 3 || len(want.Actions) != 2 || len(want.Records) != 2 || len(want.Alerts) != 1 {
		t.Fatalf("the fixture's dump is %+v", want)
	}
	keys := keysFor(t)
	a := startCandidate(t, "a", client(t, cluster.Endpoints(), nil), keys, 5*time.Second)
	fence := waitLeading(t, a, 30*time.Second)
	if err := a.store.Import(ctx, fence, want, false); err != nil {
		t.Fatalf("importing into an empty prefix: %v", err)
	}
	fromEtcd, err := a.store.Export(ctx)
	if err != nil {
		t.Fatalf("exporting etcd: %v", err)
	}
	if !reflect.DeepEqual(fromEtcd, want) {
		t.Errorf("etcd's export =\n%+v\nwant the state file's\n%+v", fromEtcd, want)
	}
	// Numbering goes on where the state file left it.
	next := recordAction(t, a.store, state.Action{Kind: state.ActionResume, Who: "bob", At: at})
	if next.ID != want.ActionsSeq+1 {
		t.Errorf("first action after the import got ID %d, want %d", next.ID, want.ActionsSeq+1)
	}

	back, err := state.Open(filepath.Join(dir, "back.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer back.Close()
	if err := back.Import(fromEtcd, false); err != nil {
		t.Fatalf("importing etcd's export into a state file: %v", err)
	}
	if got, err := back.Export(); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("the state file after the round trip =\n%+v (%v)\nwant\n%+v", got, err, want)
	}

	if err := a.store.Import(ctx, fence, want, false); !errors.Is(err, state.ErrNotEmpty) {
		t.Errorf("importing over history: %v, want ErrNotEmpty", err)
	}
	testImportReplace(t, ctx, a, want)

	b := startCandidate(t, "b", client(t, cluster.Endpoints(), nil), keys, 5*time.Second)
	a.stop()
	waitLeading(t, b, 30*time.Second)
	if err := a.store.Import(ctx, fence, state.Dump{}, true); !errors.Is(err, ha.ErrNotLeader) {
		t.Errorf("the deposed leader's import: %v, want ErrNotLeader", err)
	}
	if got, err := b.store.Export(ctx); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("after the deposed leader's import: %+v, %v; want %+v", got, err, want)
	}
}

// testImportReplace: a mark left by an import that died makes the history
// unreadable until an import with replace finishes, which also removes
// what the dump does not hold.
func testImportReplace(t *testing.T, ctx context.Context, a *candidate, want state.Dump) {
	t.Helper()
	fence, _ := a.elector.Leading()
	extra := recordAction(t, a.store, state.Action{Kind: state.ActionRetry, Tools: []string{"z"}, Who: "bob", At: at})
	if err := put(ctx, a.store, fence, a.store.Keys().Import(), "died"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.store.Read(ctx); err == nil {
		t.Error("a history with an unfinished import was read")
	}
	if err := a.store.Import(ctx, fence, want, true); err != nil {
		t.Fatalf("importing with replace: %v", err)
	}
	got, err := a.store.Export(ctx)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("after the import with replace: %+v, %v; want %+v", got, err, want)
	}
	if value(t, a.cli, a.store.Keys().Action(extra.ID)) != "" {
		t.Errorf("action %d, not in the dump, survived the import with replace", extra.ID)
	}
}
