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
//
// On one host of several sharing the history, Role chooses at each tick
// between the acting Cycle (this host leads) and the Standby's read-only
// one, and each win (Gained) runs a cycle at once rather than at the next
// tick: the takeover is the lease plus one cycle, not plus an interval.
type Daemon struct {
	Cycle *Cycle
	// Standby is the cycle run while another host leads: it records and
	// restarts nothing. Required with Role.
	Standby *Cycle
	// Role is this host's part among several; nil on a single host, which
	// always runs Cycle.
	Role Role
	// Gained, when set, is signalled each time this host wins.
	Gained        <-chan struct{}
	Interval      time.Duration
	ShutdownGrace time.Duration // restarts in flight get this long after shutdown begins

	// next is the cycles a reload put in place of Cycle and Standby, taken
	// up by the next cycle to start; a cycle running keeps its own.
	next atomic.Pointer[Cycles]
}

// Cycles are the daemon's two cycles, as a reload replaces them together.
type Cycles struct {
	Acting  *Cycle
	Standby *Cycle // nil on a single host
}

// Swap makes c the cycles from the next one on (a configuration reload).
func (d *Daemon) Swap(c Cycles) { d.next.Store(&c) }

// current is the cycle to run now, and whether it is the acting one.
func (d *Daemon) current() (*Cycle, bool) {
	if c := d.next.Swap(nil); c != nil {
		// only the scheduler's one job reads and writes them
		d.Cycle, d.Standby = c.Acting, c.Standby
	}
	if d.leading() {
		return d.Cycle, true
	}
	return d.Standby, false
}

func (d *Daemon) leading() bool { return d.Role == nil || d.Role.Leading() }

// tick runs the cycle the role calls for. A host that won while its
// standby cycle ran acts at once after it: the win's own immediate cycle
// was skipped, as cycles never overlap.
func (d *Daemon) tick(ctx, kill context.Context) error {
	c, acting := d.current()
	_, err := c.Run(ctx, kill)
	if !acting && ctx.Err() == nil && !fatal(err) {
		if c, acting = d.current(); acting {
			_, err = c.Run(ctx, kill)
		}
	}
	return err
}

// runOnGain runs job at once each time this host wins, until ctx is done.
func (d *Daemon) runOnGain(ctx context.Context, job gocron.Job) {
	if d.Gained == nil {
		return
	}
	log := d.Cycle.Log // read before the job may replace the cycle
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-d.Gained:
				// Refused while a cycle runs (singleton mode): tick acts
				// right after a standby cycle that saw the win.
				if err := job.RunNow(); err != nil {
					log.Debug().Err(err).Msg("no immediate cycle on winning the leadership")
				}
			}
		}
	}()
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

	if d.Role != nil && d.Standby == nil {
		return errors.New("a daemon with a role needs a standby cycle")
	}
	stop := make(chan error, 1)
	sched, err := gocron.NewScheduler(gocron.WithStopTimeout(d.ShutdownGrace + schedulerStopSlack))
	if err != nil {
		return fmt.Errorf("creating scheduler: %w", err)
	}
	job, err := sched.NewJob(
		gocron.DurationJob(d.Interval),
		gocron.NewTask(func() {
			if ctx.Err() != nil {
				return
			}
			if err := d.tick(ctx, kill); fatal(err) {
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
	d.runOnGain(ctx, job)
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
