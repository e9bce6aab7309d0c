package main

// The parts of a cycle, built from the configuration. The cycle itself
// (monitor.Cycle) shows how they are composed.

import (
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"webservicemonitor/internal/accounts"
	"webservicemonitor/internal/config"
	"webservicemonitor/internal/errorlog"
	"webservicemonitor/internal/servicelog"
	"webservicemonitor/monitor"
	"webservicemonitor/sources/manifest"
	"webservicemonitor/sources/proxy"
	"webservicemonitor/sources/qstat"
)

// newParts returns what every mode's cycle is made of: the sources, the
// policy and the clock. The history, the restarter and the reporters
// depend on the mode.
func newParts(cfg *config.Config, log zerolog.Logger) monitor.Parts {
	// Cached either way: a cycle looks up every tool's account.
	resolver := accounts.NewNSS(cfg.AccountCacheTTL, time.Minute, time.Now)
	if cfg.PasswdFile != "" {
		resolver = accounts.NewCache(accounts.NewPasswdFile(cfg.PasswdFile), cfg.AccountCacheTTL, time.Minute, time.Now)
	}
	return monitor.Parts{
		Manifests: &manifest.Scanner{
			Root: cfg.Homes, Project: cfg.Project, MinUID: cfg.MinUID, Accounts: resolver,
			WebTypes: cfg.WebTypes, Releases: cfg.Releases, DefaultRelease: cfg.DefaultRelease, Concurrency: cfg.ManifestWorkers, Timeout: cfg.ManifestTimeout,
		},
		Grid: &qstat.Source{
			Argv: cfg.Qstat, Timeout: cfg.QstatTimeout, MaxOutput: cfg.QstatMaxOutput, Location: time.Local,
		},
		Proxy: &proxy.Source{
			ActiveProxyFile: cfg.ActiveProxyFile, URLTemplate: cfg.ProxyListURL,
			Timeout: cfg.ProxyTimeout, Retries: cfg.ProxyRetries,
		},
		Causes: newCauses(cfg, log),
		// A reporter that has not finished by then is left behind, before
		// the watchdog would take the whole loop for hung (stallTimeout).
		ReportTimeout: longestStep(cfg),
		Policy:        newPolicy(cfg),
		Now:           time.Now,
		Log:           log,
	}
}

// Bounds on what is read to say why a restart was not seen up.
const (
	jobDetailMaxOutput = 1 << 20 // qstat -j of one job: a few KiB
	errorLogTailBytes  = 8 << 10
	errorLogTailLines  = 5
)

// newCauses looks where the platform leaves why a restarted tool did not
// come up: SGE's error reason of its job (qstat -j) and its error.log.
func newCauses(cfg *config.Config, log zerolog.Logger) monitor.CauseFinder {
	reasons := qstat.JobReasons{Argv: cfg.QstatJob, Timeout: cfg.QstatTimeout, MaxOutput: jobDetailMaxOutput}
	tailer, err := errorlog.NewTailer(errorLogTailBytes, errorLogTailLines)
	if err != nil {
		panic(err) // constant bounds: a programming error
	}
	return monitor.JobCauses{ErrorReason: reasons.ErrorReason, ErrorLogTail: tailer.Tail, Log: log}
}

func newPolicy(cfg *config.Config) monitor.Policy {
	return monitor.Policy{
		Budget:            cfg.Budget,
		Window:            cfg.Window,
		BackoffInitial:    cfg.BackoffInitial,
		BackoffMax:        cfg.BackoffMax,
		Jitter:            monitor.BackoffJitter,
		ResetAfter:        cfg.ResetAfter,
		RegistrationGrace: cfg.RegistrationGrace,
		PendingTooLong:    cfg.PendingTimeout,
		UpTimeout:         cfg.UpTimeout,
		DeletingTooLong:   cfg.DeletingTooLong,
		Retention:         max(cfg.Retention, cfg.Window),
		ValveMin:          cfg.ValveMin,
		ValveFraction:     cfg.ValveFraction,
		ValveAllow:        cfg.ValveAllow,
	}
}

// newAuditCycle composes the read-only audit: the cycle with no restarter
// and the history read-only, from the state file or, with cl, from etcd
// (the cycle then names the leader). It is also a standby's cycle.
func newAuditCycle(cfg *config.Config, log zerolog.Logger, cl *cluster, reporters ...monitor.Reporter) (*monitor.Cycle, error) {
	parts := newParts(cfg, log)
	parts.History = monitor.StateFileHistory{Path: cfg.StateFile, LockWait: cfg.StateLockWait, ReadOnly: true}
	if cl != nil {
		cl.watch(cfg, &parts)
	}
	parts.Reporters = reporters
	return monitor.NewCycle(parts)
}

// newDaemonCycles composes the daemon's cycles: the acting one and, when
// this host is one of a cluster, the standby's, run while another host
// leads. The standby's reporters leave out the tools' service.log, which
// the leader writes.
func newDaemonCycles(cfg *config.Config, log zerolog.Logger, reporters []monitor.Reporter, watchdog monitor.ProgressObserver, cl *cluster) (monitor.Cycles, error) {
	acting, err := newActingCycle(cfg, log, reporters, watchdog, cl)
	if err != nil || cl == nil {
		return monitor.Cycles{Acting: acting}, err
	}
	standby, err := newAuditCycle(cfg, log, cl, reporters...)
	if err != nil {
		return monitor.Cycles{}, fmt.Errorf("composing the standby's cycle: %w", err)
	}
	return monitor.Cycles{Acting: acting, Standby: standby}, nil
}

// newActingCycle composes the cycle of the daemon and of --once: the state
// file's history (etcd's, fenced on the leadership, when this host is one
// of a cluster), the restart command, and first among the reporters the
// tools' service.log (each line is progress for the watchdog, when there
// is one).
func newActingCycle(cfg *config.Config, log zerolog.Logger, reporters []monitor.Reporter, watchdog monitor.ProgressObserver, cl *cluster) (*monitor.Cycle, error) {
	parts := newParts(cfg, log)
	parts.History = monitor.StateFileHistory{Path: cfg.StateFile, LockWait: cfg.StateLockWait}
	if cl != nil {
		cl.share(cfg, &parts)
	}
	parts.Restarter = &monitor.Restarter{
		Template: cfg.RestartCommand, ClearTemplate: cfg.ClearCommand,
		Parallel: cfg.RestartParallel, Timeout: cfg.RestartTimeout, Now: time.Now,
	}
	toolLog := monitor.ToolLogReporter{Out: servicelog.NewWriter(time.Now), Log: log}
	if watchdog != nil {
		toolLog.Progress = watchdog.Progress
	}
	parts.Reporters = append([]monitor.Reporter{toolLog}, reporters...)
	return monitor.NewCycle(parts)
}
