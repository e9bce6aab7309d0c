package main

// The metrics and the alerts: the listener, the Alertmanager senders, and
// the reporters through which they read each cycle's report.

import (
	"context"
	"errors"
	"time"

	"github.com/rs/zerolog"

	"webservicemonitor/alerts"
	"webservicemonitor/internal/buildinfo"
	"webservicemonitor/internal/config"
	"webservicemonitor/internal/metrics"
	"webservicemonitor/monitor"
)

const (
	// metricsListenRetry paces the tries to bind a listen address that
	// was taken.
	metricsListenRetry = 15 * time.Second
	// metricsShutdownGrace lets scrapes in flight finish at shutdown.
	metricsShutdownGrace = 5 * time.Second
)

type observability struct {
	log       zerolog.Logger
	metrics   *metrics.Metrics
	listener  *metrics.Listener // nil without a listener
	lifecycle *alerts.Lifecycle // nil when alerting is off
	notifier  *alerts.Notifier
	stopSend  context.CancelFunc
}

// startObservability builds the metrics and the alert lifecycle; listen
// starts the metrics listener (daemon mode only).
func startObservability(cfg *config.Config, log zerolog.Logger, listen bool) (*observability, error) {
	o := &observability{log: log, metrics: metrics.New(buildinfo.Get(), cfg.Interval, time.Now), stopSend: func() {}}
	if listen && cfg.Listen != "" {
		o.listener = metrics.KeepListening(cfg.Listen, o.metrics.Handler(), metricsListenRetry, log)
	}
	if len(cfg.AlertmanagerURLs) == 0 {
		log.Info().Msg("alerting off: no --alertmanager-url configured")
		return o, nil
	}
	clients := make([]*alerts.Client, 0, len(cfg.AlertmanagerURLs))
	for _, u := range cfg.AlertmanagerURLs {
		c, err := alerts.NewClient(u, cfg.AlertTimeout, alerts.DefaultRetries)
		if err != nil {
			o.stop()
			return nil, err
		}
		clients = append(clients, c)
	}
	settings := alerts.Settings{
		Interval: cfg.Interval, Resend: cfg.AlertResend, SourceAfter: cfg.SourceAlertAfter,
		RunbookURL: cfg.RunbookURL, ToolURL: cfg.ToolURL,
	}
	o.notifier = alerts.NewNotifier(clients, settings.EndsAtHorizon(), o.metrics, log, time.Now)
	o.lifecycle = &alerts.Lifecycle{
		Settings: settings,
		Memory:   alerts.StateFile{Path: cfg.StateFile, LockWait: cfg.StateLockWait},
		Out:      o.notifier,
		Observer: o.metrics,
		Log:      log,
		Now:      time.Now,
	}
	for _, c := range clients {
		log.Info().Str("alertmanager", c.Name).Msg("alerting on")
	}
	return o, nil
}

// share makes the alerts' memory the cluster's and exports the leader
// gauge: the host of a cluster remembers and pushes every alert while it
// leads, and its own health alerts (labelled with its host) whatever its
// role; it takes the memory up again on each win.
func (o *observability) share(cl *cluster) {
	observer := o.metrics.ExportLeadership(cl.host, cl.Leading)
	cl.store.Observer, cl.elector.Observer = observer, observer // before either is used
	if o.lifecycle != nil {
		o.lifecycle.Memory = cl.alertMemory()
		o.lifecycle.Host, o.lifecycle.Scope = cl.host, alerts.ClusterScope
		cl.whenGained(o.lifecycle.Reload)
	}
}

// startSending runs the alert senders in the background (daemon mode).
func (o *observability) startSending() {
	if o.notifier == nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	o.stopSend = cancel
	o.notifier.Start(ctx)
}

// daemonReporters are the daemon's reporters after the tools' service.log:
// the log, the metrics, the alerts (which never wait for an Alertmanager).
func (o *observability) daemonReporters() []monitor.Reporter {
	reporters := []monitor.Reporter{monitor.LogReporter{Log: o.log}, o.metrics}
	if o.lifecycle != nil {
		reporters = append(reporters, o.lifecycle)
	}
	return reporters
}

// oneShotReporters are those of --once: the log, and the alerts delivered
// before the process ends.
func (o *observability) oneShotReporters(cfg *config.Config) []monitor.Reporter {
	reporters := []monitor.Reporter{monitor.LogReporter{Log: o.log}, o.metrics}
	if o.lifecycle != nil {
		reporters = append(reporters, alerts.OneShot{Lifecycle: o.lifecycle, Notifier: o.notifier, FlushTimeout: cfg.AlertTimeout})
	}
	return reporters
}

// stop ends the senders and the listener, letting scrapes in flight finish.
func (o *observability) stop() {
	o.stopSend()
	if o.notifier != nil {
		o.notifier.Wait()
	}
	if o.listener != nil {
		ctx, cancel := context.WithTimeout(context.Background(), metricsShutdownGrace)
		defer cancel()
		if err := o.listener.Stop(ctx); err != nil && !errors.Is(err, context.Canceled) {
			o.log.Warn().Err(err).Msg("metrics listener")
		}
	}
}
