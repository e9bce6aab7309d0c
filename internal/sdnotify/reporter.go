package sdnotify

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"webservicemonitor/monitor"
)

// Reporter tells systemd how the daemon's loop goes, as one of the cycle's
// reporters: the start of each cycle and each step of progress feed the
// watchdog's judgement, READY=1 follows the first complete cycle, and a
// STATUS= line follows each.
type Reporter struct {
	notifier *Notifier
	watchdog *Watchdog
	ready    sync.Once
}

// NewReporter reports to systemd through n, judging the loop with w.
func NewReporter(n *Notifier, w *Watchdog) *Reporter {
	return &Reporter{notifier: n, watchdog: w}
}

// Name names the reporter in the log.
func (r *Reporter) Name() string { return "systemd" }

// CycleStarted marks the loop busy with a cycle.
func (r *Reporter) CycleStarted(time.Time) { r.watchdog.CycleStarted() }

// Progress marks a step of the cycle done (a restart ended, a line written).
func (r *Reporter) Progress() { r.watchdog.Progress() }

// Report marks the cycle ended and tells systemd; the daemon is ready once
// its first cycle has run: a supervisor that cannot complete one is not up,
// whatever its process says.
func (r *Reporter) Report(ctx context.Context, rep monitor.Report, cycleErr error) error {
	r.watchdog.CycleEnded()
	status := "STATUS=" + StatusLine(rep, cycleErr)
	first := false
	r.ready.Do(func() { first = true })
	if !first {
		if err := r.notifier.Notify(ctx, status); err != nil {
			return fmt.Errorf("notifying systemd: %w", err)
		}
		return nil
	}
	err := r.notifier.Notify(ctx, "READY=1", status)
	r.watchdog.Ready()
	if err != nil {
		return fmt.Errorf("telling systemd the daemon is ready: %w", err)
	}
	return nil
}

// StatusLine is what `systemctl status` shows after each cycle.
func StatusLine(rep monitor.Report, err error) string {
	s := rep.Summary()
	line := fmt.Sprintf("cycle at %s: %d desired, %d up, %d restarted, %d given up",
		rep.Started.Format(time.TimeOnly), s["desired"], s[string(monitor.ActionNone)], len(rep.Results), s[string(monitor.ActionGiveUp)])
	var failed []string
	for _, src := range rep.Sources {
		if src.Err != nil {
			failed = append(failed, src.Name)
		}
	}
	if len(failed) > 0 {
		line += "; failed sources: " + strings.Join(failed, ", ")
	}
	if err != nil {
		line += "; " + err.Error()
	}
	return strings.ReplaceAll(line, "\n", " ")
}
