package monitor

import (
	"testing"
	"time"

	"webservicemonitor/state"
)

func TestRestartTracker(t *testing.T) {
	down := observation{action: ActionRestart, code: CodeNoJob, reason: "no lighttpd-a job on the grid"}
	tests := []struct {
		name    string
		history *state.ToolRecord
		budget  int
		want    restartVerdict
	}{
		{"history unreadable", nil, 3, restartVerdict{action: ActionWait, code: CodeHistoryUnknown,
			reason: "no lighttpd-a job on the grid; restart history unavailable, so not restarting"}},
		{"first restart", &state.ToolRecord{}, 3, restartVerdict{action: ActionRestart, code: CodeNoJob,
			reason: "no lighttpd-a job on the grid", attempts: 1, nextRestart: t0}},
		{"backoff running", ptr(attempts(time.Minute)), 3, restartVerdict{action: ActionHold, code: CodeBackoff,
			reason:   "no lighttpd-a job on the grid; backing off after 1 restart(s), next restart not before 2026-11-21T12:01:00Z",
			attempts: 1, nextRestart: t0.Add(time.Minute)}},
		{"backoff elapsed", ptr(attempts(3 * time.Minute)), 3, restartVerdict{action: ActionRestart, code: CodeNoJob,
			reason: "no lighttpd-a job on the grid", attempts: 2, nextRestart: t0}},
		{"backoff forgotten", ptr(state.ToolRecord{Attempts: attempts(time.Minute).Attempts}), 3,
			restartVerdict{action: ActionRestart, code: CodeNoJob, reason: "no lighttpd-a job on the grid", attempts: 2, nextRestart: t0}},
		{"budget spent", ptr(attempts(50*time.Minute, 40*time.Minute, 30*time.Minute)), 3, restartVerdict{action: ActionGiveUp,
			code:     CodeBudgetExhausted,
			reason:   "no lighttpd-a job on the grid; gave up after 3 restarts in 1h0m0s; no restart before 2026-11-21T12:10:00Z unless it comes back",
			attempts: 3, nextRestart: t0.Add(10 * time.Minute), givenUp: true}},
		{"budget of one, freed when its attempt leaves the window", ptr(attempts(50*time.Minute, 30*time.Minute)), 1,
			restartVerdict{action: ActionGiveUp, code: CodeBudgetExhausted,
				reason:   "no lighttpd-a job on the grid; gave up after 2 restarts in 1h0m0s; no restart before 2026-11-21T12:30:00Z unless it comes back",
				attempts: 2, nextRestart: t0.Add(30 * time.Minute), givenUp: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testPolicy()
			p.Budget = tt.budget
			got := restartTracker{policy: p, tool: "a", history: tt.history, now: t0}.decide(down)
			if got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}
