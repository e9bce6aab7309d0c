package main

// SIGHUP re-reads the configuration, as Prometheus and Alertmanager do:
// the new one is validated completely and put in place only when valid;
// otherwise the old one stays, and the error is logged and exported.

import (
	"context"
	"io"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"webservicemonitor/internal/config"
	"webservicemonitor/internal/metrics"
	"webservicemonitor/monitor"
)

// reloader puts a new configuration's cycles in place of the daemon's.
type reloader struct {
	args    []string       // the command line the daemon was started with
	current *config.Config // the configuration in use
	daemon  *monitor.Daemon
	build   func(*config.Config) (monitor.Cycles, error)
	metrics *metrics.Metrics
	log     zerolog.Logger
}

// watch reloads on each SIGHUP until ctx is done.
func (r *reloader) watch(ctx context.Context) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-hup:
				r.reload()
			case <-ctx.Done():
				return
			}
		}
	}()
}

func (r *reloader) reload() {
	r.log.Info().Msg("SIGHUP: reloading the configuration")
	next, err := config.Load(r.args, io.Discard)
	if err == nil {
		r.keepRestartOnly(next)
		var cycles monitor.Cycles
		if cycles, err = r.build(next); err == nil {
			r.daemon.Swap(cycles)
			r.current = next
			r.metrics.SetPauseMax(next.PauseMax)
		}
	}
	r.metrics.ConfigLoaded(err == nil, time.Now())
	if err != nil {
		r.log.Error().Err(err).Msg("SIGHUP: the new configuration is refused; the old one stays in use")
		return
	}
	for _, w := range next.Warnings {
		r.log.Warn().Msg("configuration: " + w)
	}
	r.log.Info().Msg("SIGHUP: the new configuration is in use from the next cycle")
}

// keepRestartOnly keeps, in next, the settings that only a restart can
// change (the state file and its lock, etcd and the election, the pace,
// the listener, alerting, logging, memory), and says which ones differed.
func (r *reloader) keepRestartOnly(next *config.Config) {
	old := r.current
	var ignored []string
	keep := func(key string, differs bool, restore func()) {
		if differs {
			ignored = append(ignored, key)
			restore()
		}
	}
	keep("state-file", next.StateFile != old.StateFile, func() { next.StateFile = old.StateFile })
	keep("state-lock-wait", next.StateLockWait != old.StateLockWait, func() { next.StateLockWait = old.StateLockWait })
	keep("etcd-endpoints", !slices.Equal(next.EtcdEndpoints, old.EtcdEndpoints), func() { next.EtcdEndpoints = old.EtcdEndpoints })
	keep("etcd-cert", next.EtcdCert != old.EtcdCert, func() { next.EtcdCert = old.EtcdCert })
	keep("etcd-key", next.EtcdKey != old.EtcdKey, func() { next.EtcdKey = old.EtcdKey })
	keep("etcd-ca", next.EtcdCA != old.EtcdCA, func() { next.EtcdCA = old.EtcdCA })
	keep("etcd-prefix", next.EtcdPrefix != old.EtcdPrefix, func() { next.EtcdPrefix = old.EtcdPrefix })
	keep("host-name", next.HostName != old.HostName, func() { next.HostName = old.HostName })
	keep("leader-ttl", next.LeaderTTL != old.LeaderTTL, func() { next.LeaderTTL = old.LeaderTTL })
	keep("interval", next.Interval != old.Interval, func() { next.Interval = old.Interval })
	keep("shutdown-grace", next.ShutdownGrace != old.ShutdownGrace, func() { next.ShutdownGrace = old.ShutdownGrace })
	keep("listen", next.Listen != old.Listen, func() { next.Listen = old.Listen })
	keep("alertmanager-url", !slices.Equal(next.AlertmanagerURLs, old.AlertmanagerURLs), func() { next.AlertmanagerURLs = old.AlertmanagerURLs })
	keep("runbook-url", next.RunbookURL != old.RunbookURL, func() { next.RunbookURL = old.RunbookURL })
	keep("tool-url", next.ToolURL != old.ToolURL, func() { next.ToolURL = old.ToolURL })
	keep("alert-resend", next.AlertResend != old.AlertResend, func() { next.AlertResend = old.AlertResend })
	keep("alert-timeout", next.AlertTimeout != old.AlertTimeout, func() { next.AlertTimeout = old.AlertTimeout })
	keep("source-alert-after", next.SourceAlertAfter != old.SourceAlertAfter, func() { next.SourceAlertAfter = old.SourceAlertAfter })
	keep("log-format", next.LogFormat != old.LogFormat, func() { next.LogFormat = old.LogFormat })
	keep("log-level", next.LogLevel != old.LogLevel, func() { next.LogLevel = old.LogLevel })
	keep("memory-limit", next.MemoryLimit != old.MemoryLimit, func() { next.MemoryLimit = old.MemoryLimit })
	if len(ignored) > 0 {
		r.log.Warn().Strs("keys", ignored).Msg("SIGHUP: these settings change only when the daemon restarts; their old values stay in use")
	}
}
