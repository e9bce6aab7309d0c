package monitor

import (
	"context"
	"errors"
	"fmt"
)

// reporterSlot is a reporter and whether its last report is still running:
// a reporter left behind at its deadline is skipped until it returns, so it
// never runs alongside itself.
type reporterSlot struct {
	Reporter
	idle chan struct{} // holds a token while the reporter is idle
}

func newReporterSlot(r Reporter) *reporterSlot {
	s := &reporterSlot{Reporter: r, idle: make(chan struct{}, 1)}
	s.idle <- struct{}{}
	return s
}

// ErrReporterBusy is a reporter's failure when its previous report has not
// returned yet.
var ErrReporterBusy = errors.New("still busy with an earlier cycle's report; skipped")

// report hands the report to each reporter in turn, each under
// ReportTimeout, and returns their failures. ctx is the kill context: a
// cycle cut short by a shutdown is still reported.
func (c *Cycle) report(ctx context.Context, rep Report, cycleErr error) []error {
	var failures []error
	for _, s := range c.reporters {
		if err := c.reportTo(ctx, s, rep, cycleErr); err != nil {
			err = fmt.Errorf("reporter %s: %w", reporterName(s.Reporter), err)
			c.Log.Error().Err(err).Msg("a reporter failed; the cycle goes on")
			failures = append(failures, err)
		}
	}
	return failures
}

func (c *Cycle) reportTo(ctx context.Context, s *reporterSlot, rep Report, cycleErr error) error {
	select {
	case <-s.idle:
	default:
		return ErrReporterBusy
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.ReportTimeout)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		defer func() { s.idle <- struct{}{} }()
		done <- s.Report(ctx, rep, cycleErr)
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("did not finish within %s; left behind", c.ReportTimeout)
	}
}

// reporterName names a reporter in the log: its Name, or its type.
func reporterName(r Reporter) string {
	if n, ok := r.(interface{ Name() string }); ok {
		return n.Name()
	}
	return fmt.Sprintf("%T", r)
}
