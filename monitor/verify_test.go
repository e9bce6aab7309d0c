package monitor

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"webservicemonitor/sources/qstat"
	"webservicemonitor/state"
)

// awaiting is a record whose last restart, made ago, had its command exit
// 0 after took, and awaits being seen up.
func awaiting(ago, took time.Duration) state.ToolRecord {
	return state.ToolRecord{
		Attempts:    []state.Attempt{{At: t0.Add(-ago), Outcome: state.OutcomePendingVerification, Reason: "no lighttpd-a job on the grid", Duration: took}},
		BackoffStep: 1,
		DownSince:   t0.Add(-ago - time.Minute),
	}
}

// notUpBefore is a record whose last restart, made ago, was settled not-up,
// the tool down since before it.
func notUpBefore(ago time.Duration) state.ToolRecord {
	r := awaiting(ago, 10*time.Second)
	r.Attempts[0].Outcome = state.OutcomeNotUp
	return r
}

func checkClearAndSettled(t *testing.T, d Decision, tt singleToolCase) {
	t.Helper()
	var cleared []int
	for _, j := range d.Clear {
		cleared = append(cleared, j.Number)
	}
	if !slices.Equal(cleared, tt.clear) {
		t.Errorf("clear = %v, want %v", cleared, tt.clear)
	}
	var settled state.Outcome
	if d.Settled != nil {
		settled = d.Settled.Outcome
		if !strings.Contains(d.Settled.Detail, tt.settledDetail) {
			t.Errorf("settled detail %q does not contain %q", d.Settled.Detail, tt.settledDetail)
		}
		last := d.Next.Attempts[len(d.Next.Attempts)-1]
		if d.Action == ActionRestart {
			last = d.Next.Attempts[len(d.Next.Attempts)-2]
		}
		if last != *d.Settled {
			t.Errorf("next record holds %+v, the decision settled %+v", last, *d.Settled)
		}
	}
	if settled != tt.settled {
		t.Errorf("settled = %q, want %q", settled, tt.settled)
	}
}

// A restart counts when the tool is seen up: its command exiting 0 says
// only that qsub accepted the job.
func TestPlanVerifiesRestarts(t *testing.T) {
	running := []qstat.Job{job(1, "a", "lighttpd", "r")}
	queued := []qstat.Job{withJob(func(j *qstat.Job) { j.Submitted = t0.Add(-6 * time.Minute) }, job(1, "a", "lighttpd", "qw"))}
	inError := []qstat.Job{job(1, "a", "lighttpd", "Eqw")}
	testSingleTool(t, []singleToolCase{
		{name: "seen up: succeeded", jobs: running, proxy: registered("a"), history: awaiting(2*time.Minute, 10*time.Second),
			action: ActionNone, code: CodeHealthy, settled: state.OutcomeSucceeded, settledDetail: "seen up 2m0s after its restart began"},
		{name: "gone, within the up timeout: waits", proxy: registered(), history: awaiting(2*time.Minute, 10*time.Second),
			action: ActionWait, code: CodeVerifying, reason: "no lighttpd-a job on the grid; its restart began at 2026-11-21T11:58:00Z, waiting until 2026-11-21T12:03:10Z for it to be seen up"},
		{name: "running unregistered, within the up timeout: waits", jobs: running, proxy: registered(), history: awaiting(time.Minute, 0),
			action: ActionWait, code: CodeVerifying},
		{name: "gone past the up timeout: not-up, and restarted", proxy: registered(), history: awaiting(6*time.Minute, 10*time.Second),
			action: ActionRestart, code: CodeNoJob, attempts: 2,
			settled: state.OutcomeNotUp, settledDetail: "not up within 5m0s after the restart command returned: no lighttpd-a job on the grid"},
		{name: "in error past the up timeout: not-up, cleared and restarted", jobs: inError, proxy: registered(), history: awaiting(6*time.Minute, 10*time.Second),
			action: ActionRestart, code: CodeJobError, clear: []int{1}, reason: "clearing job 1 (Eqw) first; restart 2 of 3",
			settled: state.OutcomeNotUp, settledDetail: "job 1 (lighttpd-a) is stuck in error state Eqw"},
		{name: "queued past the up timeout: not-up, the queued job cleared and restarted", jobs: queued, proxy: registered(), history: awaiting(6*time.Minute, 10*time.Second),
			action: ActionRestart, code: CodeQueuedAfterRestart, clear: []int{1}, reason: "its last restart did not bring it up",
			settled: state.OutcomeNotUp, settledDetail: "is pending (qw) for 6m0s"},
		{name: "still queued after a not-up restart, in backoff: held", jobs: queued, proxy: registered(), history: notUpBefore(time.Minute),
			action: ActionHold, code: CodeBackoff},
		{name: "queued, not after a restart: waits", jobs: queued, proxy: registered(), action: ActionWait, code: CodePending},
		{name: "grid unknown: settles nothing", gridErr: errors.New("qstat exit 1"), proxy: registered(), history: awaiting(6*time.Minute, 0),
			action: ActionWait, code: CodeGridUnknown},
		{name: "last not-up restart spends the budget: gives up", proxy: registered(),
			history: func() state.ToolRecord {
				r := awaiting(6*time.Minute, 0)
				r.Attempts = append(attempts(30*time.Minute, 20*time.Minute).Attempts, r.Attempts...)
				return r
			}(),
			action: ActionGiveUp, code: CodeBudgetExhausted, settled: state.OutcomeNotUp, settledDetail: "no lighttpd-a job"},
	})
}

// Stuck jobs are cleared, never piled up beside a new one.
func TestPlanClearsStuckJobs(t *testing.T) {
	deletingSince := func(ago time.Duration) state.ToolRecord { return state.ToolRecord{DownSince: t0.Add(-ago)} }
	upSince := func(ago time.Duration) state.ToolRecord {
		return state.ToolRecord{UpSince: t0.Add(-ago), LastSeenUp: t0.Add(-ago)}
	}
	testSingleTool(t, []singleToolCase{
		{name: "in error: cleared first", jobs: []qstat.Job{job(7, "a", "lighttpd", "Eqw")}, proxy: registered(),
			action: ActionRestart, code: CodeJobError, clear: []int{7}, reason: "clearing job 7 (Eqw) first"},
		{name: "being deleted, not long: waits", jobs: []qstat.Job{job(7, "a", "lighttpd", "dr")}, proxy: registered(), history: deletingSince(time.Minute),
			action: ActionWait, code: CodeJobDeleting, reason: "waiting until 2026-11-21T12:04:00Z before clearing it"},
		{name: "being deleted too long: cleared and restarted", jobs: []qstat.Job{job(7, "a", "lighttpd", "dr")}, proxy: registered(), history: deletingSince(6 * time.Minute),
			action: ActionRestart, code: CodeJobDeleting, clear: []int{7}, reason: "being deleted (dr) for 6m0s or more; clearing job 7 (dr) first"},
		{name: "unregistered with a stray in error: both named, the stray cleared",
			jobs: []qstat.Job{job(7, "a", "lighttpd", "Eqw"), job(8, "a", "lighttpd", "r")}, proxy: registered(),
			action: ActionRestart, code: CodeUnregistered, clear: []int{7}, reason: "job 8 (lighttpd-a; also job 7 in Eqw) is running (r)"},
		{name: "up beside a stray in error: the stray cleared",
			jobs: []qstat.Job{job(7, "a", "lighttpd", "Eqw"), job(8, "a", "lighttpd", "r")}, proxy: registered("a"),
			action: ActionNone, code: CodeHealthy, clear: []int{7}, reason: "clearing job 7 (Eqw), stuck beside it"},
		{name: "up beside a job just deleted: left to go",
			jobs: []qstat.Job{job(7, "a", "lighttpd", "dr"), job(8, "a", "lighttpd", "r")}, proxy: registered("a"), history: upSince(time.Minute),
			action: ActionNone, code: CodeHealthy},
		{name: "up for long beside a job stuck being deleted: cleared",
			jobs: []qstat.Job{job(7, "a", "lighttpd", "dr"), job(8, "a", "lighttpd", "r")}, proxy: registered("a"), history: upSince(time.Hour),
			action: ActionNone, code: CodeHealthy, clear: []int{7}},
		{name: "a pile of jobs in error: at most MaxClearsPerTool a cycle",
			jobs:  []qstat.Job{job(1, "a", "lighttpd", "Eqw"), job(2, "a", "lighttpd", "Eqw"), job(3, "a", "lighttpd", "Eqw"), job(4, "a", "lighttpd", "Eqw")},
			proxy: registered(), action: ActionRestart, code: CodeJobError, clear: []int{1, 2, 3}},
		{name: "held by backoff: nothing cleared", jobs: []qstat.Job{job(7, "a", "lighttpd", "Eqw")}, proxy: registered(), history: attempts(time.Minute),
			action: ActionHold, code: CodeBackoff},
	})
}
