package metrics

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"webservicemonitor/internal/buildinfo"
	"webservicemonitor/monitor"
	"webservicemonitor/sources/manifest"
	"webservicemonitor/state"
)

var t0 = time.Date(2025, 3, 14, 9, 26, 0, 0, time.UTC)

func TestStatus(t *testing.T) {
	no, yes := false, true
	tests := []struct {
		name string
		d    monitor.Decision
		want string
	}{
		{"up", monitor.Decision{Action: monitor.ActionNone, Code: monitor.CodeHealthy, Phase: monitor.PhaseRunning, Registered: &yes}, StatusUp},
		{"up, registration unchecked", monitor.Decision{Action: monitor.ActionNone, Code: monitor.CodeUnchecked, Phase: monitor.PhaseRunning}, StatusUp},
		{"no job, restarting", monitor.Decision{Action: monitor.ActionRestart, Code: monitor.CodeNoJob, Phase: monitor.PhaseNone}, StatusNotRunning},
		{"no job, given up", monitor.Decision{Action: monitor.ActionGiveUp, Code: monitor.CodeBudgetExhausted, Phase: monitor.PhaseNone}, StatusNotRunning},
		{"Eqw, held by the valve", monitor.Decision{Action: monitor.ActionHold, Code: monitor.CodeValve, Phase: monitor.PhaseError}, StatusError},
		{"dr", monitor.Decision{Action: monitor.ActionRestart, Code: monitor.CodeJobDeleting, Phase: monitor.PhaseDeleting}, StatusDeleting},
		{"unregistered, backing off", monitor.Decision{Action: monitor.ActionHold, Code: monitor.CodeBackoff, Phase: monitor.PhaseRunning, Registered: &no}, StatusUnregistered},
		{"registering", monitor.Decision{Action: monitor.ActionWait, Code: monitor.CodeRegistering, Phase: monitor.PhaseRunning, Registered: &no}, StatusRegistering},
		{"qw", monitor.Decision{Action: monitor.ActionWait, Code: monitor.CodePendingTooLong, Phase: monitor.PhasePending}, StatusPending},
		{"hqw", monitor.Decision{Action: monitor.ActionWait, Code: monitor.CodeHeld, Phase: monitor.PhaseHeld}, StatusHeld},
		{"s", monitor.Decision{Action: monitor.ActionWait, Code: monitor.CodeSuspended, Phase: monitor.PhaseSuspended}, StatusSuspended},
		{"qstat failed", monitor.Decision{Action: monitor.ActionWait, Code: monitor.CodeGridUnknown}, StatusUnknown},
		{"proxy failed", monitor.Decision{Action: monitor.ActionWait, Code: monitor.CodeProxyUnknown, Phase: monitor.PhaseRunning}, StatusUnknown},
		{"strange letters", monitor.Decision{Action: monitor.ActionWait, Code: monitor.CodeUnknownState, Phase: monitor.PhaseUnknown}, StatusUnknown},
		{"history unknown, job gone", monitor.Decision{Action: monitor.ActionWait, Code: monitor.CodeHistoryUnknown, Phase: monitor.PhaseNone}, StatusNotRunning},
	}
	for _, tt := range tests {
		if got := Status(tt.d); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, got, tt.want)
		}
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestErrorKind(t *testing.T) {
	exitErr := exec.Command("/bin/false").Run()
	var syntax *json.SyntaxError
	jsonErr := json.Unmarshal([]byte("{"), &struct{}{})
	errors.As(jsonErr, &syntax)
	tests := []struct {
		err  error
		want string
	}{
		{fmt.Errorf("running qstat: %w", context.DeadlineExceeded), "timeout"},
		{fmt.Errorf("fetching proxy list: %w", timeoutErr{}), "timeout"},
		{fmt.Errorf("running qstat: %w", exitErr), "exit-status"},
		{fmt.Errorf("fetching proxy list: %w", jsonErr), "invalid"},
		{fmt.Errorf("reading active proxy file: %w", &fs.PathError{Op: "open", Path: "/etc/active-proxy", Err: fs.ErrNotExist}), "io"},
		{fmt.Errorf("%w: opening state.db", state.ErrLocked), "locked"},
		{fmt.Errorf("%w: opening state.db", state.ErrNewerSchema), "newer-schema"},
		{context.Canceled, "cancelled"},
		{errors.New("qstat printed nothing"), "other"},
	}
	for _, tt := range tests {
		if got := ErrorKind(tt.err); got != tt.want {
			t.Errorf("%v: %s, want %s", tt.err, got, tt.want)
		}
		if !slices.Contains(errorKinds(), ErrorKind(tt.err)) {
			t.Errorf("%v: kind %s is not pre-initialised", tt.err, ErrorKind(tt.err))
		}
	}
}

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("/metrics: %d %s", rec.Code, rec.Body)
	}
	return rec.Body.String()
}

func decision(tool, web string, action monitor.Action, code monitor.Code, phase monitor.Phase, downSince time.Time) monitor.Decision {
	return monitor.Decision{Tool: tool, Manifest: &manifest.Manifest{Tool: tool, Web: web, Backend: "gridengine"},
		Action: action, Code: code, Phase: phase, Next: &state.ToolRecord{DownSince: downSince}, Attempts: 1}
}

func report(start time.Time, ds []monitor.Decision, results []monitor.Result, failed ...string) monitor.Report {
	r := monitor.Report{Started: start, Finished: start.Add(1500 * time.Millisecond), Plan: monitor.Plan{Now: start, Decisions: ds}, Results: results}
	for _, ds := range ds {
		if ds.Action != monitor.ActionSkip {
			r.Plan.Desired++
		}
	}
	for _, name := range sourceNames() {
		s := monitor.SourceStatus{Name: name, Items: 3, Duration: 20 * time.Millisecond}
		if slices.Contains(failed, name) {
			s.Err = fmt.Errorf("running qstat: %w", context.DeadlineExceeded)
		}
		r.Sources = append(r.Sources, s)
	}
	return r
}

// has reports whether the exposition has the sample line (labels in the
// order client_golang writes them: sorted).
func has(exposition, line string) bool {
	return slices.Contains(strings.Split(exposition, "\n"), line)
}

func TestObserveExportsAndForgets(t *testing.T) {
	m := New(buildinfo.Info{Version: "1.2.3", Commit: "abc", GoVersion: "go1.26"}, time.Minute, func() time.Time { return t0 })
	down := t0.Add(-10 * time.Minute)
	first := report(t0, []monitor.Decision{
		decision("alpha", "lighttpd", monitor.ActionNone, monitor.CodeHealthy, monitor.PhaseRunning, time.Time{}),
		decision("bravo", "uwsgi-python", monitor.ActionRestart, monitor.CodeNoJob, monitor.PhaseNone, down),
		decision("echo", "generic", monitor.ActionGiveUp, monitor.CodeBudgetExhausted, monitor.PhaseNone, down),
		{Tool: "hotel", Manifest: &manifest.Manifest{Tool: "hotel"}, Action: monitor.ActionSkip, Code: "invalid-yaml"},
		{Tool: "golf", Manifest: &manifest.Manifest{Tool: "golf", Web: "uwsgi-python", Backend: "kubernetes"}, Action: monitor.ActionSkip, Code: monitor.CodeOtherBackend},
	}, []monitor.Result{{Tool: "bravo", Outcome: state.OutcomeSucceeded}})
	m.CycleStarted(t0)
	m.Observe(first, nil)
	got := scrape(t, m)
	for _, line := range []string{
		`webservicemonitor_build_info{commit="abc",goversion="go1.26",version="1.2.3"} 1`,
		fmt.Sprintf(`webservicemonitor_tool_down_since_timestamp_seconds{status="not-running",tool="bravo",web="uwsgi-python"} %g`, float64(down.Unix())),
		fmt.Sprintf(`webservicemonitor_tool_down_since_timestamp_seconds{status="not-running",tool="echo",web="generic"} %g`, float64(down.Unix())),
		`webservicemonitor_tool_reason{code="no-job",tool="bravo"} 1`,
		`webservicemonitor_tool_reason{code="budget-exhausted",tool="echo"} 1`,
		`webservicemonitor_tool_restart_attempts{tool="bravo"} 1`,
		`webservicemonitor_tools{status="not-running"} 2`,
		`webservicemonitor_tools{status="up"} 1`,
		`webservicemonitor_tools{status="error"} 0`,
		`webservicemonitor_tools_given_up 1`,
		`webservicemonitor_restarts_started_total 1`,
		`webservicemonitor_restarts_finished_total{outcome="succeeded"} 1`,
		`webservicemonitor_restarts_finished_total{outcome="timed-out"} 0`,
		`webservicemonitor_manifests_skipped{code="invalid-yaml"} 1`,
		`webservicemonitor_cycles_total{result="ok"} 1`,
		fmt.Sprintf(`webservicemonitor_last_successful_cycle_timestamp_seconds %g`, float64(t0.Add(1500*time.Millisecond).UnixMilli())/1000),
		`webservicemonitor_cycle_duration_seconds_count 1`,
		`webservicemonitor_source_items{source="grid"} 3`,
		`webservicemonitor_source_errors_total{kind="timeout",source="grid"} 0`,
	} {
		if !has(got, line) {
			t.Errorf("missing %s", line)
		}
	}
	if strings.Contains(got, `tool="golf"`) || strings.Contains(got, `tool="hotel"`) || strings.Contains(got, `code="other-backend"`) {
		t.Errorf("a tool that is not desired has tool series:\n%s", grep(got, "golf", "hotel", "other-backend"))
	}
	if strings.Contains(got, `tool="alpha"`) || strings.Contains(got, "webservicemonitor_tool_restarts_total") {
		t.Errorf("an up tool has series, or restarts are counted per tool:\n%s", grep(got, `tool="alpha"`, "tool_restarts_total"))
	}

	// bravo came up, echo's manifest is gone, alpha went down: no stale
	// series is left behind.
	second := report(t0.Add(time.Minute), []monitor.Decision{
		decision("alpha", "lighttpd", monitor.ActionRestart, monitor.CodeJobError, monitor.PhaseError, t0),
		decision("bravo", "uwsgi-python", monitor.ActionNone, monitor.CodeHealthy, monitor.PhaseRunning, time.Time{}),
	}, nil, monitor.SourceGrid)
	second.Sources[1].Err = nil // the grid failing must not matter to this part
	m.Observe(second, nil)
	got = scrape(t, m)
	for _, gone := range []string{`tool="echo"`, `tool="bravo"`, `code="invalid-yaml"`} {
		if strings.Contains(got, gone) {
			t.Errorf("stale series %s:\n%s", gone, grep(got, gone))
		}
	}
	for _, line := range []string{
		fmt.Sprintf(`webservicemonitor_tool_down_since_timestamp_seconds{status="error",tool="alpha",web="lighttpd"} %g`, float64(t0.Unix())),
		`webservicemonitor_tool_reason{code="job-error",tool="alpha"} 1`,
		`webservicemonitor_tools{status="up"} 1`,
		`webservicemonitor_tools{status="not-running"} 0`,
	} {
		if !has(got, line) {
			t.Errorf("missing %s", line)
		}
	}

	// Without the manifests the tools are not known: their series stay as
	// they were; the source's failure is counted by kind.
	third := report(t0.Add(2*time.Minute), nil, nil, monitor.SourceManifests, monitor.SourceGrid)
	m.Observe(third, nil)
	got = scrape(t, m)
	for _, line := range []string{
		`webservicemonitor_tool_reason{code="job-error",tool="alpha"} 1`,
		`webservicemonitor_source_errors_total{kind="timeout",source="grid"} 1`,
		`webservicemonitor_source_consecutive_failures{source="manifests"} 1`,
		`webservicemonitor_cycles_total{result="source-failed"} 1`,
		fmt.Sprintf(`webservicemonitor_last_successful_cycle_timestamp_seconds %g`, float64(t0.Add(time.Minute+1500*time.Millisecond).UnixMilli())/1000),
	} {
		if !has(got, line) {
			t.Errorf("missing %s", line)
		}
	}
}

func grep(text string, parts ...string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		for _, p := range parts {
			if strings.Contains(l, p) {
				out = append(out, l)
				break
			}
		}
	}
	return strings.Join(out, "\n")
}

func TestHealthAndReadiness(t *testing.T) {
	now := t0
	m := New(buildinfo.Get(), time.Minute, func() time.Time { return now })
	h := m.Handler()
	status := func(path string) int {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec.Code
	}
	steps := []struct {
		name           string
		do             func()
		health, readyz int
	}{
		{"just started", func() {}, 200, 503},
		{"first cycle running", func() { now = now.Add(10 * time.Second); m.CycleStarted(now) }, 200, 503},
		{"first cycle done", func() { m.Observe(report(now, nil, nil), nil) }, 200, 200},
		{"a cycle started 2 intervals ago", func() { now = now.Add(2 * time.Minute) }, 200, 200},
		{"no cycle for over 3 intervals", func() { now = now.Add(61 * time.Second) }, 503, 200},
		{"the loop is back", func() { m.CycleStarted(now) }, 200, 200},
	}
	for _, s := range steps {
		s.do()
		if got := status("/healthz"); got != s.health {
			t.Errorf("%s: /healthz %d, want %d", s.name, got, s.health)
		}
		if got := status("/readyz"); got != s.readyz {
			t.Errorf("%s: /readyz %d, want %d", s.name, got, s.readyz)
		}
	}
}

func TestServerShutsDownGracefully(t *testing.T) {
	m := New(buildinfo.Get(), time.Minute, time.Now)
	srv, err := Listen("127.0.0.1:0", m.Handler())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Listen(srv.Addr(), m.Handler()); err == nil {
		t.Error("a taken port was not an error at start")
	}
	resp, err := http.Get("http://" + srv.Addr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "webservicemonitor_build_info") {
		t.Errorf("scrape over HTTP: %.200s", body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get("http://" + srv.Addr() + "/healthz"); err == nil {
		t.Error("still serving after Shutdown")
	}
}

// Two daemons in one process (tests) must not share series: each has its
// own registry, never the default one.
func TestRegistriesAreSeparate(t *testing.T) {
	a, b := New(buildinfo.Get(), time.Minute, time.Now), New(buildinfo.Get(), time.Minute, time.Now)
	a.Observe(report(t0, []monitor.Decision{decision("alpha", "lighttpd", monitor.ActionNone, monitor.CodeHealthy, monitor.PhaseRunning, time.Time{})}, nil), nil)
	if strings.Contains(scrape(t, b), `tool="alpha"`) {
		t.Error("a series of one daemon shows in the other's scrape")
	}
}

// Every metric name the shipped rules and dashboard query exists in a
// scrape (the e2e suite checks the same against the real daemon), and the
// scrape passes promtool's lint when promtool is installed.
func TestDeployQueriesNameExportedMetrics(t *testing.T) {
	m := New(buildinfo.Get(), time.Minute, time.Now)
	rep := report(t0, []monitor.Decision{
		decision("echo", "generic", monitor.ActionGiveUp, monitor.CodeBudgetExhausted, monitor.PhaseNone, t0),
		{Tool: "hotel", Manifest: &manifest.Manifest{Tool: "hotel"}, Action: monitor.ActionSkip, Code: "invalid-yaml"},
	}, []monitor.Result{{Tool: "echo", Outcome: state.OutcomeFailed}})
	// A pause in effect: its series exist only then.
	rep.Plan.Pauses = []state.Action{{ID: 4, Kind: state.ActionPause, Who: "alice", At: t0, Until: t0.Add(time.Hour), Reason: "grid maintenance"}}
	m.Observe(rep, nil)
	// One host of a cluster: the dashboard's and ha.rules.yml's series too.
	m.ExportLeadership("cron-a", func() bool { return true })
	m.SetPauseMax(24 * time.Hour)
	m.ConfigLoaded(true, t0)
	m.AlertsQueued("http://127.0.0.1:9093", 0)
	m.AlertsFiring(map[string]int{"WebserviceMonitorGivenUp": 1})
	got := scrape(t, m)
	have := map[string]bool{}
	for _, l := range strings.Split(got, "\n") {
		if i := strings.IndexAny(l, "{ "); i > 0 && !strings.HasPrefix(l, "#") {
			have[l[:i]] = true
		}
	}
	names := regexp.MustCompile(`\b(?:webservicemonitor|process)_[a-z0-9_]+\b`)
	n := 0
	for _, path := range []string{"../../deploy/prometheus/webservicemonitor.rules.yml", "../../deploy/prometheus/ha.rules.yml",
		"../../deploy/grafana/webservicemonitor-dashboard.json"} {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range names.FindAllString(string(data), -1) {
			n++
			if !have[name] {
				t.Errorf("%s queries %s, which the daemon does not export", path, name)
			}
		}
	}
	if n < 20 {
		t.Errorf("only %d metric references found in deploy/", n)
	}
	if _, err := exec.LookPath("promtool"); err == nil {
		cmd := exec.Command("promtool", "check", "metrics")
		cmd.Stdin = strings.NewReader(got)
		if out, err := cmd.CombinedOutput(); err != nil || len(out) > 0 {
			t.Errorf("promtool check metrics: %v\n%s", err, out)
		}
	}
}

// A restart is counted once, with its final outcome: when its command
// fails, or when the tool is seen up (or not) after a command that exited
// 0. Stuck jobs removed are counted by result.
func TestRestartsCountedWhenSettled(t *testing.T) {
	m := New(buildinfo.Info{Version: "1.2.3"}, time.Minute, func() time.Time { return t0 })
	bravo := decision("bravo", "lighttpd", monitor.ActionRestart, monitor.CodeJobError, monitor.PhaseError, t0)
	charlie := decision("charlie", "lighttpd", monitor.ActionNone, monitor.CodeHealthy, monitor.PhaseRunning, time.Time{})
	charlie.Settled = &state.Attempt{At: t0.Add(-time.Minute), Outcome: state.OutcomeSucceeded}
	delta := decision("delta", "lighttpd", monitor.ActionRestart, monitor.CodeNoJob, monitor.PhaseNone, t0)
	delta.Settled = &state.Attempt{At: t0.Add(-6 * time.Minute), Outcome: state.OutcomeNotUp}
	rep := report(t0, []monitor.Decision{bravo, charlie, delta}, []monitor.Result{
		{Tool: "bravo", Outcome: state.OutcomePendingVerification, Cleared: []monitor.StuckJob{{Number: 7, State: "Eqw"}}},
		{Tool: "delta", Outcome: state.OutcomeFailed, ClearFailed: true},
	})
	rep.Cleared = []monitor.ClearResult{{Tool: "charlie", Job: monitor.StuckJob{Number: 9, State: "Eqw"}}}
	m.Observe(rep, nil)
	got := scrape(t, m)
	for _, line := range []string{
		`webservicemonitor_restarts_started_total 2`,
		`webservicemonitor_restarts_finished_total{outcome="succeeded"} 1`,
		`webservicemonitor_restarts_finished_total{outcome="not-up"} 1`,
		`webservicemonitor_restarts_finished_total{outcome="failed"} 1`,
		`webservicemonitor_stuck_jobs_cleared_total{result="cleared"} 2`,
		`webservicemonitor_stuck_jobs_cleared_total{result="failed"} 1`,
	} {
		if !has(got, line) {
			t.Errorf("missing %s", line)
		}
	}
	if strings.Contains(got, `outcome="pending-verification"`) {
		t.Errorf("a restart awaiting verification was counted as finished:\n%s", grep(got, "pending-verification"))
	}
}

// seriesOf lists the exposition's samples of the per-tool metrics.
func seriesOf(exposition string) []string {
	var out []string
	for _, l := range strings.Split(exposition, "\n") {
		if strings.HasPrefix(l, "webservicemonitor_tool_") {
			out = append(out, l)
		}
	}
	return out
}

// One down episode, cycle by cycle: the status series keeps its labels
// and value while the supervisor's reason moves (restart, backoff, valve,
// a failed qstat, given up); the reason series follows the code, its old
// one deleted; attempts show only above zero; nothing is left once up.
func TestToolSeriesStableOverADownEpisode(t *testing.T) {
	m := New(buildinfo.Info{Version: "1.2.3"}, time.Minute, func() time.Time { return t0 })
	down := t0.Add(-time.Minute)
	since := fmt.Sprintf(`webservicemonitor_tool_down_since_timestamp_seconds{status="not-running",tool="bravo",web="lighttpd"} %g`, float64(down.Unix()))
	at := func(d monitor.Decision, attempts int) monitor.Decision { d.Attempts = attempts; return d }
	steps := []struct {
		name string
		d    monitor.Decision
		want []string
	}{
		{"held by the valve", at(decision("bravo", "lighttpd", monitor.ActionHold, monitor.CodeValve, monitor.PhaseNone, down), 0),
			[]string{since, `webservicemonitor_tool_reason{code="valve",tool="bravo"} 1`}},
		{"restarted", at(decision("bravo", "lighttpd", monitor.ActionRestart, monitor.CodeNoJob, monitor.PhaseNone, down), 1),
			[]string{since, `webservicemonitor_tool_reason{code="no-job",tool="bravo"} 1`, `webservicemonitor_tool_restart_attempts{tool="bravo"} 1`}},
		{"backing off", at(decision("bravo", "lighttpd", monitor.ActionHold, monitor.CodeBackoff, monitor.PhaseNone, down), 1),
			[]string{since, `webservicemonitor_tool_reason{code="backoff",tool="bravo"} 1`, `webservicemonitor_tool_restart_attempts{tool="bravo"} 1`}},
		{"qstat failed: as it was", monitor.Decision{Tool: "bravo", Manifest: &manifest.Manifest{Tool: "bravo", Web: "lighttpd"},
			Action: monitor.ActionWait, Code: monitor.CodeGridUnknown, Next: &state.ToolRecord{}},
			[]string{since, `webservicemonitor_tool_reason{code="backoff",tool="bravo"} 1`, `webservicemonitor_tool_restart_attempts{tool="bravo"} 1`}},
		{"given up", at(decision("bravo", "lighttpd", monitor.ActionGiveUp, monitor.CodeBudgetExhausted, monitor.PhaseNone, down), 3),
			[]string{since, `webservicemonitor_tool_reason{code="budget-exhausted",tool="bravo"} 1`, `webservicemonitor_tool_restart_attempts{tool="bravo"} 3`}},
		{"up again", decision("bravo", "lighttpd", monitor.ActionNone, monitor.CodeHealthy, monitor.PhaseRunning, time.Time{}), nil},
	}
	for i, s := range steps {
		m.Observe(report(t0.Add(time.Duration(i)*time.Minute), []monitor.Decision{s.d}, nil), nil)
		if got := seriesOf(scrape(t, m)); !slices.Equal(got, s.want) {
			t.Errorf("%s: per-tool series\n%s\nwant\n%s", s.name, strings.Join(got, "\n"), strings.Join(s.want, "\n"))
		}
	}
}

// A tool that was up when qstat failed gets no series (every up tool
// would); a tool in unknown state letters is exported as unknown.
func TestUnknownToolsExportNothingNew(t *testing.T) {
	m := New(buildinfo.Info{Version: "1.2.3"}, time.Minute, func() time.Time { return t0 })
	rep := report(t0, []monitor.Decision{
		{Tool: "alpha", Manifest: &manifest.Manifest{Tool: "alpha", Web: "lighttpd"}, Action: monitor.ActionWait, Code: monitor.CodeGridUnknown, Next: &state.ToolRecord{}},
		decision("kilo", "lighttpd", monitor.ActionWait, monitor.CodeUnknownState, monitor.PhaseUnknown, t0),
	}, nil)
	m.Observe(rep, nil)
	got := scrape(t, m)
	if strings.Contains(got, `tool="alpha"`) {
		t.Errorf("an up tool whose grid is unknown has series:\n%s", grep(got, `tool="alpha"`))
	}
	for _, line := range []string{
		`webservicemonitor_tools{status="unknown"} 2`,
		fmt.Sprintf(`webservicemonitor_tool_down_since_timestamp_seconds{status="unknown",tool="kilo",web="lighttpd"} %g`, float64(t0.Unix())),
		`webservicemonitor_tool_reason{code="unknown-state",tool="kilo"} 1`,
	} {
		if !has(got, line) {
			t.Errorf("missing %s", line)
		}
	}
}

// At 10,000 tools with 5 % down the scrape holds the down tools' series
// and the fixed ones, not one series per tool; every series of a tool no
// longer desired is deleted.
func TestSeriesScaleWithDownToolsNotFleet(t *testing.T) {
	m := New(buildinfo.Info{Version: "1.2.3"}, time.Minute, func() time.Time { return t0 })
	full := fleetDown(10_000, t0)
	m.Observe(full, nil)
	series, _ := scrapeSize(t, m.Handler())
	// 500 not up: 500 status, 500 reason, 375 attempts; the fixed series
	// (runtime, histograms, per-source) under 500.
	if perTool := 500 + 500 + 375; series < perTool || series > perTool+500 {
		t.Errorf("%d series at 10k tools, 5 %% down; want %d per-tool series and under 500 others", series, perTool)
	}
	rest := full
	rest.Plan.Decisions = nil
	for i, d := range full.Plan.Decisions {
		if i%20 != 0 || i%40 == 0 { // the backing-off and given-up tools are gone
			rest.Plan.Decisions = append(rest.Plan.Decisions, d)
		}
	}
	m.Observe(rest, nil)
	// Left: 125 restarted (status, reason, attempts), 125 held by the valve
	// (status, reason).
	if got := len(seriesOf(scrape(t, m))); got != 125*3+125*2 {
		t.Errorf("%d per-tool series after the backing-off and given-up tools went, want %d", got, 125*3+125*2)
	}
}
