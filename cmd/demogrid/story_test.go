package main

import (
	"encoding/json"
	"os"
	"testing"

	"webservicemonitor/state"
)

// The story's steps read what `status --output json` prints; the fixture
// is that output for alpha and echo at the end of a real demo run: the
// pause over, echo's failures forgiven and its new restart succeeded.
func TestStatusReportReadsStatusOutput(t *testing.T) {
	data, err := os.ReadFile("testdata/status-after-pause-and-forget.json")
	if err != nil {
		t.Fatal(err)
	}
	var r statusReport
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatalf("reading the status output: %v", err)
	}
	tests := []struct {
		tool        string
		lastOutcome state.Outcome
		attempts    int
		paused      bool
	}{
		{tool: "alpha", lastOutcome: state.OutcomeSucceeded, attempts: 1, paused: true},
		{tool: "echo", lastOutcome: state.OutcomeSucceeded, attempts: 4, paused: true},
		{tool: "zulu", lastOutcome: "", attempts: 0, paused: false}, // not in the output
	}
	for _, tt := range tests {
		t.Run(tt.tool, func(t *testing.T) {
			tr := r.tool(tt.tool)
			if got := tr.lastOutcome(); got != tt.lastOutcome {
				t.Errorf("lastOutcome() = %q, want %q", got, tt.lastOutcome)
			}
			if len(tr.Attempts) != tt.attempts {
				t.Errorf("%d attempts, want %d", len(tr.Attempts), tt.attempts)
			}
			p, ok := tr.action(state.ActionPause)
			if ok != tt.paused {
				t.Fatalf("action(pause) found = %v, want %v", ok, tt.paused)
			}
			if ok && (p.Seen.IsZero() || p.Ended.IsZero() || p.Who != demoAdmin) {
				t.Errorf("pause = %+v, want seen and ended, by %s", p, demoAdmin)
			}
		})
	}
}

// An action of another kind is not the one asked for; of two of a kind,
// the latest is.
func TestToolReportActionIsTheLatestOfItsKind(t *testing.T) {
	tr := toolReport{Actions: []state.Action{
		{ID: 1, Kind: state.ActionPause},
		{ID: 2, Kind: state.ActionForget},
		{ID: 3, Kind: state.ActionPause},
	}}
	if a, ok := tr.action(state.ActionPause); !ok || a.ID != 3 {
		t.Errorf("action(pause) = %d, %v; want 3, true", a.ID, ok)
	}
	if _, ok := tr.action(state.ActionRetry); ok {
		t.Error("action(retry) found, want none")
	}
}
