package state

import (
	"errors"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// dumpFixture fills a fresh state file with one of everything a dump
// carries, the oldest action pruned so the numbering is ahead of the IDs.
func dumpFixture(t *testing.T, path string) Dump {
	t.Helper()
	at := time.Date(2026, 11, 30, 4, 0, 0, 123456789, time.UTC)
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var ids []uint64
	for _, kind := range []ActionKind{ActionRetry, ActionPause, ActionForget} {
		a, err := s.RecordAction(Action{Kind: kind, Tools: []string{"y"}, Who: "alice", At: at}, nil)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, a.ID)
	}
	put := map[string]ToolRecord{
		"y": {DownSince: at, Attempts: []Attempt{{At: at, Outcome: OutcomeStarted, Host: "cron-2"}}},
		"x": {UpSince: at, LastSeenUp: at},
	}
	if err := s.Commit(Changes{At: at, Put: put, DeleteActions: ids[:1]}); err != nil {
		t.Fatal(err)
	}
	alerts := map[string]AlertRecord{"a1": {Labels: map[string]string{"alertname": "Down"}, StartsAt: at}}
	if err := s.SetFiringAlerts(alerts); err != nil {
		t.Fatal(err)
	}
	d, err := s.Export()
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Records) != 2 || len(d.Actions) != 2 || d.ActionsSeq != 3 || len(d.Alerts) != 1 || !d.LastCycle.Equal(at) {
		t.Fatalf("export of the fixture = %+v", d)
	}
	return d
}

func TestDumpRoundTrip(t *testing.T) {
	dir := t.TempDir()
	want := dumpFixture(t, filepath.Join(dir, "from.db"))

	s, err := Open(filepath.Join(dir, "to.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Import(want, false); err != nil {
		t.Fatalf("import into a new file: %v", err)
	}
	got, err := s.Export()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("after import, export =\n%+v\nwant\n%+v", got, want)
	}
	// The numbering goes on where the dump left it.
	a, err := s.RecordAction(Action{Kind: ActionResume}, nil)
	if err != nil || a.ID != want.ActionsSeq+1 {
		t.Errorf("next action after import: ID %d, %v; want %d", a.ID, err, want.ActionsSeq+1)
	}

	if err := s.Import(want, false); !errors.Is(err, ErrNotEmpty) {
		t.Errorf("import into a file with history: %v, want ErrNotEmpty", err)
	}
	if err := s.Import(Dump{}, true); err != nil {
		t.Fatalf("replacing with an empty dump: %v", err)
	}
	if got, err := s.Export(); err != nil || !got.Empty() {
		t.Errorf("after replacing with nothing: %+v, %v", got, err)
	}
}

func TestDumpCheck(t *testing.T) {
	for _, tc := range []struct {
		name string
		d    Dump
		ok   bool
	}{
		{"empty", Dump{}, true},
		{"ids within the numbering", Dump{ActionsSeq: 5, Actions: []Action{{ID: 2}, {ID: 5}}}, true},
		{"id past the numbering", Dump{ActionsSeq: 1, Actions: []Action{{ID: 2}}}, false},
		{"id zero", Dump{ActionsSeq: 1, Actions: []Action{{ID: 0}}}, false},
		{"out of order", Dump{ActionsSeq: 5, Actions: []Action{{ID: 3}, {ID: 2}}}, false},
	} {
		if err := tc.d.Check(); (err == nil) != tc.ok {
			t.Errorf("%s: Check() = %v, want ok %v", tc.name, err, tc.ok)
		}
	}
}
