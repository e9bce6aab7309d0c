package etcdstore

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"webservicemonitor/state"
)

func TestAlertWrites(t *testing.T) {
	keys, _ := NewKeys("/p/")
	s := &Store{keys: keys}
	at := time.Date(2026, 11, 30, 4, 0, 0, 0, time.UTC)
	rec := func(name string) state.AlertRecord {
		return state.AlertRecord{Labels: map[string]string{"alertname": name}, StartsAt: at}
	}
	enc := func(r state.AlertRecord) []byte {
		v, _ := json.Marshal(r)
		return v
	}
	stored := []*kv{
		{Key: []byte("/p/alerts/same"), Value: enc(rec("same"))},
		{Key: []byte("/p/alerts/changed"), Value: enc(rec("old"))},
		{Key: []byte("/p/alerts/gone"), Value: enc(rec("gone"))},
	}
	firing := map[string]state.AlertRecord{"same": rec("same"), "changed": rec("changed"), "new": rec("new")}
	got, err := s.alertWrites(stored, firing)
	if err != nil {
		t.Fatal(err)
	}
	want := []Write{
		{Key: "/p/alerts/changed", Value: enc(rec("changed"))},
		{Key: "/p/alerts/new", Value: enc(rec("new"))},
		{Key: "/p/alerts/gone", Delete: true},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("alertWrites =\n%+v\nwant\n%+v", got, want)
	}
	if _, err := s.alertWrites(nil, map[string]state.AlertRecord{"": {}}); err == nil {
		t.Error("an alert with an empty identity was accepted")
	}
}

// TestImportWritesOrder: the held keys the dump does not overwrite (the
// import's mark never among them), then the dump.
func TestImportWritesOrder(t *testing.T) {
	keys, _ := NewKeys("/p/")
	s := &Store{keys: keys}
	at := time.Date(2026, 11, 30, 4, 0, 0, 0, time.UTC)
	d := state.Dump{
		Records:    state.Records{{Tool: "x", Record: state.ToolRecord{UpSince: at}}},
		LastCycle:  at,
		Actions:    []state.Action{{ID: 2, Kind: state.ActionPause}},
		ActionsSeq: 2,
	}
	held := []string{"/p/tools/x", "/p/tools/old", "/p/meta/import", "/p/actions-seq"}
	ws, err := s.importWrites(d, held)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range ws {
		op := "put "
		if w.Delete {
			op = "del "
		}
		got = append(got, op+w.Key)
	}
	want := []string{
		"del /p/tools/old",
		"put /p/tools/x", "put /p/actions/00000000000000000002", "put /p/actions-seq", "put /p/meta/last_cycle",
		"put /p/meta/schema",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("import writes =\n%q\nwant\n%q", got, want)
	}
}
