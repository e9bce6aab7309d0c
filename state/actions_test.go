package state

import (
	"errors"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Actions as the admin commands record them, one of each kind.
var (
	pauseAll = Action{Kind: ActionPause, Who: "alice", At: t0, Reason: "grid maintenance", Until: t0.Add(2 * time.Hour)}
	forgetA  = Action{Kind: ActionForget, Tools: []string{"a"}, Who: "bob", At: t0.Add(time.Minute), Reason: "fixed its lighttpd.conf"}
	retryAB  = Action{Kind: ActionRetry, Tools: []string{"a", "b"}, Who: "bob", At: t0.Add(2 * time.Minute)}
	release3 = Action{Kind: ActionValveRelease, Who: "carol", At: t0.Add(3 * time.Minute), Reason: "after the NFS outage", AtMost: 3}
	resume   = Action{Kind: ActionResume, Who: "alice", At: t0.Add(4 * time.Minute)}
)

// farFuture is a time encoding/json refuses (RFC 3339 has four-digit years).
var farFuture = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)

func recordT(t *testing.T, s *Store, a Action, put map[string]ToolRecord) Action {
	t.Helper()
	got, err := s.RecordAction(a, put)
	if err != nil {
		t.Fatalf("RecordAction(%+v): %v", a, err)
	}
	return got
}

func actionsT(t *testing.T, s *Store) []Action {
	t.Helper()
	got, err := s.Actions()
	if err != nil {
		t.Fatalf("Actions: %v", err)
	}
	return got
}

// withID is a with the ID the store gives it.
func withID(a Action, id uint64) Action {
	a.ID = id
	return a
}

// TestActionsRoundTripAcrossReopen: each action recorded by its own
// command (its own Open) gets the next ID, whatever ID the caller set, and
// every mode reads them back whole, sorted by ID.
func TestActionsRoundTripAcrossReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s := openT(t, path, Options{})
	if got := actionsT(t, s); len(got) != 0 {
		t.Fatalf("a fresh file has actions %+v", got)
	}
	s.Close()

	var want []Action
	for i, a := range []Action{pauseAll, forgetA, withID(retryAB, 99), release3, resume} {
		s := openT(t, path, Options{})
		got := recordT(t, s, a, nil)
		if wantID := uint64(i + 1); got.ID != wantID {
			t.Errorf("action %d (%s) got ID %d, want %d", i, a.Kind, got.ID, wantID)
		}
		want = append(want, got)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	for _, opt := range []Options{{}, {ReadOnly: true}} {
		s := openT(t, path, opt)
		if got := actionsT(t, s); !reflect.DeepEqual(got, want) {
			t.Errorf("%+v: Actions = %+v\nwant %+v", opt, got, want)
		}
		s.Close()
	}
}

// TestRecordActionIsAllOrNothing: the action and the records it changes
// land together or not at all, and a refused action uses up no ID.
func TestRecordActionIsAllOrNothing(t *testing.T) {
	forgiven := sampleRecord(0)
	for i := range forgiven.Attempts {
		forgiven.Attempts[i].Forgiven = true
	}
	forgiven.BackoffStep, forgiven.GivenUpAt = 0, time.Time{}

	tests := []struct {
		name    string
		act     func(s *Store) (Action, error)
		wantErr string // "" when it must succeed
	}{
		{"the action with its tools' records", func(s *Store) (Action, error) {
			return s.RecordAction(forgetA, map[string]ToolRecord{"a": forgiven})
		}, ""},
		{"a record that cannot be encoded", func(s *Store) (Action, error) {
			return s.RecordAction(forgetA, map[string]ToolRecord{"a": forgiven, "b": {DownSince: farFuture}})
		}, `encoding record of tool "b"`},
		{"an empty tool name in the records", func(s *Store) (Action, error) {
			return s.RecordAction(forgetA, map[string]ToolRecord{"a": forgiven, "": {}})
		}, "empty tool name"},
		{"an action that cannot be encoded (inside the transaction)", func(s *Store) (Action, error) {
			a := pauseAll
			a.Until = farFuture
			return s.RecordAction(a, map[string]ToolRecord{"a": forgiven})
		}, "encoding action 1"},
		{"an action without a kind", func(s *Store) (Action, error) {
			return s.RecordAction(Action{Who: "alice", At: t0}, map[string]ToolRecord{"a": forgiven})
		}, "without a kind"},
		{"an action naming the empty tool", func(s *Store) (Action, error) {
			return s.RecordAction(Action{Kind: ActionRetry, Tools: []string{"a", ""}}, nil)
		}, "empty tool name"},
		{"a closed store", func(s *Store) (Action, error) {
			s.Close()
			return s.RecordAction(forgetA, map[string]ToolRecord{"a": forgiven})
		}, "not open"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.db")
			s := openT(t, path, Options{})
			before := map[string]ToolRecord{"a": sampleRecord(0), "b": sampleRecord(1)}
			commitT(t, s, Changes{At: t0, Put: before})

			got, err := tt.act(s)
			s.Close()
			s = openT(t, path, Options{})
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				want := map[string]ToolRecord{"a": forgiven, "b": sampleRecord(1)}
				if h := historiesT(t, s); !reflect.DeepEqual(h, want) {
					t.Errorf("histories %+v\nwant %+v", h, want)
				}
				if a := actionsT(t, s); !reflect.DeepEqual(a, []Action{got}) || got.ID != 1 {
					t.Errorf("actions %+v, want [%+v] with ID 1", a, got)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), path) {
				t.Fatalf("error %v, want one naming %s and saying %q", err, path, tt.wantErr)
			}
			if h := historiesT(t, s); !reflect.DeepEqual(h, before) {
				t.Errorf("a refused action changed the histories: %+v", h)
			}
			if a := actionsT(t, s); len(a) != 0 {
				t.Errorf("a refused action was stored: %+v", a)
			}
			if next := recordT(t, s, resume, nil); next.ID != 1 {
				t.Errorf("the next action got ID %d: the refused one used up an ID", next.ID)
			}
		})
	}
}

func TestRecordActionOnReadOnlyStoreRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	openT(t, path, Options{}).Close()
	before := fileSum(t, path)
	ro := openT(t, path, Options{ReadOnly: true})
	_, err := ro.RecordAction(pauseAll, map[string]ToolRecord{"a": {}})
	if err == nil || !strings.Contains(err.Error(), "read-only") || !strings.Contains(err.Error(), path) {
		t.Errorf("RecordAction on a read-only store: %v, want a refusal naming the file", err)
	}
	ro.Close()
	if fileSum(t, path) != before {
		t.Error("a refused RecordAction changed the file")
	}
}

// TestCommitActions: a cycle marks actions seen or ended and prunes them,
// with the rest of its changes, all or nothing.
func TestCommitActions(t *testing.T) {
	seen := withID(pauseAll, 1)
	seen.Seen = t0.Add(time.Minute)
	ended := withID(forgetA, 2)
	ended.Seen, ended.Ended, ended.EndedBecause = t0.Add(time.Minute), t0.Add(time.Minute), "forgotten"

	tests := []struct {
		name     string
		recorded []Action // recorded first, IDs from 1
		commit   Changes
		want     []Action // afterwards
		wantErr  string
	}{
		{"marked seen and ended", []Action{pauseAll, forgetA}, Changes{Actions: []Action{seen, ended}},
			[]Action{seen, ended}, ""},
		{"pruned, unknown IDs ignored", []Action{pauseAll, forgetA, retryAB},
			Changes{DeleteActions: []uint64{1, 3, 42, 0}}, []Action{withID(forgetA, 2)}, ""},
		{"replaced then deleted: gone", []Action{pauseAll, forgetA},
			Changes{Actions: []Action{seen}, DeleteActions: []uint64{1}}, []Action{withID(forgetA, 2)}, ""},
		{"an unknown ID refuses the whole commit", []Action{pauseAll},
			Changes{Actions: []Action{seen, withID(retryAB, 7)}, DeleteActions: []uint64{1}},
			[]Action{withID(pauseAll, 1)}, "replacing action 7"},
		{"ID 0 is never stored", []Action{pauseAll}, Changes{Actions: []Action{retryAB}},
			[]Action{withID(pauseAll, 1)}, "replacing action 0"},
		{"no action ever recorded", nil, Changes{Actions: []Action{seen}}, nil, "replacing action 1"},
		{"pruning a file without actions", nil, Changes{DeleteActions: []uint64{1}}, nil, ""},
		{"an action that cannot be encoded", []Action{pauseAll},
			Changes{Actions: []Action{withID(Action{Kind: ActionPause, Until: farFuture}, 1)}},
			[]Action{withID(pauseAll, 1)}, "encoding action 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openT(t, filepath.Join(t.TempDir(), "state.db"), Options{})
			commitT(t, s, Changes{At: t0, Put: map[string]ToolRecord{"a": sampleRecord(0)}})
			for _, a := range tt.recorded {
				recordT(t, s, a, nil)
			}
			tt.commit.At = t0.Add(time.Hour)
			tt.commit.Put = map[string]ToolRecord{"a": {}, "new": {}}
			err := s.Commit(tt.commit)
			if got := actionsT(t, s); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("actions afterwards %+v\nwant %+v", got, tt.want)
			}
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if h := historiesT(t, s); len(h) != 2 {
					t.Errorf("the rest of the commit was not applied: %+v", h)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want %q", err, tt.wantErr)
			}
			if strings.HasPrefix(tt.wantErr, "replacing") && !errors.Is(err, ErrUnknownAction) {
				t.Errorf("error %v does not match ErrUnknownAction", err)
			}
			if h := historiesT(t, s); !reflect.DeepEqual(h, map[string]ToolRecord{"a": sampleRecord(0)}) {
				t.Errorf("a refused commit changed the histories: %+v", h)
			}
			if m, _ := s.Meta(); !m.LastCycle.Equal(t0) {
				t.Errorf("a refused commit moved LastCycle to %s", m.LastCycle)
			}
		})
	}
}

// TestActionIDsNeverGivenTwice: pruning every action, or a rollback and
// upgrade, does not restart the numbering, so "action 2" in a log names one
// action only.
func TestActionIDsNeverGivenTwice(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s := openT(t, path, Options{})
	recordT(t, s, pauseAll, nil)
	recordT(t, s, resume, nil)
	commitT(t, s, Changes{DeleteActions: []uint64{1, 2}})
	if got := recordT(t, s, forgetA, nil); got.ID != 3 {
		t.Errorf("after pruning all, the next action got ID %d, want 3", got.ID)
	}
	s.Close()

	before := dump(t, path)
	if _, err := MigrateDown(path, 0, Options{}); err != nil {
		t.Fatal(err)
	}
	if got := filterPrefix(dump(t, path), "actions/"); !slices.Equal(got, filterPrefix(before, "actions/")) || len(got) != 1 {
		t.Errorf("migrating down to schema 0 changed the actions: %q, were %q", got, filterPrefix(before, "actions/"))
	}
	s = openT(t, path, Options{}) // migrates up again
	if got := actionsT(t, s); !reflect.DeepEqual(got, []Action{withID(forgetA, 3)}) {
		t.Errorf("actions after down and up: %+v", got)
	}
	if got := recordT(t, s, retryAB, nil); got.ID != 4 {
		t.Errorf("after down and up, the next action got ID %d, want 4", got.ID)
	}
}

// TestOlderFilesGainActions: a file from before admin actions has none, and
// the first action adds their bucket without touching its schema or its
// histories.
func TestOlderFilesGainActions(t *testing.T) {
	files := []struct {
		name string
		file func(t *testing.T) string
	}{
		{"schema 0 (fixture)", func(t *testing.T) string { return copyFixture(t, "schema-0.db") }},
		{"schema 1, from the release before actions", func(t *testing.T) string {
			path := filepath.Join(t.TempDir(), "state.db")
			rawBolt(t, path, func(tx *bolt.Tx) error {
				meta, _ := tx.CreateBucket(bucketMeta)
				tools, _ := tx.CreateBucket(bucketTools)
				meta.Put(keySchema, []byte("1"))
				meta.Put(keyLastCycle, []byte("2025-03-14T09:26:00Z"))
				return tools.Put([]byte("mytool"), []byte(fixtureRecord))
			})
			return path
		}},
	}
	for _, f := range files {
		t.Run(f.name, func(t *testing.T) {
			path := f.file(t)
			ro := openT(t, path, Options{ReadOnly: true})
			if got := actionsT(t, ro); len(got) != 0 {
				t.Errorf("read-only: actions %+v in a file from before them", got)
			}
			ro.Close()

			s := openT(t, path, Options{})
			if got := actionsT(t, s); len(got) != 0 {
				t.Errorf("actions %+v in a file from before them", got)
			}
			before := historiesT(t, s)
			if got := recordT(t, s, forgetA, nil); got.ID != 1 {
				t.Errorf("first action got ID %d", got.ID)
			}
			s.Close()

			ro = openT(t, path, Options{ReadOnly: true})
			if m, err := ro.Meta(); err != nil || m.Schema != SchemaVersion {
				t.Errorf("schema after the first action: %+v, %v; want %d", m, err, SchemaVersion)
			}
			if got := actionsT(t, ro); !reflect.DeepEqual(got, []Action{withID(forgetA, 1)}) {
				t.Errorf("actions %+v", got)
			}
			if h := historiesT(t, ro); !reflect.DeepEqual(h, before) || len(h["mytool"].Attempts) != 1 {
				t.Errorf("histories %+v, were %+v", h, before)
			}
		})
	}
}

// TestReadersSeeActions: the status command, opening read-only while the
// daemon is between cycles, sees what the admin commands recorded, from
// several readers at once.
func TestReadersSeeActions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s := openT(t, path, Options{})
	want := []Action{recordT(t, s, pauseAll, nil), recordT(t, s, retryAB, map[string]ToolRecord{"a": {}})}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	const readers = 4
	got := make([][]Action, readers)
	errs := make([]error, readers)
	var wg sync.WaitGroup
	for i := range readers {
		wg.Go(func() {
			ro, err := Open(path, Options{ReadOnly: true, LockTimeout: 5 * time.Second})
			if err != nil {
				errs[i] = err
				return
			}
			defer ro.Close()
			got[i], errs[i] = ro.Actions()
		})
	}
	wg.Wait()
	for i := range readers {
		if errs[i] != nil || !reflect.DeepEqual(got[i], want) {
			t.Errorf("reader %d: %+v, %v; want %+v", i, got[i], errs[i], want)
		}
	}
}

// TestUnreadableActionIsConfined: an action that does not decode is named,
// the others still come back, the histories and the cycle's commit are
// unaffected, the file is not "damaged" (no reset), and deleting the
// action by the ID the error names clears it.
func TestUnreadableActionIsConfined(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s := openT(t, path, Options{})
	commitT(t, s, Changes{At: t0, Put: map[string]ToolRecord{"a": sampleRecord(0)}})
	for _, a := range []Action{pauseAll, forgetA, retryAB, release3, resume} {
		recordT(t, s, a, nil)
	}
	s.Close()
	rawBolt(t, path, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketActions)
		b.Put(actionKey(2), []byte(`{"id":2,"kind":["not","a","kind"]}`))
		b.Put(actionKey(3), []byte(`{"id":30,"kind":"retry"}`)) // not the ID it is stored as
		b.Put([]byte("junk"), []byte(`{}`))
		_, err := b.CreateBucket(actionKey(6))
		return err
	})

	s = openT(t, path, Options{})
	got, err := s.Actions()
	var unreadable *UnreadableActionsError
	if !errors.Is(err, ErrUnreadableAction) || !errors.As(err, &unreadable) {
		t.Fatalf("Actions error %v, want ErrUnreadableAction", err)
	}
	for _, say := range []string{path, "action 2:", "action 3:", "says it is action 30", `action key "junk"`, "action 6: is a bucket"} {
		if !strings.Contains(err.Error(), say) {
			t.Errorf("error does not say %q: %v", say, err)
		}
	}
	if !slices.Equal(unreadable.IDs, []uint64{2, 3, 6}) {
		t.Errorf("unreadable IDs %v, want [2 3 6]", unreadable.IDs)
	}
	if want := []Action{withID(pauseAll, 1), withID(release3, 4), withID(resume, 5)}; !reflect.DeepEqual(got, want) {
		t.Errorf("readable actions %+v\nwant %+v", got, want)
	}
	if h := historiesT(t, s); len(h) != 1 {
		t.Errorf("histories %+v", h)
	}
	s.Close()
	if _, err := ResetHistory(path, t0, Options{}); !errors.Is(err, ErrNothingToReset) {
		t.Errorf("ResetHistory of a file with an unreadable action: %v, want ErrNothingToReset", err)
	}

	s = openT(t, path, Options{})
	commitT(t, s, Changes{At: t0.Add(time.Hour), Put: map[string]ToolRecord{"b": {}}, DeleteActions: unreadable.IDs})
	if _, err := s.Actions(); err == nil || strings.Contains(err.Error(), "action 2") || !strings.Contains(err.Error(), "junk") {
		t.Errorf("after deleting the unreadable IDs: %v, want only the key that is no ID", err)
	}
}

func filterPrefix(lines []string, prefix string) []string {
	var out []string
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return out
}
