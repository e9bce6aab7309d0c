package main

// The daemon under systemd (Type=notify, WatchdogSec=): how long the loop
// may make no progress, and the reporter that tells systemd (sdnotify).
// Nothing of it when the daemon was not started by systemd.

import (
	"context"
	"os"
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
	// A restart may first clear up to MaxClearsPerTool stuck jobs, each
	// under the restart timeout.
	restart := time.Duration(monitor.MaxClearsPerTool+1)*cfg.RestartTimeout + monitor.KillGrace
	return sources + 2*cfg.StateLockWait + max(restart, monitor.CausesDeadline)
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

// startSystemd returns the reporter that tells systemd how the loop goes,
// and starts the keep-alive loop, which ends with ctx; nil when systemd did
// not start the daemon.
func startSystemd(ctx context.Context, cfg *config.Config, log zerolog.Logger) *sdnotify.Reporter {
	socket, usec, pid := systemdEnv()
	n, err := sdnotify.New(socket)
	if err != nil {
		log.Warn().Err(err).Msg("not talking to systemd")
		return nil
	}
	if n == nil {
		return nil
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
	return sdnotify.NewReporter(n, w)
}
