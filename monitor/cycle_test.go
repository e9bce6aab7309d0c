package monitor

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"webservicemonitor/sources/manifest"
	"webservicemonitor/sources/proxy"
	"webservicemonitor/sources/qstat"
	"webservicemonitor/state"
)

// The cycle with in-memory parts: what it asks of each part and in what
// order, whatever the planner decides.

var cycleT0 = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

func cyclePolicy() Policy {
	return Policy{
		Budget: 3, Window: time.Hour, BackoffInitial: 2 * time.Minute, BackoffMax: 30 * time.Minute,
		ResetAfter: 10 * time.Minute, RegistrationGrace: 2 * time.Minute, PendingTooLong: 10 * time.Minute,
		UpTimeout: 5 * time.Minute, DeletingTooLong: 5 * time.Minute, Retention: 24 * time.Hour, ValveMin: 10, ValveFraction: 0.1,
	}
}

// events is the order in which the parts were used.
type events struct {
	mu  sync.Mutex
	log []string
}

func (e *events) add(format string, args ...any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.log = append(e.log, fmt.Sprintf(format, args...))
}

func (e *events) all() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.log)
}

type memManifests struct {
	tools []string
	err   error
}

func (m memManifests) Scan(context.Context) (manifest.Scan, error) {
	var s manifest.Scan
	if m.err != nil {
		return s, m.err // a source returns a complete snapshot or an error
	}
	for _, tool := range m.tools {
		s.Manifests = append(s.Manifests, manifest.Manifest{Tool: tool, Account: "tools." + tool, UID: 50001, GID: 50001,
			Home: "/data/project/" + tool, Web: "lighttpd", Backend: manifest.BackendGridEngine, Release: "buster"})
	}
	return s, m.err
}

type memGrid struct {
	running []string // tools with a running lighttpd job
	err     error
}

func (g memGrid) Fetch(context.Context) ([]qstat.Job, error) {
	var jobs []qstat.Job
	if g.err != nil {
		return nil, g.err
	}
	for i, tool := range g.running {
		jobs = append(jobs, qstat.Job{Number: 100 + i, Name: "lighttpd-" + tool, Owner: "tools." + tool, State: "r",
			Running: true, Started: cycleT0.Add(-time.Hour), Queue: "webgrid-lighttpd@node-1", Slots: 1})
	}
	return jobs, g.err
}

type memProxy struct {
	registered []string
	err        error
}

func (p memProxy) Fetch(context.Context) (proxy.Snapshot, error) {
	if p.err != nil {
		return proxy.Snapshot{}, p.err
	}
	s := proxy.Snapshot{Proxy: "proxy-01", Enabled: true, Registrations: map[string]proxy.Registration{}}
	for _, tool := range p.registered {
		s.Registrations[tool] = proxy.Registration{Status: "active"}
	}
	return s, nil
}

// memHistory keeps the history in memory and says, in events, what it
// recorded.
type memHistory struct {
	ev      *events
	mu      sync.Mutex
	records map[string]state.ToolRecord
	writes  int
	readErr error
}

func (h *memHistory) Read(context.Context) (HistorySnapshot, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var snap HistorySnapshot
	for _, tool := range slices.Sorted(maps.Keys(h.records)) {
		snap.Records = append(snap.Records, state.ToolHistory{Tool: tool, Record: h.records[tool]})
	}
	return snap, h.readErr
}

func (h *memHistory) record(kind string, ch state.Changes) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.writes++
	if h.records == nil {
		h.records = map[string]state.ToolRecord{}
	}
	for _, tool := range slices.Sorted(maps.Keys(ch.Put)) {
		rec := ch.Put[tool]
		h.records[tool] = rec
		if n := len(rec.Attempts); n > 0 {
			h.ev.add("%s %s %s", kind, tool, rec.Attempts[n-1].Outcome)
		}
	}
	return nil
}

func (h *memHistory) RecordAttempts(_ context.Context, ch state.Changes) error {
	return h.record("attempt", ch)
}

func (h *memHistory) RecordOutcomes(_ context.Context, ch state.Changes) error {
	return h.record("outcome", ch)
}

// attemptRecorded reports whether the tool's last attempt in the history
// is one that started.
func (h *memHistory) attemptRecorded(tool string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	a := h.records[tool].Attempts
	return len(a) > 0 && a[len(a)-1].Outcome == state.OutcomeStarted
}

// memRestarter "restarts" by saying so, one at a time, after checking that
// the attempt was recorded first. It stops starting restarts once start is
// done, and cancels start itself after stopAfter restarts (a SIGTERM in
// the middle of a wave), when set.
type memRestarter struct {
	ev        *events
	history   *memHistory
	stopAfter int
	stop      context.CancelFunc
}

func (r memRestarter) Restart(start, _ context.Context, ds []Decision, starting func(Decision) error, done func(Result)) []Result {
	var results []Result
	for i, d := range ds {
		if r.stop != nil && i == r.stopAfter {
			r.stop()
		}
		if start.Err() != nil || starting(d) != nil {
			results = append(results, Result{Tool: d.Tool, Outcome: OutcomeNotStarted})
			continue
		}
		if !r.history.attemptRecorded(d.Tool) {
			r.ev.add("restart %s BEFORE its attempt was recorded", d.Tool)
		}
		r.ev.add("restart %s", d.Tool)
		res := Result{Tool: d.Tool, Outcome: state.OutcomePendingVerification, Duration: time.Second}
		done(res)
		results = append(results, res)
	}
	return results
}

func (r memRestarter) ClearStrays(_, _ context.Context, ds []Decision) []ClearResult {
	var out []ClearResult
	for _, d := range ds {
		for _, j := range d.Clear {
			r.ev.add("clear %s job %d", d.Tool, j.Number)
			out = append(out, ClearResult{Tool: d.Tool, Job: j})
		}
	}
	return out
}

// memReporter keeps what it was given.
type memReporter struct {
	name    string
	ev      *events
	mu      sync.Mutex
	reports []Report
	errs    []error
	fail    error         // returned by every Report
	hang    chan struct{} // when set, Report blocks until it is closed
}

func (r *memReporter) Name() string { return r.name }

func (r *memReporter) Report(_ context.Context, rep Report, cycleErr error) error {
	r.mu.Lock()
	r.reports, r.errs = append(r.reports, rep), append(r.errs, cycleErr)
	r.mu.Unlock()
	r.ev.add("report %s", r.name)
	if r.hang != nil {
		<-r.hang
	}
	return r.fail
}

func (r *memReporter) seen() []Report {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.reports)
}

func (r *memReporter) CycleStarted(time.Time) { r.ev.add("started %s", r.name) }
func (r *memReporter) Progress()              { r.ev.add("progress %s", r.name) }

// rig is a cycle over in-memory parts: tools a, b, c asking for a
// lighttpd service; a runs and is registered; b and c have no job.
type rig struct {
	ev        events
	manifests memManifests
	grid      memGrid
	proxy     memProxy
	history   *memHistory
	audit     bool // no restarter
	reporters []Reporter
	timeout   time.Duration
	now       time.Time   // the cycle's time; cycleT0 when zero
	causes    CauseFinder // nil: none looked for
}

func newRig() *rig {
	r := &rig{
		manifests: memManifests{tools: []string{"a", "b", "c"}},
		grid:      memGrid{running: []string{"a"}},
		proxy:     memProxy{registered: []string{"a"}},
		timeout:   time.Minute,
	}
	r.history = &memHistory{ev: &r.ev}
	return r
}

func (r *rig) cycle(t *testing.T) *Cycle {
	t.Helper()
	parts := Parts{
		Manifests: r.manifests, Grid: r.grid, Proxy: r.proxy, History: r.history,
		Reporters: r.reporters, ReportTimeout: r.timeout, Policy: cyclePolicy(),
		Now: r.clock, Log: zerolog.Nop(), Causes: r.causes,
	}
	if !r.audit {
		parts.Restarter = memRestarter{ev: &r.ev, history: r.history}
	}
	c, err := NewCycle(parts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (r *rig) clock() time.Time {
	if r.now.IsZero() {
		return cycleT0
	}
	return r.now
}

func (r *rig) run(t *testing.T) (Report, error) {
	t.Helper()
	return r.cycle(t).Run(context.Background(), context.Background())
}

func TestCycleRecordsAttemptsBeforeRestarting(t *testing.T) {
	r := newRig()
	rep := &memReporter{name: "watch", ev: &r.ev}
	r.reporters = []Reporter{rep}
	if _, err := r.run(t); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"started watch",
		"attempt b started", "restart b", "progress watch",
		"attempt c started", "restart c", "progress watch",
		"outcome b pending-verification", "outcome c pending-verification",
		"report watch",
	}
	if got := r.ev.all(); !slices.Equal(got, want) {
		t.Errorf("the parts were used in this order:\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// memToolLog keeps the service.log lines.
type memToolLog struct {
	mu    sync.Mutex
	lines map[string][]string
}

func (l *memToolLog) Append(_ context.Context, home string, _, _ int, line string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lines == nil {
		l.lines = map[string][]string{}
	}
	l.lines[home] = append(l.lines[home], line)
	return nil
}

// A shutdown in the middle of a wave charges the restarts that started and
// nothing else: the others are not attempts, and their tools hear nothing.
func TestCycleShutdownMidWaveChargesOnlyWhatRan(t *testing.T) {
	r := newRig()
	r.manifests.tools = []string{"a", "b", "c", "d"}
	toolLog := &memToolLog{}
	r.reporters = []Reporter{ToolLogReporter{Out: toolLog, Log: zerolog.Nop()}}
	c := r.cycle(t)
	start, stop := context.WithCancel(context.Background())
	c.Restarter = memRestarter{ev: &r.ev, history: r.history, stopAfter: 1, stop: stop}
	rep, err := c.Run(start, context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := len(rep.Plan.Restarts()); got != 3 {
		t.Fatalf("%d restarts planned, want b, c, d", got)
	}
	for tool, want := range map[string]int{"b": 1, "c": 0, "d": 0} {
		if got := len(r.history.records[tool].Attempts); got != want {
			t.Errorf("%s: %d attempts recorded, want %d", tool, got, want)
		}
		if got := len(toolLog.lines["/data/project/"+tool]); got != want {
			t.Errorf("%s: %d service.log lines, want %d: %q", tool, got, want, toolLog.lines["/data/project/"+tool])
		}
	}
}

func TestCycleFailedSourceRestartsNothingThatDependsOnIt(t *testing.T) {
	broken := errors.New("broken")
	tests := []struct {
		name      string
		break_    func(*rig)
		restarted []string
	}{
		{"all sources fine", func(*rig) {}, []string{"b", "c"}},
		{"manifests failed", func(r *rig) { r.manifests.err = broken }, nil},
		{"grid failed", func(r *rig) { r.grid.err = broken }, nil},
		// A running job's registration is unknown; a tool with no job at
		// all does not depend on the proxy.
		{"proxy failed", func(r *rig) { r.proxy.err = broken; r.grid.running = []string{"a", "b"} }, []string{"c"}},
		{"history unreadable", func(r *rig) { r.history.readErr = fmt.Errorf("%w: test", ErrStateUnavailable) }, nil},
		{"history unknown", func(r *rig) { r.history.readErr = broken }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig()
			tt.break_(r)
			rep, _ := r.run(t)
			var restarted []string
			for _, res := range rep.Results {
				restarted = append(restarted, res.Tool)
			}
			if !slices.Equal(restarted, tt.restarted) {
				t.Errorf("restarted %v, want %v", restarted, tt.restarted)
			}
			for _, e := range r.ev.all() {
				if strings.HasPrefix(e, "restart ") && !slices.Contains(tt.restarted, strings.Fields(e)[1]) {
					t.Errorf("the restarter was asked: %s", e)
				}
			}
		})
	}
}

func TestCycleUnavailableHistoryStopsTheCycle(t *testing.T) {
	r := newRig()
	r.history.readErr = fmt.Errorf("%w: opening state.db: locked", ErrStateUnavailable)
	rep, err := r.run(t)
	if !errors.Is(err, ErrStateUnavailable) {
		t.Fatalf("error %v, want the history's", err)
	}
	if r.history.writes != 0 || len(rep.Plan.Decisions) != 0 {
		t.Errorf("%d writes, %d decisions after the history failed", r.history.writes, len(rep.Plan.Decisions))
	}
}

func TestCycleAuditWritesNothing(t *testing.T) {
	r := newRig()
	r.audit = true
	rep, err := r.run(t)
	if err != nil {
		t.Fatal(err)
	}
	if r.history.writes != 0 || len(rep.Results) != 0 {
		t.Errorf("audit: %d history writes, %d restarts", r.history.writes, len(rep.Results))
	}
	if !rep.DryRun || rep.Plan.Restarts() == nil {
		t.Errorf("audit report: dry run %v, would restart %v", rep.DryRun, rep.Plan.Restarts())
	}
}

func TestCycleEveryReporterSeesTheSameReport(t *testing.T) {
	r := newRig()
	var reps []*memReporter
	for _, name := range []string{"log", "metrics", "alerts"} {
		rep := &memReporter{name: name, ev: &r.ev}
		reps = append(reps, rep)
		r.reporters = append(r.reporters, rep)
	}
	rep, err := r.run(t)
	if err != nil {
		t.Fatal(err)
	}
	rep.ReportFailures = nil // filled in after the reporters ran
	for _, m := range reps {
		seen := m.seen()
		if len(seen) != 1 || !reflect.DeepEqual(seen[0], rep) {
			t.Errorf("reporter %s saw %d reports, not the cycle's", m.name, len(seen))
		}
	}
}

func TestCycleFailingOrHangingReporterDoesNotStopIt(t *testing.T) {
	r := newRig()
	hang := make(chan struct{})
	t.Cleanup(func() { close(hang) })
	failing := &memReporter{name: "failing", ev: &r.ev, fail: errors.New("disk full")}
	hanging := &memReporter{name: "hanging", ev: &r.ev, hang: hang}
	last := &memReporter{name: "last", ev: &r.ev}
	r.reporters = []Reporter{failing, hanging, last}
	// Long enough for a reporter that does its work on a loaded machine,
	// and always too short for one that never returns.
	r.timeout = 2 * time.Second
	c := r.cycle(t)

	for i, want := range [][]string{{"failing", "hanging"}, {"failing", "hanging"}} {
		rep, err := c.Run(context.Background(), context.Background())
		if err != nil {
			t.Fatalf("cycle %d: %v", i, err)
		}
		var failed []string
		for _, f := range rep.ReportFailures {
			failed = append(failed, strings.TrimSuffix(strings.Fields(f.Error())[1], ":"))
		}
		if !slices.Equal(failed, want) {
			t.Errorf("cycle %d: failures %v, want %v", i, rep.ReportFailures, want)
		}
		if len(last.seen()) != i+1 {
			t.Errorf("cycle %d: the reporter after them saw %d reports", i, len(last.seen()))
		}
		if i == 1 && !errors.Is(rep.ReportFailures[1], ErrReporterBusy) {
			t.Errorf("a reporter still hung from the last cycle was called again: %v", rep.ReportFailures[1])
		}
	}
	if n := len(hanging.seen()); n != 1 {
		t.Errorf("the hung reporter was called %d times", n)
	}
}

// hangingToolLog hangs on the homes named until the write's deadline, like
// a hung NFS server, and writes the others.
type hangingToolLog struct {
	memToolLog
	hung map[string]bool
}

func (l *hangingToolLog) Append(ctx context.Context, home string, uid, gid int, line string) error {
	if l.hung[home] {
		<-ctx.Done()
		return ctx.Err()
	}
	return l.memToolLog.Append(ctx, home, uid, gid, line)
}

// Hung homes cost their deadline, never the other tools' lines, and a
// failed write is no progress for the watchdog.
func TestToolLogReporterSurvivesHungHomes(t *testing.T) {
	var rep Report
	for i := range 40 {
		tool := fmt.Sprintf("t%02d", i)
		d := Decision{Tool: tool, Manifest: &manifest.Manifest{Tool: tool, Web: "lighttpd", Account: "tools." + tool,
			UID: 50001, GID: 50001, Home: "/data/project/" + tool}, Action: ActionRestart, Reason: "no job"}
		rep.Plan.Decisions = append(rep.Plan.Decisions, d)
		rep.Results = append(rep.Results, Result{Tool: tool, Outcome: state.OutcomeSucceeded})
	}
	// More hung homes than writers: a hung home must not hold the rest.
	hung := map[string]bool{}
	for i := range serviceLogWorkers + 2 {
		hung[fmt.Sprintf("/data/project/t%02d", i)] = true
	}
	out := &hangingToolLog{hung: hung}
	var progress atomic.Int64
	r := ToolLogReporter{Out: out, Progress: func() { progress.Add(1) }, Log: zerolog.Nop()}
	err := r.Report(context.Background(), rep, nil)
	written := 40 - len(hung)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%d of 40", len(hung))) {
		t.Errorf("error %v, want %d of 40 lines not written", err, len(hung))
	}
	if got := len(out.lines); got != written {
		t.Errorf("%d homes got their line, want %d", got, written)
	}
	if got := progress.Load(); got != int64(written) {
		t.Errorf("%d progress marks, want one per line written (%d)", got, written)
	}
}

// memLeadership is valid for its first valid checks (always when
// negative), then lost for good, as a lease that was not renewed.
type memLeadership struct {
	mu     sync.Mutex
	valid  int
	checks int
}

func (l *memLeadership) StillValid() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.checks++
	return l.valid < 0 || l.checks <= l.valid
}

// A host acts only while it is certainly the leader: a standby plans and
// reports and records nothing; a leadership lost in the middle of a wave
// stops it at the next check, and the restarts after it neither start nor
// count.
func TestCycleActsOnlyWhileLeading(t *testing.T) {
	tests := []struct {
		name      string
		valid     int      // checks answered valid
		restarted []string // restarts that ran
		charged   []string // attempts recorded as started
		writes    int      // history writes
		refused   string   // in the cycle's error; "" when none
	}{
		{"leader acts", -1, []string{"b", "c", "d"}, []string{"b", "c", "d"}, 5, ""},
		{"standby plans and reports only", 0, nil, nil, 0, "before recording the plan"},
		// Checks: the plan's record, then before and after each attempt's.
		{"lost before the 2nd restart was recorded", 3, []string{"b"}, []string{"b"}, 3, "before recording the restart of c"},
		{"lost while the 2nd restart was recorded", 4, []string{"b"}, []string{"b", "c"}, 4, "before starting the restart of c"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig()
			r.manifests.tools = []string{"a", "b", "c", "d"}
			watch := &memReporter{name: "watch", ev: &r.ev}
			r.reporters = []Reporter{watch}
			c := r.cycle(t)
			c.Leadership, c.Host = &memLeadership{valid: tt.valid}, "cron-1"
			rep, err := c.Run(context.Background(), context.Background())

			if got := len(rep.Plan.Restarts()); got != 3 {
				t.Errorf("%d restarts planned, want b, c, d whoever leads", got)
			}
			var restarted []string
			for _, res := range rep.Results {
				if res.Started() {
					restarted = append(restarted, res.Tool)
				}
			}
			if !slices.Equal(restarted, tt.restarted) {
				t.Errorf("restarted %v, want %v", restarted, tt.restarted)
			}
			var charged []string
			for _, tool := range []string{"a", "b", "c", "d"} {
				for _, a := range r.history.records[tool].Attempts {
					charged = append(charged, tool)
					if a.Host != "cron-1" {
						t.Errorf("%s: attempt recorded with host %q, want cron-1", tool, a.Host)
					}
				}
			}
			if !slices.Equal(charged, tt.charged) {
				t.Errorf("attempts recorded for %v, want %v", charged, tt.charged)
			}
			if r.history.writes != tt.writes {
				t.Errorf("%d history writes, want %d", r.history.writes, tt.writes)
			}
			checkRefusal(t, err, tt.refused)
			if seen := watch.errs; len(seen) != 1 || seen[0] != err {
				t.Errorf("the reporter was told %v, the cycle returned %v", seen, err)
			}
		})
	}
}

func checkRefusal(t *testing.T, err error, refused string) {
	t.Helper()
	switch {
	case refused == "" && err != nil:
		t.Errorf("error %v, want none", err)
	case refused != "" && (!errors.Is(err, ErrNotLeader) || !strings.Contains(fmt.Sprint(err), refused)):
		t.Errorf("error %v, want %v saying %q", err, ErrNotLeader, refused)
	}
}
