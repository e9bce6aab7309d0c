// Package metrics exports what the supervisor sees and does as Prometheus
// metrics, and serves them, with /healthz and /readyz, on the daemon's
// listener. Each Metrics owns its own registry (never the process-wide
// default one), so two daemons in one test process do not share series.
//
// It only reads reports: it never decides anything and never changes what
// it is shown. Only tools that are not up have series of their own, so a
// scrape grows with the tools down, not with the fleet; a tool's series
// are deleted, not left stale, when it is up again or no longer desired.
package metrics

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io/fs"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"webservicemonitor/internal/buildinfo"
	"webservicemonitor/internal/sanitize"
	"webservicemonitor/monitor"
	"webservicemonitor/state"
)

const namespace = "webservicemonitor"

// Tool statuses: what the grid and the proxy show of a desired tool's web
// service, whatever the supervisor then does about it (that is the code of
// tool_reason). The first four are "down": the service does not serve and
// a restart is what fixes it.
const (
	StatusNotRunning   = "not-running"  // no job on the grid
	StatusError        = "error"        // job stuck in E
	StatusDeleting     = "deleting"     // job being deleted (d)
	StatusUnregistered = "unregistered" // running, missing from the proxy
	StatusUp           = "up"
	StatusRegistering  = "registering" // running, within its registration grace
	StatusPending      = "pending"
	StatusHeld         = "held" // SGE hold, before it ever ran
	StatusSuspended    = "suspended"
	StatusUnknown      = "unknown" // a source failed, or letters nobody knows
)

// Statuses lists every status, down ones first.
func Statuses() []string {
	return []string{StatusNotRunning, StatusError, StatusDeleting, StatusUnregistered,
		StatusUp, StatusRegistering, StatusPending, StatusHeld, StatusSuspended, StatusUnknown}
}

// DownStatuses are the statuses of a tool whose web service is down.
func DownStatuses() []string {
	return []string{StatusNotRunning, StatusError, StatusDeleting, StatusUnregistered}
}

// errorKinds are the coarse, stable classes of why a source failed
// (ErrorKind). Functions rather than variables, like every table here, so
// that nothing can change them at run time.
func errorKinds() []string {
	return []string{"timeout", "cancelled", "network", "exit-status", "invalid", "io", "locked", "newer-schema", "other"}
}

func sourceNames() []string {
	return []string{monitor.SourceManifests, monitor.SourceGrid, monitor.SourceProxy, monitor.SourceState}
}

func outcomes() []state.Outcome {
	return []state.Outcome{state.OutcomeSucceeded, state.OutcomeNotUp, state.OutcomeFailed, state.OutcomeTimedOut, state.OutcomeCancelled}
}

// Metrics is one daemon's metrics.
type Metrics struct {
	reg      *prometheus.Registry
	interval time.Duration
	now      func() time.Time
	born     time.Time

	lastStart atomic.Int64 // unix nanoseconds of the last cycle start; 0 before the first
	ready     atomic.Bool

	mu      sync.Mutex
	tools   map[string]toolSeries // what is exported per tool not up
	failing map[string]int        // consecutive failed cycles per source

	toolDownSince *prometheus.GaugeVec
	toolReason    *prometheus.GaugeVec
	toolAttempts  *prometheus.GaugeVec

	cycleDuration    prometheus.Histogram
	cycles           *prometheus.CounterVec
	lastCycleStart   prometheus.Gauge
	lastCycleEnd     prometheus.Gauge
	lastSuccess      prometheus.Gauge
	toolsByStatus    *prometheus.GaugeVec
	toolsDesired     prometheus.Gauge
	toolsBackoff     prometheus.Gauge
	toolsValveHeld   prometheus.Gauge
	toolsGivenUp     prometheus.Gauge
	restartsStarted  prometheus.Counter
	restartsFinished *prometheus.CounterVec
	jobsCleared      *prometheus.CounterVec
	valveTripped     prometheus.Gauge
	valveWanting     prometheus.Gauge
	valveLimit       prometheus.Gauge
	valveReleased    prometheus.Gauge
	pauseStarted     *prometheus.GaugeVec
	pauseUntil       *prometheus.GaugeVec
	pauseMax         prometheus.Gauge
	reloadOK         prometheus.Gauge
	reloadOKAt       prometheus.Gauge

	sourceDuration   *prometheus.HistogramVec
	sourceErrors     *prometheus.CounterVec
	sourceItems      *prometheus.GaugeVec
	sourceFailing    *prometheus.GaugeVec
	manifestsSkipped *prometheus.GaugeVec

	alertSends    *prometheus.CounterVec
	alertFailures *prometheus.CounterVec
	alertsSent    *prometheus.CounterVec
	alertQueue    *prometheus.GaugeVec
	alertsFiring  *prometheus.GaugeVec
}

// toolSeries is what one tool that is not up has exported: the label
// values of its series and when its down episode began.
type toolSeries struct {
	web, status, code string
	since             float64
	attempts          int
}

// New returns the metrics of one daemon, registered in a registry of its
// own together with the Go runtime and process collectors. interval is the
// cycle interval (for /healthz); now is the clock.
func New(info buildinfo.Info, interval time.Duration, now func() time.Time) *Metrics {
	r := registrar{prometheus.NewRegistry()}
	m := &Metrics{reg: r.reg, interval: interval, now: now, born: now(),
		tools: map[string]toolSeries{}, failing: map[string]int{}}

	r.register(collectors.NewGoCollector())
	r.register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	build := r.gaugeVec("build_info", "Build of the running supervisor; always 1.", "version", "commit", "goversion")
	build.WithLabelValues(info.Version, info.Commit, info.GoVersion).Set(1)

	m.newToolMetrics(r)
	m.newCycleMetrics(r)
	m.newRestartMetrics(r)
	m.newSourceMetrics(r)
	m.newAlertMetrics(r)
	m.zeroKnownSeries()
	return m
}

// registrar makes metrics in the supervisor's namespace and registers them
// in one daemon's registry as it goes, so that no metric can be defined and
// then forgotten.
type registrar struct{ reg *prometheus.Registry }

func (r registrar) register(c prometheus.Collector) { r.reg.MustRegister(c) }

func (r registrar) gauge(name, help string) prometheus.Gauge {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Name: name, Help: help})
	r.register(g)
	return g
}

func (r registrar) gaugeVec(name, help string, labels ...string) *prometheus.GaugeVec {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Name: name, Help: help}, labels)
	r.register(g)
	return g
}

func (r registrar) counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: name, Help: help}, labels)
	r.register(c)
	return c
}

// newToolMetrics defines the per-tool series. Only tools that are not up
// have them (a few percent of the fleet, not all of it), and each series'
// labels hold still over a down episode: the grid and proxy status and
// when the episode began are one series, the supervisor's reason code,
// which moves with every backoff, hold and restart, another, as
// kube-state-metrics separates a pod's phase from its reason. A restart
// count per tool would grow with every tool ever restarted: restarts are
// counted fleet-wide (restarts_finished_total) and per tool only as the
// attempts in the current window, while they are above zero.
func (m *Metrics) newToolMetrics(r registrar) {
	m.toolDownSince = r.gaugeVec("tool_down_since_timestamp_seconds",
		"One series per desired tool whose web service is not up (given-up tools included), valued when its current down episode began. "+
			"status is what the grid and the proxy show: not-running, error, deleting, unregistered are down; registering, pending, held, "+
			"suspended, unknown are not up either. No series while the tool is up.", "tool", "web", "status")
	m.toolReason = r.gaugeVec("tool_reason",
		"The reason code of the supervisor's decision about each tool that is not up, value 1 (e.g. no-job, backoff, valve, budget-exhausted); "+
			"the series of its previous code is deleted when the code changes.", "tool", "code")
	m.toolAttempts = r.gaugeVec("tool_restart_attempts",
		"Restarts of the tool in the current restart window (the budget counts these); only while above zero.", "tool")
}

// newCycleMetrics defines what each cycle as a whole reports: its timing,
// its result, and the desired tools counted by status and by what holds
// their restart.
func (m *Metrics) newCycleMetrics(r registrar) {
	m.cycleDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: namespace, Name: "cycle_duration_seconds", Help: "How long each cycle took, collect to report.",
		Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300},
	})
	r.register(m.cycleDuration)
	m.cycles = r.counterVec("cycles_total",
		"Cycles completed, by result: ok, source-failed (some source failed, its tools were not judged), failed (could not act).", "result")
	m.lastCycleStart = r.gauge("last_cycle_start_timestamp_seconds", "When the last cycle started.")
	m.lastCycleEnd = r.gauge("last_cycle_end_timestamp_seconds", "When the last cycle ended, whatever its result.")
	m.lastSuccess = r.gauge("last_successful_cycle_timestamp_seconds",
		"When the last cycle ended with every source read and every decision acted on.")
	m.toolsByStatus = r.gaugeVec("tools", "Desired tools by status (see tool_down_since_timestamp_seconds) in the last cycle, up ones included.", "status")
	m.toolsDesired = r.gauge("tools_desired", "Tools whose manifest asks for a grid web service.")
	m.toolsBackoff = r.gauge("tools_held_by_backoff",
		"Down tools whose restart waits for their backoff (or, with several hosts, for another host's restart of them to end: code in-flight-elsewhere).")
	m.toolsValveHeld = r.gauge("tools_held_by_valve", "Down tools whose restart the safety valve holds.")
	m.toolsGivenUp = r.gauge("tools_given_up", "Down tools whose restart budget is spent (each one is paged).")
}

// newRestartMetrics defines the restart counters and the safety valve's
// gauges: what the supervisor did, and what stopped it doing more.
func (m *Metrics) newRestartMetrics(r registrar) {
	m.restartsStarted = prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: "restarts_started_total",
		Help: "Restarts started (recorded before they run)."})
	r.register(m.restartsStarted)
	m.restartsFinished = r.counterVec("restarts_finished_total",
		"Restarts finished, by outcome: succeeded (seen up), not-up (its command exited 0 but the tool was not seen up in time), failed, timed-out, cancelled.", "outcome")
	m.jobsCleared = r.counterVec("stuck_jobs_cleared_total",
		"Stuck jobs (in error, stuck being deleted, left queued by a restart not seen up) removed with clear-command, by result: cleared or failed.", "result")
	m.valveTripped = r.gauge("safety_valve_tripped", "1 while the safety valve holds restarts, else 0.")
	m.valveWanting = r.gauge("safety_valve_wanting_tools", "Tools that needed a restart in the last cycle.")
	m.valveLimit = r.gauge("safety_valve_limit_tools", "The most tools one cycle may restart before the valve trips.")
	m.valveReleased = r.gauge("safety_valve_released", "1 while an admin's valve release lets restarts through a tripped valve, else 0.")
	pauseLabels := []string{"action", "who", "tools", "reason"}
	m.pauseStarted = r.gaugeVec("pause_started_timestamp_seconds",
		"When each admin pause in effect began; tools is \"all\" or the tools it holds, reason why (both cut to 100 characters).", pauseLabels...)
	m.pauseUntil = r.gaugeVec("pause_until_timestamp_seconds", "When each admin pause in effect ends by itself.", pauseLabels...)
	m.pauseMax = r.gauge("pause_max_seconds", "The longest pause an admin may declare (pause-max); the shipped rule pages for a pause older than this.")
	m.reloadOK = r.gauge("config_last_reload_successful", "1 when the last configuration reload (SIGHUP) succeeded or none was asked, 0 when it was refused.")
	m.reloadOKAt = r.gauge("config_last_reload_success_timestamp_seconds", "When the configuration was last loaded successfully (at start or on SIGHUP).")
}

// newSourceMetrics defines the per-source series: a failing source is what
// stops tools being judged, so each one's health is visible on its own.
func (m *Metrics) newSourceMetrics(r registrar) {
	m.sourceDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Name: "source_duration_seconds", Help: "How long reading each source took.",
		Buckets: []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120},
	}, []string{"source"})
	r.register(m.sourceDuration)
	m.sourceErrors = r.counterVec("source_errors_total", "Failed reads of each source, by kind of error.", "source", "kind")
	m.sourceItems = r.gaugeVec("source_items", "Items read from each source in the last cycle: manifests, jobs, registrations, histories.", "source")
	m.sourceFailing = r.gaugeVec("source_consecutive_failures", "Cycles in a row each source has failed; 0 when it worked last.", "source")
	m.manifestsSkipped = r.gaugeVec("manifests_skipped", "Manifests skipped in the last cycle, by reason code.", "code")
}

// newAlertMetrics defines the alert delivery series (fed through
// alerts.Observer), so that a page that never arrived shows up here.
func (m *Metrics) newAlertMetrics(r registrar) {
	m.alertSends = r.counterVec("alert_sends_total", "Pushes of alerts to each Alertmanager (retries inside one push not counted).", "alertmanager")
	m.alertFailures = r.counterVec("alert_send_failures_total", "Pushes of alerts to each Alertmanager that failed after their retries.", "alertmanager")
	m.alertsSent = r.counterVec("alerts_sent_total", "Alerts delivered to each Alertmanager (firing re-sends included).", "alertmanager")
	m.alertQueue = r.gaugeVec("alert_queue_length", "Alerts waiting for delivery to each Alertmanager.", "alertmanager")
	m.alertsFiring = r.gaugeVec("alerts_firing", "Alerts this supervisor has firing, by alertname.", "alertname")
}

// zeroKnownSeries creates the series of every known label value at zero,
// so rates and dashboards see them before the first event rather than a
// gap.
func (m *Metrics) zeroKnownSeries() {
	for _, s := range sourceNames() {
		for _, k := range errorKinds() {
			m.sourceErrors.WithLabelValues(s, k)
		}
		m.sourceFailing.WithLabelValues(s)
	}
	for _, o := range outcomes() {
		m.restartsFinished.WithLabelValues(string(o))
	}
	for _, r := range []string{"ok", "source-failed", "failed"} {
		m.cycles.WithLabelValues(r)
	}
	for _, s := range Statuses() {
		m.toolsByStatus.WithLabelValues(s)
	}
}

// Registry is the registry the metrics live in.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Name names the metrics among the cycle's reporters.
func (m *Metrics) Name() string { return "metrics" }

// Report exports one cycle's report (as a monitor.Reporter).
func (m *Metrics) Report(_ context.Context, rep monitor.Report, cycleErr error) error {
	m.Observe(rep, cycleErr)
	return nil
}

// CycleStarted records the start of a cycle, for /healthz and the
// last-cycle-start metric (as a monitor.CycleStartObserver).
func (m *Metrics) CycleStarted(t time.Time) {
	m.lastStart.Store(t.UnixNano())
	m.lastCycleStart.Set(seconds(t))
}

// Observe exports one cycle's report.
func (m *Metrics) Observe(rep monitor.Report, cycleErr error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	defer m.ready.Store(true)

	m.cycleDuration.Observe(rep.Finished.Sub(rep.Started).Seconds())
	m.lastCycleEnd.Set(seconds(rep.Finished))
	switch {
	case cycleErr != nil:
		m.cycles.WithLabelValues("failed").Inc()
	case rep.SourceFailed():
		m.cycles.WithLabelValues("source-failed").Inc()
	default:
		m.cycles.WithLabelValues("ok").Inc()
		m.lastSuccess.Set(seconds(rep.Finished))
	}

	manifestsOK := false
	for _, s := range rep.Sources {
		m.sourceDuration.WithLabelValues(s.Name).Observe(s.Duration.Seconds())
		if s.Err != nil {
			m.failing[s.Name]++
			m.sourceErrors.WithLabelValues(s.Name, ErrorKind(s.Err)).Inc()
		} else {
			m.failing[s.Name] = 0
			m.sourceItems.WithLabelValues(s.Name).Set(float64(s.Items))
			manifestsOK = manifestsOK || s.Name == monitor.SourceManifests
		}
		m.sourceFailing.WithLabelValues(s.Name).Set(float64(m.failing[s.Name]))
	}

	m.observeClears(rep)
	// Restarts happened whatever else went wrong: count them always.
	for _, r := range rep.Results {
		if !r.Started() {
			continue // not an attempt: a shutdown or an unrecordable attempt came first
		}
		m.restartsStarted.Inc()
		if r.Outcome != state.OutcomePendingVerification { // counted when settled
			m.restartsFinished.WithLabelValues(string(r.Outcome)).Inc()
		}
	}
	// A restart whose command exited 0 ends when its tool is seen up, or
	// not in time. The audit settles nothing: it records nothing.
	for _, d := range rep.Plan.Decisions {
		if d.Settled != nil && !rep.DryRun && cycleErr == nil {
			m.restartsFinished.WithLabelValues(string(d.Settled.Outcome)).Inc()
		}
	}

	// Without the manifests the plan does not know the desired tools: the
	// tool series keep their last known values rather than vanish.
	if cycleErr != nil || !manifestsOK {
		return
	}
	m.observePlan(rep.Plan)
}

func (m *Metrics) observePlan(p monitor.Plan) {
	byStatus := map[string]int{}
	skipped := map[string]int{}
	var backoff, valve, givenUp int
	current := make(map[string]toolSeries, len(m.tools))
	for _, d := range p.Decisions {
		if d.Action == monitor.ActionSkip {
			if d.Code != monitor.CodeOtherBackend && d.Code != monitor.CodeProxyOnly {
				skipped[string(d.Code)]++
			}
			continue
		}
		status := Status(d)
		byStatus[status]++
		switch d.Code {
		case monitor.CodeBackoff, monitor.CodeInFlightElsewhere:
			// Both wait for a time: the backoff's end, or the end of another
			// host's restart of the tool (HA); tool_reason tells them apart.
			backoff++
		case monitor.CodeValve:
			valve++
		case monitor.CodeBudgetExhausted:
			givenUp++
		}
		if ts, ok := m.toolSeriesOf(d, status, p.Now); ok {
			current[d.Tool] = ts
		}
	}
	m.exportTools(current)

	for _, s := range Statuses() {
		m.toolsByStatus.WithLabelValues(s).Set(float64(byStatus[s]))
	}
	m.toolsDesired.Set(float64(p.Desired))
	m.toolsBackoff.Set(float64(backoff))
	m.toolsValveHeld.Set(float64(valve))
	m.toolsGivenUp.Set(float64(givenUp))
	m.manifestsSkipped.Reset()
	for code, n := range skipped {
		m.manifestsSkipped.WithLabelValues(code).Set(float64(n))
	}
	m.observePauses(p)
	m.valveReleased.Set(boolean(p.Valve.Release != nil))
	m.valveTripped.Set(boolean(p.Valve.Tripped))
	m.valveWanting.Set(float64(p.Valve.Wanting))
	m.valveLimit.Set(float64(p.Valve.Limit))
}

// toolSeriesOf is what a desired tool exports this cycle, and false when
// it exports nothing: it is up. A tool whose grid or proxy could not be
// read is not known to have changed: it keeps what it had ("don't know"
// is neither up nor a new status), so a failed qstat neither hides the
// down tools nor gives every up tool a series.
func (m *Metrics) toolSeriesOf(d monitor.Decision, status string, now time.Time) (toolSeries, bool) {
	old, had := m.tools[d.Tool]
	switch {
	case status == StatusUp:
		return toolSeries{}, false
	case d.Code == monitor.CodeGridUnknown || d.Code == monitor.CodeProxyUnknown:
		return old, had
	}
	ts := toolSeries{web: d.Web, status: status, code: string(d.Code), since: seconds(d.DownSince()), attempts: d.Attempts}
	if ts.since == 0 { // nothing observed this cycle (its history unknown): since when it was first exported
		ts.since = old.since
		if !had {
			ts.since = seconds(now)
		}
	}
	return ts, true
}

// exportTools makes the per-tool series those of current: each tool's
// series whose labels changed, and every series of a tool no longer in
// current (up, or no longer desired), are deleted by their exact labels,
// in time linear in the tools exported.
func (m *Metrics) exportTools(current map[string]toolSeries) {
	for tool, old := range m.tools {
		ts, ok := current[tool]
		if !ok || old.web != ts.web || old.status != ts.status {
			m.toolDownSince.DeleteLabelValues(tool, old.web, old.status)
		}
		if !ok || old.code != ts.code {
			m.toolReason.DeleteLabelValues(tool, old.code)
		}
		if !ok || ts.attempts <= 0 {
			m.toolAttempts.DeleteLabelValues(tool)
		}
	}
	for tool, ts := range current {
		m.toolDownSince.WithLabelValues(tool, ts.web, ts.status).Set(ts.since)
		m.toolReason.WithLabelValues(tool, ts.code).Set(1)
		if ts.attempts > 0 {
			m.toolAttempts.WithLabelValues(tool).Set(float64(ts.attempts))
		}
	}
	m.tools = current
}

// Status is what the grid and the proxy show of a desired tool's web
// service, from its decision.
func Status(d monitor.Decision) string {
	switch {
	case d.Action == monitor.ActionNone:
		return StatusUp
	case d.Code == monitor.CodeGridUnknown || d.Code == monitor.CodeProxyUnknown:
		return StatusUnknown
	}
	switch d.Phase {
	case monitor.PhaseNone:
		return StatusNotRunning
	case monitor.PhaseError:
		return StatusError
	case monitor.PhaseDeleting:
		return StatusDeleting
	case monitor.PhaseSuspended:
		return StatusSuspended
	case monitor.PhaseHeld:
		return StatusHeld
	case monitor.PhasePending:
		return StatusPending
	case monitor.PhaseRunning:
		if d.Code == monitor.CodeRegistering {
			return StatusRegistering
		}
		return StatusUnregistered
	}
	return StatusUnknown
}

// ErrorKind classifies a source's error for the errors counter.
func ErrorKind(err error) string {
	var (
		netErr  net.Error
		exitErr *exec.ExitError
		xmlErr  *xml.SyntaxError
		jsonErr *json.SyntaxError
		typeErr *json.UnmarshalTypeError
		pathErr *fs.PathError
	)
	switch {
	case errors.Is(err, state.ErrLocked):
		return "locked"
	case errors.Is(err, state.ErrNewerSchema):
		return "newer-schema"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "cancelled"
	case errors.As(err, &exitErr):
		return "exit-status"
	case errors.As(err, &netErr):
		return "network"
	case errors.As(err, &xmlErr), errors.As(err, &jsonErr), errors.As(err, &typeErr):
		return "invalid"
	case errors.As(err, &pathErr):
		return "io"
	}
	return "other"
}

// AlertsSent implements alerts.Observer.
func (m *Metrics) AlertsSent(alertmanager string, n int, err error) {
	m.alertSends.WithLabelValues(alertmanager).Inc()
	if err != nil {
		m.alertFailures.WithLabelValues(alertmanager).Inc()
		return
	}
	m.alertsSent.WithLabelValues(alertmanager).Add(float64(n))
}

// AlertsQueued implements alerts.Observer.
func (m *Metrics) AlertsQueued(alertmanager string, n int) {
	// Touch the counters too, so a configured Alertmanager shows zeroes
	// before its first push.
	m.alertSends.WithLabelValues(alertmanager)
	m.alertFailures.WithLabelValues(alertmanager)
	m.alertsSent.WithLabelValues(alertmanager)
	m.alertQueue.WithLabelValues(alertmanager).Set(float64(n))
}

// AlertsFiring implements alerts.Observer.
func (m *Metrics) AlertsFiring(byName map[string]int) {
	for name, n := range byName {
		m.alertsFiring.WithLabelValues(name).Set(float64(n))
	}
}

func seconds(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixNano()) / 1e9
}

func boolean(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// observeClears counts the stuck jobs removed this cycle, before restarts
// and beside jobs that serve, and those that could not be.
func (m *Metrics) observeClears(rep monitor.Report) {
	for _, r := range rep.Results {
		m.jobsCleared.WithLabelValues("cleared").Add(float64(len(r.Cleared)))
		if r.ClearFailed {
			m.jobsCleared.WithLabelValues("failed").Inc()
		}
	}
	for _, c := range rep.Cleared {
		result := "cleared"
		if c.Detail != "" {
			result = "failed"
		}
		m.jobsCleared.WithLabelValues(result).Inc()
	}
}

// observePauses exports each admin pause in effect: who, since, until and
// why are the labels and values a dashboard or a rule needs. Few series:
// pauses are rare and short.
func (m *Metrics) observePauses(p monitor.Plan) {
	m.pauseStarted.Reset()
	m.pauseUntil.Reset()
	for _, a := range p.Pauses {
		tools := "all"
		if len(a.Tools) > 0 {
			tools = strings.Join(a.Tools, ",")
		}
		labels := []string{strconv.FormatUint(a.ID, 10), sanitize.Text(a.Who, 100), sanitize.Text(tools, 100), sanitize.Text(a.Reason, 100)}
		m.pauseStarted.WithLabelValues(labels...).Set(seconds(a.At))
		m.pauseUntil.WithLabelValues(labels...).Set(seconds(a.Until))
	}
}

// SetPauseMax exports the longest pause an admin may declare.
func (m *Metrics) SetPauseMax(d time.Duration) { m.pauseMax.Set(d.Seconds()) }

// ConfigLoaded records a configuration load: at start and after each
// SIGHUP, successful or not.
func (m *Metrics) ConfigLoaded(ok bool, at time.Time) {
	m.reloadOK.Set(boolean(ok))
	if ok {
		m.reloadOKAt.Set(seconds(at))
	}
}
