package monitor

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"webservicemonitor/state"
)

// ToolLog tells a tool what the supervisor did, in its service.log.
type ToolLog interface {
	Append(ctx context.Context, home string, uid, gid int, line string) error
}

// Bounds on a cycle's service.log lines: a hung NFS home must not stall
// the report for every other tool. Lines are written a few at a time, each
// within ServiceLogLineTimeout, all within ServiceLogCycleDeadline: a hung
// home costs at most that, whatever the number of tools.
const (
	ServiceLogLineTimeout   = 5 * time.Second
	ServiceLogCycleDeadline = 15 * time.Second
	serviceLogWorkers       = 8
)

// ToolLogReporter writes one service.log line per restart and per change
// into a refusal, in the words of the decision's reason. A line that cannot
// be written is logged and never stops the others.
type ToolLogReporter struct {
	Out ToolLog
	// Progress, when set, is told of each line written (the systemd
	// watchdog: a thousand lines are a busy loop, not a hung one). A line
	// that failed is no progress.
	Progress func()
	Log      zerolog.Logger
}

// Name names the reporter in the log.
func (ToolLogReporter) Name() string { return "service.log" }

// toolLineJob is one tool's lines, written in their order by one worker.
type toolLineJob struct {
	d     Decision
	lines []string
}

// Report writes the cycle's lines. After a cycle that could not act the
// history is unknown, and with it what the tools were already told: nothing
// is written.
func (t ToolLogReporter) Report(ctx context.Context, rep Report, cycleErr error) error {
	if cycleErr != nil {
		return nil
	}
	jobs := t.lines(rep)
	if len(jobs) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, ServiceLogCycleDeadline)
	defer cancel()
	queue := make(chan toolLineJob)
	var wg sync.WaitGroup
	var unwritten, total atomic.Int64
	for range min(serviceLogWorkers, len(jobs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range queue {
				for _, line := range j.lines {
					total.Add(1)
					if !t.append(ctx, j.d, line) {
						unwritten.Add(1)
					}
				}
			}
		}()
	}
	for _, j := range jobs {
		queue <- j
	}
	close(queue)
	wg.Wait()
	if n := unwritten.Load(); n > 0 {
		return fmt.Errorf("%d of %d service.log lines not written (each is logged)", n, total.Load())
	}
	return nil
}

// lines are what the tools hear about this cycle.
func (t ToolLogReporter) lines(rep Report) []toolLineJob {
	results := make(map[string]Result, len(rep.Results))
	for _, r := range rep.Results {
		if r.Started() { // a restart that never started is not the tool's news
			results[r.Tool] = r
		}
	}
	cleared := make(map[string][]ClearResult)
	for _, c := range rep.Cleared {
		cleared[c.Tool] = append(cleared[c.Tool], c)
	}
	admin := adminLines(rep)
	var jobs []toolLineJob
	for _, d := range rep.Plan.Decisions {
		if d.Home == "" || d.Account == "" {
			continue // no verified owner to write as
		}
		lines := append(admin[d.Tool], toolLines(d, results, cleared[d.Tool], rep.DryRun)...)
		if len(lines) > 0 {
			jobs = append(jobs, toolLineJob{d: d, lines: lines})
		}
	}
	return jobs
}

// append writes one line and says whether it was written.
func (t ToolLogReporter) append(ctx context.Context, d Decision, line string) bool {
	actx, cancel := context.WithTimeout(ctx, ServiceLogLineTimeout)
	err := t.Out.Append(actx, d.Home, d.UID, d.GID, line)
	cancel()
	if err != nil {
		t.Log.Warn().Err(err).Str("tool", d.Tool).Msg("could not write service.log")
		return false
	}
	if t.Progress != nil {
		t.Progress()
	}
	return true
}

// adminLines are, by tool, the admin actions naming it that this cycle
// acted on first: one line each. (One for the whole platform concerns no
// tool in particular: the log tells of it.)
func adminLines(rep Report) map[string][]string {
	if rep.DryRun {
		return nil
	}
	lines := map[string][]string{}
	for _, a := range rep.Plan.FirstSeen() {
		for _, tool := range a.Tools {
			lines[tool] = append(lines[tool], "admin action: "+ActionSentence(&a))
		}
	}
	return lines
}

// toolLines are what the tool hears about its decision, in order: its
// last restart settled, stuck jobs cleared, this cycle's restart or
// refusal.
func toolLines(d Decision, results map[string]Result, cleared []ClearResult, dryRun bool) []string {
	var lines []string
	if d.Settled != nil && !dryRun {
		lines = append(lines, settledLine(d))
	}
	for _, c := range cleared {
		lines = append(lines, clearedLine(d, c))
	}
	if r, ok := results[d.Tool]; ok {
		lines = append(lines, restartLine(d, r))
	} else if d.Notice != "" {
		lines = append(lines, noticeLine(d))
	}
	return lines
}

// settledLine tells how the tool's last restart ended. Only a restart the
// tool was seen up after is told as "restarted".
func settledLine(d Decision) string {
	a := d.Settled
	if a.Outcome == state.OutcomeSucceeded {
		return fmt.Sprintf("restarted the %s web service: %s; the restart was asked because %s", d.Web, a.Detail, a.Reason)
	}
	return fmt.Sprintf("restart of the %s web service did not bring it up: %s; the restart was asked because %s", d.Web, a.Detail, a.Reason)
}

func clearedLine(d Decision, c ClearResult) string {
	if c.Detail == "" {
		return fmt.Sprintf("removed stuck job %d (%s) beside the job that serves the %s web service", c.Job.Number, c.Job.State, d.Web)
	}
	return fmt.Sprintf("could not remove stuck job %d (%s) beside the job that serves the %s web service: %s", c.Job.Number, c.Job.State, d.Web, c.Detail)
}

func restartLine(d Decision, r Result) string {
	if r.Outcome == state.OutcomePendingVerification {
		// The reason names the jobs cleared first.
		return fmt.Sprintf("restart of the %s web service submitted, waiting for it to be seen up: %s", d.Web, d.Reason)
	}
	return fmt.Sprintf("restart of the %s web service %s: %s — because %s", d.Web, r.Outcome, r.Detail, d.Reason)
}

func noticeLine(d Decision) string {
	switch d.Action {
	case ActionHold:
		return "restart held back: " + d.Reason
	case ActionGiveUp:
		return "gave up restarting the web service: " + d.Reason
	case ActionSkip:
		return "service.manifest ignored: " + d.Reason
	}
	return d.Reason
}
