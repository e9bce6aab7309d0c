package monitor

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"sync"
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

// ToolLog tells a tool what the supervisor did, in its service.log.
type ToolLog interface {
	Append(ctx context.Context, home string, uid, gid int, line string) error
}

// Cycle is one pass of collect → plan → act → record → report. Its fields
// are the parts it is composed of; each is testable alone.
type Cycle struct {
	Manifests ManifestSource
	Grid      GridSource
	Proxy     ProxySource
	StateFile string
	LockWait  time.Duration // how long to wait for the state file's lock
	Restarter *Restarter
	ToolLog   ToolLog
	Policy    Policy
	Now       func() time.Time
	Log       zerolog.Logger
	// DryRun makes the cycle read-only: the state file is opened read-only
	// (and may be missing or locked), nothing is restarted or written.
	DryRun bool
}

// Source names, as they appear in the audit and the metrics.
const (
	SourceManifests = "manifests"
	SourceGrid      = "grid"
	SourceProxy     = "proxy"
	SourceState     = "state"
)

// SourceStatus is how one source fared this cycle.
type SourceStatus struct {
	Name     string
	Err      error
	Items    int
	Duration time.Duration
	Note     string // e.g. the active proxy, or why the state is empty
}

// Report is everything one cycle saw and did.
type Report struct {
	Started  time.Time
	Finished time.Time
	DryRun   bool
	Plan     Plan
	Sources  []SourceStatus
	Results  []Result
}

// SourceFailed reports whether any source failed this cycle.
func (r Report) SourceFailed() bool {
	for _, s := range r.Sources {
		if s.Err != nil {
			return true
		}
	}
	return false
}

// ExitCode is the audit's verdict: 0 every desired service is up, 1 some are
// not, 2 a source failed.
func (r Report) ExitCode() int {
	if r.SourceFailed() {
		return 2
	}
	for _, d := range r.Plan.Decisions {
		if d.Backend == manifest.BackendGridEngine && !d.Up() {
			return 1
		}
	}
	return 0
}

// ErrStateUnavailable wraps a failure to open or write the state file in an
// acting cycle: without the history no restart is safe, so the cycle stops.
var ErrStateUnavailable = errors.New("restart history unavailable")

// Run runs one cycle. Cancelling ctx (shutdown) stops new restarts from
// starting; cancelling kill ends restarts in flight. The returned error is
// set when the cycle could not act at all; the report is always usable.
func (c *Cycle) Run(ctx, kill context.Context) (Report, error) {
	rep := Report{Started: c.Now(), DryRun: c.DryRun}
	in := c.collect(ctx, &rep)

	stateStatus := SourceStatus{Name: SourceState}
	began := c.Now()
	store, err := c.openState()
	if err == nil {
		in.History, err = store.Histories()
		if err == nil {
			var meta state.Meta
			meta, err = store.Meta()
			in.LastCycle = meta.LastCycle
		}
		if c.DryRun {
			store.Close()
		}
	}
	switch {
	case err == nil:
	case c.DryRun && errors.Is(err, fs.ErrNotExist):
		stateStatus.Note = "no state file yet: no restart history"
		err = nil
	case c.DryRun:
		stateStatus.Err = fmt.Errorf("reading restart history from %s: %w", c.StateFile, err)
		in.HistoryErr = stateStatus.Err
	default:
		if store != nil {
			store.Close()
		}
		stateStatus.Err = fmt.Errorf("%w: opening %s: %v", ErrStateUnavailable, c.StateFile, err)
	}
	stateStatus.Items, stateStatus.Duration = len(in.History), c.Now().Sub(began)
	rep.Sources = append(rep.Sources, stateStatus)
	if stateStatus.Err != nil && !c.DryRun {
		rep.Finished = c.Now()
		return rep, stateStatus.Err
	}

	in.Now = rep.Started
	rep.Plan = MakePlan(in, c.Policy)
	if c.DryRun {
		rep.Finished = c.Now()
		return rep, nil
	}

	// The attempts are written before they run: a supervisor killed
	// mid-restart must still count them when it comes back.
	err = store.Commit(changes(rep.Plan, nil))
	store.Close()
	if err != nil {
		rep.Finished = c.Now()
		return rep, fmt.Errorf("%w: recording planned restarts in %s: %v", ErrStateUnavailable, c.StateFile, err)
	}

	restarts := rep.Plan.Restarts()
	if len(restarts) > 0 {
		rep.Results = c.Restarter.Restart(ctx, kill, restarts, c.Now)
		if err := c.recordOutcomes(&rep); err != nil {
			rep.Finished = c.Now()
			return rep, err
		}
	}
	c.tellTools(kill, rep)
	rep.Finished = c.Now()
	return rep, nil
}

func (c *Cycle) openState() (*state.Store, error) {
	return state.Open(c.StateFile, state.Options{ReadOnly: c.DryRun, LockTimeout: c.LockWait})
}

// collect reads the three sources at once, each under its own deadline.
func (c *Cycle) collect(ctx context.Context, rep *Report) Inputs {
	var in Inputs
	statuses := make([]SourceStatus, 3)
	var wg sync.WaitGroup
	timed := func(i int, name string, f func() (int, string, error)) {
		defer wg.Done()
		began := c.Now()
		n, note, err := f()
		statuses[i] = SourceStatus{Name: name, Err: err, Items: n, Note: note, Duration: c.Now().Sub(began)}
	}
	wg.Add(3)
	go timed(0, SourceManifests, func() (int, string, error) {
		scan, err := c.Manifests.Scan(ctx)
		in.Manifests, in.ManifestsErr = scan, err
		note := ""
		if len(scan.Skipped) > 0 {
			note = fmt.Sprintf("%d manifest(s) skipped", len(scan.Skipped))
		}
		return len(scan.Manifests), note, err
	})
	go timed(1, SourceGrid, func() (int, string, error) {
		jobs, err := c.Grid.Fetch(ctx)
		in.Jobs, in.GridErr = jobs, err
		return len(jobs), "", err
	})
	go timed(2, SourceProxy, func() (int, string, error) {
		snap, err := c.Proxy.Fetch(ctx)
		in.Proxy, in.ProxyErr = snap, err
		switch {
		case err != nil:
			return 0, "", err
		case !snap.Enabled:
			return 0, "registration checking off (empty active-proxy file)", nil
		}
		return len(snap.Registrations), "active proxy " + snap.Proxy, nil
	})
	wg.Wait()
	rep.Sources = append(rep.Sources, statuses...)
	return in
}

// changes is what a plan (and, once known, the restart results) write to
// the state file.
func changes(p Plan, results map[string]Result) state.Changes {
	ch := state.Changes{At: p.Now, Put: map[string]state.ToolRecord{}, Delete: p.Forget}
	for _, d := range p.Decisions {
		if !d.RecordChanged {
			continue
		}
		rec := *d.Next
		if r, ok := results[d.Tool]; ok && len(rec.Attempts) > 0 {
			// A copy: the plan's record (which reports and alerts read)
			// stays what was decided.
			rec.Attempts = slices.Clone(rec.Attempts)
			last := &rec.Attempts[len(rec.Attempts)-1]
			last.Outcome, last.Duration = r.Outcome, r.Duration
			if r.Detail != "" {
				last.Reason = d.Reason + " — " + r.Detail
			}
		}
		ch.Put[d.Tool] = rec
	}
	return ch
}

func (c *Cycle) recordOutcomes(rep *Report) error {
	byTool := make(map[string]Result, len(rep.Results))
	for _, r := range rep.Results {
		byTool[r.Tool] = r
	}
	ch := changes(rep.Plan, byTool)
	// Only the restarted tools changed since the first commit.
	for tool := range ch.Put {
		if _, ok := byTool[tool]; !ok {
			delete(ch.Put, tool)
		}
	}
	ch.Delete = nil
	store, err := c.openState()
	if err != nil {
		return fmt.Errorf("%w: recording restart outcomes in %s: %v", ErrStateUnavailable, c.StateFile, err)
	}
	defer store.Close()
	if err := store.Commit(ch); err != nil {
		return fmt.Errorf("%w: recording restart outcomes in %s: %v", ErrStateUnavailable, c.StateFile, err)
	}
	return nil
}

// tellTools writes one service.log line per restart and per change into a
// refusal. A failure here is logged and never stops the cycle.
func (c *Cycle) tellTools(ctx context.Context, rep Report) {
	if c.ToolLog == nil {
		return
	}
	results := make(map[string]Result, len(rep.Results))
	for _, r := range rep.Results {
		results[r.Tool] = r
	}
	for _, d := range rep.Plan.Decisions {
		if d.Home == "" || d.Account == "" {
			continue // no verified owner to write as
		}
		line := ""
		if r, ok := results[d.Tool]; ok {
			line = restartLine(d, r)
		} else if d.Notice != "" {
			line = noticeLine(d)
		}
		if line == "" {
			continue
		}
		// A hung NFS home must not stall the cycle for every other tool.
		actx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := c.ToolLog.Append(actx, d.Home, d.UID, d.GID, line)
		cancel()
		if err != nil {
			c.Log.Warn().Err(err).Str("tool", d.Tool).Msg("could not write service.log")
		}
	}
}

func restartLine(d Decision, r Result) string {
	if r.Outcome == state.OutcomeSucceeded {
		return fmt.Sprintf("restarted the %s web service: %s", d.Web, d.Reason)
	}
	return fmt.Sprintf("restart of the %s web service %s: %s — because %s", d.Web, r.Outcome, r.Detail, d.Reason)
}

func noticeLine(d Decision) string {
	switch d.Action {
	case ActionHold:
		return "restart held back: " + d.Reason
	case ActionGiveUp:
		return "gave up restarting the web service: " + d.Reason
	case ActionSkip:
		return "service.manifest ignored: " + d.Reason
	}
	return d.Reason
}
