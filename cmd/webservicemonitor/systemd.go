package main

// Wiring of the daemon to systemd (Type=notify, WatchdogSec=): readiness
// after the first cycle, a status line per cycle, and the loop's progress
// fed to the watchdog's judgement (sdnotify.Watchdog). Nothing here when the
// daemon was not started by systemd.

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"webservicemonitor/internal/config"
	"webservicemonitor/internal/sdnotify"
	"webservicemonitor/monitor"
)

const (
	// stallSlack is added to the longest step a busy loop can take without
	// reporting progress, and to the interval between cycles.
	stallSlack = time.Minute
	// killGrace is how long a killed restart may take to be reaped
	// (monitor.Restarter's WaitDelay).
	killGrace = 5 * time.Second
	// startExtendPeriod paces the start-timeout extensions when systemd runs
	// no watchdog (WatchdogSec= unset): the first cycle still must not hang.
	startExtendPeriod = 10 * time.Second
)

// stallTimeout is how long the loop may go without progress in a cycle. A
// cycle's progress points are its start, each restart ending, each
// service.log line and its end; the longest stretch between two of them is
// the sources (read at once, each under its deadline), the state file's lock
// waits (before the plan and after the restarts) and one restart with its
// kill. Counted that way, a wave of a thousand restarts is healthy and a
// qstat hung past its own deadline is not.
func stallTimeout(cfg *config.Config) time.Duration {
	if cfg.StallTimeout > 0 {
		return cfg.StallTimeout
	}
	return longestStep(cfg) + stallSlack
}

func longestStep(cfg *config.Config) time.Duration {
	sources := max(cfg.QstatTimeout, cfg.ProxyTimeout, cfg.ManifestTimeout)
	return sources + 2*cfg.StateLockWait + cfg.RestartTimeout + killGrace
}

// systemdEnv reads what systemd passes a Type=notify service and removes it
// from the environment: the commands the daemon runs (qstat, sudo) must not
// be able to speak for it.
func systemdEnv() (socket, watchdogUSec, watchdogPID string) {
	socket, watchdogUSec, watchdogPID = os.Getenv(sdnotify.EnvSocket), os.Getenv(sdnotify.EnvWatchdogUSec), os.Getenv(sdnotify.EnvWatchdogPID)
	for _, k := range []string{sdnotify.EnvSocket, sdnotify.EnvWatchdogUSec, sdnotify.EnvWatchdogPID} {
		os.Unsetenv(k)
	}
	return
}

// attachSystemd hooks the daemon to systemd when systemd started it: it
// chains onto d's hooks (others run first) and starts the keep-alive loop,
// which ends with ctx.
func attachSystemd(ctx context.Context, cfg *config.Config, d *monitor.Daemon, log zerolog.Logger) {
	socket, usec, pid := systemdEnv()
	n, err := sdnotify.New(socket)
	if err != nil {
		log.Warn().Err(err).Msg("not talking to systemd")
		return
	}
	if n == nil {
		return
	}
	watchdog, err := sdnotify.WatchdogInterval(usec, pid, os.Getpid())
	if err != nil {
		log.Warn().Err(err).Msg("systemd watchdog ignored")
	}
	stall := stallTimeout(cfg)
	if step := longestStep(cfg); stall < step {
		log.Warn().Dur("stall_timeout", stall).Dur("longest_step", step).
			Msg("stall-timeout is shorter than the longest step of a healthy cycle: the watchdog may restart a daemon that is only slow")
	}
	w := sdnotify.NewWatchdog(stall, cfg.Interval+stallSlack, time.Now)
	log.Info().Dur("watchdog", watchdog).Dur("stall_timeout", stall).Msg("talking to systemd")

	prevStart, prevReport := d.OnCycleStart, d.OnReport
	d.OnCycleStart = func(t time.Time) {
		w.CycleStarted()
		if prevStart != nil {
			prevStart(t)
		}
	}
	var ready sync.Once
	d.OnReport = func(rep monitor.Report, err error) {
		if prevReport != nil {
			prevReport(rep, err)
		}
		w.CycleEnded()
		status := "STATUS=" + statusLine(rep, err)
		ready.Do(func() {
			// Ready once the first cycle has run: a supervisor that cannot
			// complete one is not up, whatever its process says.
			if err := n.Notify(ctx, "READY=1", status); err != nil {
				log.Warn().Err(err).Msg("could not tell systemd the daemon is ready")
			}
			w.Ready()
			status = ""
		})
		if status != "" {
			if err := n.Notify(ctx, status); err != nil {
				log.Warn().Err(err).Msg("could not notify systemd")
			}
		}
	}
	if r := d.Cycle.Restarter; r != nil {
		prevDone := r.Done
		r.Done = func(res monitor.Result) {
			w.Progress()
			if prevDone != nil {
				prevDone(res)
			}
		}
	}
	if d.Cycle.ToolLog != nil {
		d.Cycle.ToolLog = progressToolLog{inner: d.Cycle.ToolLog, progress: w.Progress}
	}

	period := watchdog / 2
	if period <= 0 {
		period = startExtendPeriod
	}
	go w.Run(ctx, n, period, log)
	context.AfterFunc(ctx, func() {
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = n.Notify(sctx, "STOPPING=1", "STATUS=stopping: restarts in flight may finish")
	})
}

// progressToolLog counts each service.log line as the loop's progress.
type progressToolLog struct {
	inner    monitor.ToolLog
	progress func()
}

func (p progressToolLog) Append(ctx context.Context, home string, uid, gid int, line string) error {
	err := p.inner.Append(ctx, home, uid, gid, line)
	p.progress()
	return err
}

// statusLine is what `systemctl status` shows after each cycle.
func statusLine(rep monitor.Report, err error) string {
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
