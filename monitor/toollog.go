package monitor

import (
	"context"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"webservicemonitor/state"
)

// ToolLog tells a tool what the supervisor did, in its service.log.
type ToolLog interface {
	Append(ctx context.Context, home string, uid, gid int, line string) error
}

// ServiceLogLineTimeout bounds each service.log line: a hung NFS home must
// not stall the report for every other tool.
const ServiceLogLineTimeout = 5 * time.Second

// ToolLogReporter writes one service.log line per restart and per change
// into a refusal, in the words of the decision's reason. A line that cannot
// be written is logged and never stops the others.
type ToolLogReporter struct {
	Out ToolLog
	// Progress, when set, is told of each line written (the systemd
	// watchdog: a thousand lines are a busy loop, not a hung one).
	Progress func()
	Log      zerolog.Logger
}

// Name names the reporter in the log.
func (ToolLogReporter) Name() string { return "service.log" }

// Report writes the cycle's lines. After a cycle that could not act the
// history is unknown, and with it what the tools were already told: nothing
// is written.
func (t ToolLogReporter) Report(ctx context.Context, rep Report, cycleErr error) error {
	if cycleErr != nil {
		return nil
	}
	results := make(map[string]Result, len(rep.Results))
	for _, r := range rep.Results {
		if r.Started() { // a restart that never started is not the tool's news
			results[r.Tool] = r
		}
	}
	for _, d := range rep.Plan.Decisions {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("writing service.log lines: %w", err)
		}
		if line := toolLine(d, results); line != "" {
			t.append(ctx, d, line)
		}
	}
	return nil
}

func (t ToolLogReporter) append(ctx context.Context, d Decision, line string) {
	actx, cancel := context.WithTimeout(ctx, ServiceLogLineTimeout)
	err := t.Out.Append(actx, d.Home, d.UID, d.GID, line)
	cancel()
	if t.Progress != nil {
		t.Progress()
	}
	if err != nil {
		t.Log.Warn().Err(err).Str("tool", d.Tool).Msg("could not write service.log")
	}
}

// toolLine is what the tool hears about its decision; "" for nothing.
func toolLine(d Decision, results map[string]Result) string {
	if d.Home == "" || d.Account == "" {
		return "" // no verified owner to write as
	}
	if r, ok := results[d.Tool]; ok {
		return restartLine(d, r)
	}
	if d.Notice != "" {
		return noticeLine(d)
	}
	return ""
}

func restartLine(d Decision, r Result) string {
	if r.Outcome == state.OutcomeSucceeded {
		return fmt.Sprintf("restarted the %s web service: %s", d.Web, d.Reason)
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
