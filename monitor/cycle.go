package monitor

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"webservicemonitor/sources/manifest"
	"webservicemonitor/sources/proxy"
	"webservicemonitor/sources/qstat"
	"webservicemonitor/state"
)

// ManifestSource reads every tool's desired state.
type ManifestSource interface {
	Scan(ctx context.Context) (manifest.Scan, error)
}

// GridSource reads the grid's jobs.
type GridSource interface {
	Fetch(ctx context.Context) ([]qstat.Job, error)
}

// ProxySource reads the active proxy's registrations.
type ProxySource interface {
	Fetch(ctx context.Context) (proxy.Snapshot, error)
}

// History is the restart memory the policy decides with: read before the
// plan; the plan's bookkeeping recorded before any restart, and each
// attempt just before its command starts; their outcomes after they end. A read error wrapping ErrStateUnavailable means the
// history cannot be trusted for acting, and stops an acting cycle before it
// plans; any other read error is a failed source the plan works around.
type History interface {
	Read(ctx context.Context) (HistorySnapshot, error)
	RecordAttempts(ctx context.Context, ch state.Changes) error
	RecordOutcomes(ctx context.Context, ch state.Changes) error
}

// HistorySnapshot is the history as one cycle reads it.
type HistorySnapshot struct {
	Records   state.Records  // sorted by tool
	LastCycle time.Time      // zero before the first cycle
	Note      string         // shown beside the source, e.g. "no state file yet"
	Actions   []state.Action // the admin actions, by ID
}

// RestartRunner runs the restarts a plan asks for. Once start is done no
// new restart begins; once kill is done the ones in flight are ended.
// starting is called just before each command starts, which does not start
// if it fails; done is called as each started restart ends. Results come
// back in the order of ds.
//
// ClearStrays removes the stuck jobs (Decision.Clear) of tools that are up:
// not a restart, not an attempt.
type RestartRunner interface {
	Restart(start, kill context.Context, ds []Decision, starting func(Decision) error, done func(Result)) []Result
	ClearStrays(start, kill context.Context, ds []Decision) []ClearResult
}

// Reporter is one consumer of a cycle's report: the audit printout, the
// log, the metrics, the alerts, the tools' service.log, the watchdog. Each
// is given the same report, in turn, under its own deadline (ctx).
// cycleErr is set when the cycle could not act at all.
type Reporter interface {
	Report(ctx context.Context, rep Report, cycleErr error) error
}

// CycleStartObserver is a reporter that also wants to know when each cycle
// starts (liveness: /healthz, the systemd watchdog).
type CycleStartObserver interface {
	CycleStarted(at time.Time)
}

// ProgressObserver is a reporter that also wants to know of each step of a
// cycle that made progress (a restart ending): a long wave of restarts is
// not a hung loop.
type ProgressObserver interface {
	Progress()
}

// Leadership is the right to act of one host among several sharing the
// history: the cycle records and starts nothing unless it is still valid.
// It is asked before the plan's bookkeeping is recorded, and before and
// after each attempt is recorded, just before its command starts: a host
// that stopped leading between planning and a restart (paused, cut off)
// must not start it. *ha.Elector is one.
type Leadership interface {
	// StillValid is true only while no other host can have won: false
	// when in doubt.
	StillValid() bool
}

// ErrNotLeader is the cycle's error when it did not act, or stopped acting,
// because this host is not (certainly) the leader.
var ErrNotLeader = errors.New("not the leader")

// Parts are what a cycle is composed of, each testable alone.
type Parts struct {
	Manifests ManifestSource
	Grid      GridSource
	Proxy     ProxySource
	History   History
	// Restarter runs the restarts; nil makes the cycle a read-only audit:
	// it plans and reports, and records and restarts nothing.
	Restarter RestartRunner
	// Causes, when set, looks for why a restart was not seen up.
	Causes CauseFinder
	// Leadership, when set, is this host's right to act among several;
	// nil is a single host, always free to act.
	Leadership Leadership
	// Host names this host on the attempts it starts; empty on a single
	// host.
	Host string
	// WhoLeads, when set, finds out which host leads, for the report
	// (Report.Leader); nil on a single host.
	WhoLeads  WhoLeads
	Reporters []Reporter
	// ReportTimeout bounds each reporter: one that fails or hangs is
	// logged and left behind, and never stops the cycle.
	ReportTimeout time.Duration
	Policy        Policy
	Now           func() time.Time
	Log           zerolog.Logger
}

// Cycle is one pass of collect → plan → record attempts → act → record
// outcomes → report.
type Cycle struct {
	Parts
	reporters []*reporterSlot
}

// NewCycle composes a cycle from its parts. Every part but the Restarter
// is required.
func NewCycle(p Parts) (*Cycle, error) {
	switch {
	case p.Manifests == nil || p.Grid == nil || p.Proxy == nil:
		return nil, errors.New("composing the cycle: a source is missing")
	case p.History == nil:
		return nil, errors.New("composing the cycle: the history is missing")
	case p.Now == nil:
		return nil, errors.New("composing the cycle: the clock is missing")
	case p.ReportTimeout <= 0:
		return nil, fmt.Errorf("composing the cycle: the reporters' deadline must be positive, got %s", p.ReportTimeout)
	}
	c := &Cycle{Parts: p}
	for _, r := range p.Reporters {
		c.reporters = append(c.reporters, newReporterSlot(r))
	}
	return c, nil
}

// Source names, as they appear in the audit and the metrics.
const (
	SourceManifests = "manifests"
	SourceGrid      = "grid"
	SourceProxy     = "proxy"
	SourceState     = "state"
)

// ErrStateUnavailable wraps a failure to open or write the state file in an
// acting cycle: without the history no restart is safe, so the cycle stops.
var ErrStateUnavailable = errors.New("restart history unavailable")

// Run runs one cycle. Cancelling ctx (shutdown) stops new restarts from
// starting; cancelling kill ends restarts in flight. The returned error is
// set when the cycle could not act at all; the report is always usable.
func (c *Cycle) Run(ctx, kill context.Context) (Report, error) {
	rep := Report{Started: c.Now(), DryRun: c.Restarter == nil}
	c.cycleStarted(rep.Started)
	in, err := c.gather(ctx, &rep)
	c.whoLeads(ctx, &rep)
	if err == nil {
		rep.Plan = MakePlan(in, c.Policy)
		c.explainNotUp(ctx, &rep.Plan)
		err = c.act(ctx, kill, &rep, in.HistoryErr)
	}
	rep.Finished = c.Now()
	rep.ReportFailures = c.report(kill, rep, err)
	return rep, err
}

// gather collects the sources and the history: the plan's inputs.
func (c *Cycle) gather(ctx context.Context, rep *Report) (Inputs, error) {
	in := c.collect(ctx, rep)
	in.Now, in.Host = rep.Started, c.Host
	began := c.Now()
	h, err := c.History.Read(ctx)
	in.History, in.LastCycle, in.HistoryErr, in.Actions = h.Records, h.LastCycle, err, h.Actions
	rep.Sources = append(rep.Sources, SourceStatus{
		Name: SourceState, Err: err, Items: len(h.Records), Note: h.Note, Duration: c.Now().Sub(began),
	})
	if errors.Is(err, ErrStateUnavailable) {
		return in, err
	}
	return in, nil
}

// act records the plan, runs its restarts, each charged just before its
// command starts, and records their outcomes. An audit (no restarter) does
// none of it, and neither does a cycle that could not read the history: it
// would overwrite what it could not read.
func (c *Cycle) act(ctx, kill context.Context, rep *Report, historyErr error) error {
	switch {
	case c.Restarter == nil:
		return nil
	case historyErr != nil:
		return fmt.Errorf("%w: %w", ErrStateUnavailable, historyErr)
	}
	if err := c.leading("recording the plan"); err != nil {
		return err
	}
	if err := c.History.RecordAttempts(ctx, changes(rep.Plan)); err != nil {
		return err
	}
	if strays := rep.Plan.Strays(); len(strays) > 0 {
		if err := c.leading("clearing stuck jobs"); err != nil {
			return err
		}
		rep.Cleared = c.Restarter.ClearStrays(ctx, kill, strays)
	}
	restarts := rep.Plan.Restarts()
	if len(restarts) == 0 {
		return nil
	}
	charge := &attemptCharger{ctx: ctx, history: c.History, at: rep.Plan.Now, leading: c.leading}
	rep.Results = c.Restarter.Restart(ctx, kill, restarts, charge.charge, func(Result) { c.progress() })
	// Outcomes are recorded even during a shutdown: they happened.
	err := c.History.RecordOutcomes(context.WithoutCancel(kill), outcomeChanges(rep.Plan, rep.Results))
	return errors.Join(charge.failed, err)
}

// leading is nil while this host may act (always, on a single host), and
// otherwise says that it does not, before what.
func (c *Cycle) leading(before string) error {
	if c.Leadership == nil || c.Leadership.StillValid() {
		return nil
	}
	return fmt.Errorf("%w: this host is not certainly the leader, so before %s it records and starts nothing", ErrNotLeader, before)
}

// attemptCharger records each attempt just before its command starts: a
// supervisor killed while a restart runs still counts it, and one stopped
// before a restart started does not charge it. After one failed write it
// refuses the rest of the wave: the history is not there to be trusted.
//
// The leadership is checked before the write (a host that lost it records
// nothing) and again after it, as close to the start as the cycle gets: a
// leadership lost during the write leaves the attempt recorded but not
// run, counting one restart too many, never one too few.
type attemptCharger struct {
	ctx     context.Context
	history History
	at      time.Time
	leading func(before string) error
	failed  error
}

func (a *attemptCharger) charge(d Decision) error {
	if a.failed != nil {
		return a.failed
	}
	if a.failed = a.leading("recording the restart of " + d.Tool); a.failed != nil {
		return a.failed
	}
	ch := state.Changes{At: a.at, Put: map[string]state.ToolRecord{d.Tool: *d.Next}}
	if a.failed = a.history.RecordAttempts(a.ctx, ch); a.failed != nil {
		return a.failed
	}
	a.failed = a.leading("starting the restart of " + d.Tool)
	return a.failed
}

func (c *Cycle) cycleStarted(at time.Time) {
	for _, s := range c.reporters {
		if o, ok := s.Reporter.(CycleStartObserver); ok {
			o.CycleStarted(at)
		}
	}
}

func (c *Cycle) progress() {
	for _, s := range c.reporters {
		if o, ok := s.Reporter.(ProgressObserver); ok {
			o.Progress()
		}
	}
}
