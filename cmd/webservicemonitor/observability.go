package main

// Wiring of the metrics and the alerts to the cycle: both only read its
// reports, through the daemon's hooks (or once, after --once).

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

type observability struct {
	log       zerolog.Logger
	metrics   *metrics.Metrics
	server    *metrics.Server   // nil without a listener
	lifecycle *alerts.Lifecycle // nil when alerting is off
	notifier  *alerts.Notifier
	stopSend  context.CancelFunc
}

// startObservability builds the metrics and the alert lifecycle; listen
// starts the metrics listener (daemon mode only).
func startObservability(cfg *config.Config, log zerolog.Logger, listen bool) (*observability, error) {
	o := &observability{log: log, metrics: metrics.New(buildinfo.Get(), cfg.Interval, time.Now), stopSend: func() {}}
	if listen && cfg.Listen != "" {
		srv, err := metrics.Listen(cfg.Listen, o.metrics.Handler())
		if err != nil {
			return nil, err
		}
		o.server = srv
		log.Info().Str("listen", srv.Addr()).Msg("serving /metrics, /healthz and /readyz")
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
	}
	for _, c := range clients {
		log.Info().Str("alertmanager", c.Name).Msg("alerting on")
	}
	return o, nil
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

// cycleStarted is the daemon's OnCycleStart hook.
func (o *observability) cycleStarted(t time.Time) { o.metrics.CycleStarted(t) }

// report is the daemon's OnReport hook. It never blocks on an Alertmanager.
func (o *observability) report(rep monitor.Report, err error) {
	o.metrics.Observe(rep, err)
	if o.lifecycle != nil && !rep.DryRun {
		o.lifecycle.Observe(rep, err, time.Now())
	}
}

// flush delivers the queued alerts now, within timeout (for --once, which
// has no next cycle to retry in).
func (o *observability) flush(timeout time.Duration) {
	if o.notifier == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := o.notifier.Flush(ctx); err != nil {
		o.log.Warn().Err(err).Msg("alerts not delivered")
	}
}

// stop ends the senders and the listener, letting scrapes in flight finish.
func (o *observability) stop() {
	o.stopSend()
	if o.notifier != nil {
		o.notifier.Wait()
	}
	if o.server != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := o.server.Shutdown(ctx); err != nil && !errors.Is(err, context.Canceled) {
			o.log.Warn().Err(err).Msg("metrics listener")
		}
	}
}
