package monitor

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-co-op/gocron/v2"
)

// Daemon runs a Cycle every Interval, one at a time: a cycle that overruns
// its interval makes the next one start late, never alongside it.
type Daemon struct {
	Cycle         *Cycle
	Interval      time.Duration
	ShutdownGrace time.Duration // restarts in flight get this long after shutdown begins
	// OnCycleStart is called as each cycle begins (liveness: health checks,
	// the systemd watchdog); OnReport after it ends (logs, metrics, alerts).
	OnCycleStart func(time.Time)
	OnReport     func(Report, error)
	// Fatal reports whether a cycle error must stop the daemon (a state file
	// from a newer release, say) rather than be retried next interval.
	Fatal func(error) bool
}

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

	fatal := make(chan error, 1)
	sched, err := gocron.NewScheduler(gocron.WithStopTimeout(d.ShutdownGrace + 30*time.Second))
	if err != nil {
		return fmt.Errorf("creating scheduler: %w", err)
	}
	_, err = sched.NewJob(
		gocron.DurationJob(d.Interval),
		gocron.NewTask(func() {
			if ctx.Err() != nil {
				return
			}
			if d.OnCycleStart != nil {
				d.OnCycleStart(d.Cycle.Now())
			}
			rep, err := d.Cycle.Run(ctx, kill)
			if d.OnReport != nil {
				d.OnReport(rep, err)
			}
			if err != nil && d.Fatal != nil && d.Fatal(err) {
				select {
				case fatal <- err:
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
	case runErr = <-fatal:
	}
	if err := sched.Shutdown(); err != nil && !errors.Is(err, gocron.ErrStopJobsTimedOut) {
		return errors.Join(runErr, fmt.Errorf("stopping scheduler: %w", err))
	}
	return runErr
}
