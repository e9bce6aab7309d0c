package state

import (
	"encoding/json"
	"slices"
	"testing"
	"time"
)

// TestEncodeRecordsIsTheFilesEncoding: another store gets the tools sorted
// and the very bytes Commit stores.
func TestEncodeRecordsIsTheFilesEncoding(t *testing.T) {
	at := time.Date(2026, 11, 30, 4, 0, 0, 0, time.UTC)
	put := map[string]ToolRecord{
		"b": {UpSince: at},
		"a": {Attempts: []Attempt{{At: at, Outcome: OutcomeStarted, Reason: "down <5m>"}}},
	}
	tools, encoded, err := EncodeRecords(put)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(tools, []string{"a", "b"}) {
		t.Fatalf("tools %v, want sorted [a b]", tools)
	}
	_, want, err := encodePut(put)
	if err != nil {
		t.Fatal(err)
	}
	for i := range tools {
		if string(encoded[i]) != string(want[i]) {
			t.Errorf("record of %s encoded as %s, the file stores %s", tools[i], encoded[i], want[i])
		}
		var back ToolRecord
		if err := json.Unmarshal(encoded[i], &back); err != nil {
			t.Errorf("record of %s does not decode: %v", tools[i], err)
		}
	}
	if _, _, err := EncodeRecords(map[string]ToolRecord{"": {}}); err == nil {
		t.Error("a record with an empty tool name was encoded")
	}
}

func TestEncodeActionsRefusesWhatNoCommandMeans(t *testing.T) {
	if _, err := EncodeActions([]Action{{ID: 1, Kind: ActionPause, Tools: []string{""}}}); err == nil {
		t.Error("an action naming an empty tool was encoded")
	}
	if err := CheckAction(Action{}); err == nil {
		t.Error("an action without a kind passed")
	}
	if _, err := EncodeActions([]Action{{ID: 1, Kind: ActionRetry, Tools: []string{"x"}}}); err != nil {
		t.Errorf("a retry of x: %v", err)
	}
}
