package monitor

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/go-co-op/gocron/v2"

	"webservicemonitor/state"
)

// Daemon runs a Cycle every Interval, one at a time: a cycle that overruns
// its interval makes the next one start late, never alongside it.
// The cycle reports itself (its reporters: logs, metrics, alerts, the
// watchdog).
type Daemon struct {
	Cycle         *Cycle
	Interval      time.Duration
	ShutdownGrace time.Duration // restarts in flight get this long after shutdown begins

	// next is the cycle a reload put in place of Cycle, taken up by the
	// next cycle to start; a cycle running keeps its own.
	next atomic.Pointer[Cycle]
}

// Swap makes c the cycle from the next one on (a configuration reload).
func (d *Daemon) Swap(c *Cycle) { d.next.Store(c) }

// current is the cycle to run now.
func (d *Daemon) current() *Cycle {
	if c := d.next.Swap(nil); c != nil {
		d.Cycle = c // only the scheduler's one job reads and writes it
	}
	return d.Cycle
}

// schedulerStopSlack is how long past the shutdown grace the scheduler waits
// for the last cycle to record its outcomes and report.
const schedulerStopSlack = 30 * time.Second

// fatal reports whether a cycle error must stop the daemon rather than be
// retried next interval: a state file from a newer release is a rollback
// for an admin to do, and will not go away by itself.
func fatal(err error) bool { return errors.Is(err, state.ErrNewerSchema) }

// Run blocks until ctx is done or a fatal error occurs. It returns nil on a
// clean shutdown.
func (d *Daemon) Run(ctx context.Context) error {
	// kill outlives ctx by the grace period, so a SIGTERM lets restarts in
	// flight finish (or be killed) and be recorded.
	kill, cancelKill := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelKill()
	stopKill := context.AfterFunc(ctx, func() {
		t := time.NewTimer(d.ShutdownGrace)
		defer t.Stop()
		<-t.C
		cancelKill()
	})
	defer stopKill()

	stop := make(chan error, 1)
	sched, err := gocron.NewScheduler(gocron.WithStopTimeout(d.ShutdownGrace + schedulerStopSlack))
	if err != nil {
		return fmt.Errorf("creating scheduler: %w", err)
	}
	_, err = sched.NewJob(
		gocron.DurationJob(d.Interval),
		gocron.NewTask(func() {
			if ctx.Err() != nil {
				return
			}
			if _, err := d.current().Run(ctx, kill); fatal(err) {
				select {
				case stop <- err:
				default:
				}
			}
		}),
		gocron.WithName("cycle"),
		gocron.WithSingletonMode(gocron.LimitModeReschedule),
		gocron.WithStartAt(gocron.WithStartImmediately()),
	)
	if err != nil {
		return fmt.Errorf("scheduling the cycle: %w", err)
	}
	sched.Start()
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-stop:
	}
	if err := sched.Shutdown(); err != nil && !errors.Is(err, gocron.ErrStopJobsTimedOut) {
		return errors.Join(runErr, fmt.Errorf("stopping scheduler: %w", err))
	}
	return runErr
}
