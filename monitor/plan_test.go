package monitor

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"webservicemonitor/sources/manifest"
	"webservicemonitor/sources/proxy"
	"webservicemonitor/sources/qstat"
	"webservicemonitor/state"
)

var t0 = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

// testPolicy is the daemon's default policy (internal/config) without the
// jitter: exact times in the tables. The jitter has its own test.
func testPolicy() Policy {
	return Policy{
		Budget:            3,
		Window:            time.Hour,
		BackoffInitial:    2 * time.Minute,
		BackoffMax:        30 * time.Minute,
		ResetAfter:        10 * time.Minute,
		RegistrationGrace: 2 * time.Minute,
		PendingTooLong:    10 * time.Minute,
		UpTimeout:         5 * time.Minute,
		DeletingTooLong:   5 * time.Minute,
		Retention:         24 * time.Hour,
		ValveMin:          10,
		ValveFraction:     0.10,
	}
}

func mf(tool, web string) manifest.Manifest {
	return manifest.Manifest{Tool: tool, Account: "tools." + tool, UID: 50000, GID: 50000,
		Home: "/data/project/" + tool, Web: web, Backend: "gridengine", Release: "buster"}
}

func job(n int, tool, web, letters string) qstat.Job {
	j := qstat.Job{Number: n, Name: web + "-" + tool, Owner: "tools." + tool, State: letters, Slots: 1}
	switch Classify(letters) {
	case PhasePending, PhaseHeld, PhaseError:
		j.Submitted = t0.Add(-time.Minute)
	default:
		j.Running = true
		j.Started = t0.Add(-time.Hour)
		j.Queue = "webgrid-lighttpd@node-1"
	}
	return j
}

func registered(tools ...string) proxy.Snapshot {
	s := proxy.Snapshot{Proxy: "proxy-01", Enabled: true, Registrations: map[string]proxy.Registration{}}
	for _, t := range tools {
		s.Registrations[t] = proxy.Registration{Status: "active"}
	}
	return s
}

func attempts(ago ...time.Duration) state.ToolRecord {
	var r state.ToolRecord
	for _, a := range ago {
		r.Attempts = append(r.Attempts, state.Attempt{At: t0.Add(-a), Outcome: state.OutcomeFailed})
	}
	r.BackoffStep = len(ago)
	r.DownSince = t0.Add(-2 * time.Hour)
	return r
}

// singleToolCase is one tool's sources and history, and what its decision
// must say.
type singleToolCase struct {
	name     string
	jobs     []qstat.Job
	proxy    proxy.Snapshot
	proxyErr error
	gridErr  error
	history  state.ToolRecord
	histErr  error
	policy   func(*Policy)
	host     string // the host planning; empty on a single host

	action     Action
	code       Code
	registered string // "true", "false" or "nil"
	attempts   int
	reason     string // substring
	clear      []int  // job numbers the decision clears
	// settled is the outcome this cycle gives the restart that awaited
	// being seen up, and settledDetail a substring of its detail.
	settled       state.Outcome
	settledDetail string
}

// withJob is the job, changed by mod.
func withJob(mod func(*qstat.Job), j qstat.Job) qstat.Job { mod(&j); return j }

func TestPlanJobPhases(t *testing.T) {
	testSingleTool(t, []singleToolCase{
		{name: "transferring and registered", jobs: []qstat.Job{job(1, "a", "lighttpd", "t")}, proxy: registered("a"),
			action: ActionNone, code: CodeHealthy, registered: "true"},
		{name: "restarted-running Rr", jobs: []qstat.Job{job(1, "a", "lighttpd", "Rr")}, proxy: registered("a"),
			action: ActionNone, code: CodeHealthy},
		{name: "running with hold hr", jobs: []qstat.Job{job(1, "a", "lighttpd", "hr")}, proxy: registered("a"),
			action: ActionNone, code: CodeHealthy},
		{name: "no job", proxy: registered(), action: ActionRestart, code: CodeNoJob, attempts: 1, reason: "no lighttpd-a job on the grid"},
		{name: "job in error Eqw", jobs: []qstat.Job{job(1, "a", "lighttpd", "Eqw")}, proxy: registered(),
			action: ActionRestart, code: CodeJobError, reason: "stuck in error state Eqw", clear: []int{1}},
		{name: "job in error even if registered", jobs: []qstat.Job{job(1, "a", "lighttpd", "Eqw")}, proxy: registered("a"),
			action: ActionRestart, code: CodeJobError, clear: []int{1}},
		{name: "job being deleted dr", jobs: []qstat.Job{job(1, "a", "lighttpd", "dr")}, proxy: registered("a"),
			action: ActionWait, code: CodeJobDeleting, reason: "being deleted (dr); waiting until 2026-11-21T12:05:00Z before clearing it"},
		{name: "pending a minute", jobs: []qstat.Job{job(1, "a", "lighttpd", "qw")}, proxy: registered(),
			action: ActionWait, code: CodePending, reason: "pending (qw) for 1m0s"},
		{name: "pending too long", jobs: []qstat.Job{withJob(func(j *qstat.Job) { j.Submitted = t0.Add(-20 * time.Minute) }, job(1, "a", "lighttpd", "qw"))},
			proxy: registered(), action: ActionWait, code: CodePendingTooLong, reason: "longer than 10m0s"},
		{name: "held hqw", jobs: []qstat.Job{job(1, "a", "lighttpd", "hqw")}, proxy: registered(), action: ActionWait, code: CodeHeld},
		{name: "suspended s", jobs: []qstat.Job{job(1, "a", "lighttpd", "s")}, proxy: registered("a"), action: ActionWait, code: CodeSuspended},
		{name: "queue suspended S", jobs: []qstat.Job{job(1, "a", "lighttpd", "S")}, proxy: registered("a"), action: ActionWait, code: CodeSuspended},
		{name: "unknown letters", jobs: []qstat.Job{job(1, "a", "lighttpd", "rz")}, proxy: registered("a"), action: ActionWait, code: CodeUnknownState},
		{name: "same name, other owner does not count",
			jobs:  []qstat.Job{withJob(func(j *qstat.Job) { j.Owner = "tools.mallory" }, job(1, "a", "lighttpd", "r"))},
			proxy: registered("a"), action: ActionRestart, code: CodeNoJob},
		{name: "job of another web type does not count", jobs: []qstat.Job{job(1, "a", "uwsgi-python", "r")}, proxy: registered("a"),
			action: ActionRestart, code: CodeNoJob},
		{name: "duplicate names: best job wins", jobs: []qstat.Job{job(1, "a", "lighttpd", "Eqw"), job(2, "a", "lighttpd", "r")}, proxy: registered("a"),
			action: ActionNone, code: CodeHealthy, reason: "job 2 (lighttpd-a; also job 1 in Eqw) is running (r) and registered with proxy proxy-01; clearing job 1 (Eqw), stuck beside it", clear: []int{1}},
		{name: "grid source failed", gridErr: errors.New("qstat exit 1"), proxy: registered(),
			action: ActionWait, code: CodeGridUnknown, registered: "nil"},
	})
}

func TestPlanRegistration(t *testing.T) {
	testSingleTool(t, []singleToolCase{
		{name: "running and registered", jobs: []qstat.Job{job(1, "a", "lighttpd", "r")}, proxy: registered("a"),
			action: ActionNone, code: CodeHealthy, registered: "true", reason: "job 1 (lighttpd-a) is running (r) and registered with proxy proxy-01"},
		{name: "running, unregistered (seed 000)", jobs: []qstat.Job{job(1, "a", "lighttpd", "r")}, proxy: registered(),
			action: ActionRestart, code: CodeUnregistered, registered: "false", attempts: 1, reason: "not registered with proxy proxy-01; restart 1 of 3 in 1h0m0s"},
		{name: "running, registration inactive", jobs: []qstat.Job{job(1, "a", "lighttpd", "r")},
			proxy:  proxy.Snapshot{Proxy: "p", Enabled: true, Registrations: map[string]proxy.Registration{"a": {Status: "inactive"}}},
			action: ActionRestart, code: CodeUnregistered, registered: "false", reason: `is "inactive"`},
		{name: "fresh job gets the registration grace", jobs: []qstat.Job{withJob(func(j *qstat.Job) { j.Started = t0.Add(-30 * time.Second) }, job(1, "a", "lighttpd", "r"))},
			proxy: registered(), action: ActionWait, code: CodeRegistering, registered: "false"},
		{name: "proxy failed, running job", jobs: []qstat.Job{job(1, "a", "lighttpd", "r")}, proxyErr: errors.New("500"),
			action: ActionWait, code: CodeProxyUnknown, registered: "nil"},
		{name: "proxy failed, no job: grid alone says down", proxyErr: errors.New("500"),
			action: ActionRestart, code: CodeNoJob},
		{name: "proxy checking off", jobs: []qstat.Job{job(1, "a", "lighttpd", "r")}, proxy: proxy.Snapshot{},
			action: ActionNone, code: CodeUnchecked, registered: "nil"},
	})
}

func TestPlanRestartPolicy(t *testing.T) {
	testSingleTool(t, []singleToolCase{
		{name: "backoff after one attempt", proxy: registered(), history: attempts(time.Minute),
			action: ActionHold, code: CodeBackoff, attempts: 1, reason: "next restart not before 2026-11-21T12:01:00Z"},
		{name: "backoff elapsed", proxy: registered(), history: attempts(3 * time.Minute),
			action: ActionRestart, code: CodeNoJob, attempts: 2, reason: "restart 2 of 3"},
		{name: "backoff doubles", proxy: registered(), history: attempts(10*time.Minute, 3*time.Minute),
			action: ActionHold, code: CodeBackoff, attempts: 2, reason: "not before 2026-11-21T12:01:00Z"},
		{name: "budget spent: give up", proxy: registered(), history: attempts(50*time.Minute, 40*time.Minute, 30*time.Minute),
			action: ActionGiveUp, code: CodeBudgetExhausted, attempts: 3, reason: "gave up after 3 restarts in 1h0m0s; no restart before 2026-11-21T12:10:00Z"},
		{name: "window expired: restart again", proxy: registered(), history: attempts(70*time.Minute, 40*time.Minute, 30*time.Minute),
			action: ActionRestart, code: CodeNoJob, attempts: 3},
		{name: "given up but pending: wait", jobs: []qstat.Job{job(1, "a", "lighttpd", "qw")}, proxy: registered(),
			history: attempts(50*time.Minute, 40*time.Minute, 30*time.Minute), action: ActionWait, code: CodePending, attempts: 3},
		{name: "given up, then seen up", jobs: []qstat.Job{job(1, "a", "lighttpd", "r")}, proxy: registered("a"),
			history: attempts(50*time.Minute, 40*time.Minute, 30*time.Minute), action: ActionNone, code: CodeHealthy, attempts: 3},
		{name: "history unavailable", proxy: registered(), histErr: errors.New("locked"),
			action: ActionWait, code: CodeHistoryUnknown},
		{name: "custom budget of 1", proxy: registered(), history: attempts(30 * time.Minute), policy: func(p *Policy) { p.Budget = 1 },
			action: ActionGiveUp, code: CodeBudgetExhausted},
	})
}

// startedBy is a history whose last attempt, started ago by host, has
// no recorded end, after earlier failed ones.
func startedBy(host string, ago time.Duration, earlier ...time.Duration) state.ToolRecord {
	r := attempts(earlier...)
	r.Attempts = append(r.Attempts, state.Attempt{At: t0.Add(-ago), Outcome: state.OutcomeStarted, Host: host})
	r.BackoffStep++
	return r
}

// A restart another host started and whose end is not recorded (a deposed
// leader's, still running) holds the tool until it cannot be running any
// more: two hosts' restarts of one tool never interleave.
func TestPlanInFlightElsewhere(t *testing.T) {
	bound := func(p *Policy) { p.InFlightElsewhere = 6 * time.Minute } // restart timeout + grace
	testSingleTool(t, []singleToolCase{
		{name: "another host's restart may still run", host: "cron-1", policy: bound, proxy: registered(),
			history: startedBy("cron-2", 3*time.Minute), action: ActionHold, code: CodeInFlightElsewhere, attempts: 1,
			reason: "restart started by host cron-2 at 2026-11-21T11:57:00Z has not ended, so not restarting before 2026-11-21T12:03:00Z"},
		{name: "held before the budget gives it up", host: "cron-1", policy: bound, proxy: registered(),
			history: startedBy("cron-2", 3*time.Minute, 40*time.Minute, 30*time.Minute), action: ActionHold, code: CodeInFlightElsewhere, attempts: 3},
		{name: "another host's restart is past its bound", host: "cron-1", policy: bound, proxy: registered(),
			history: startedBy("cron-2", 7*time.Minute), action: ActionRestart, code: CodeNoJob, attempts: 2},
		{name: "another host's restart ended", host: "cron-1", policy: bound, proxy: registered(),
			history: attempts(3 * time.Minute), action: ActionRestart, code: CodeNoJob, attempts: 2},
		{name: "this host's own unfinished restart", host: "cron-1", policy: bound, proxy: registered(),
			history: startedBy("cron-1", 3*time.Minute), action: ActionRestart, code: CodeNoJob, attempts: 2},
		{name: "single host: attempts name no host", policy: bound, proxy: registered(),
			history: startedBy("", 3*time.Minute), action: ActionRestart, code: CodeNoJob, attempts: 2},
		{name: "a single host reading an HA history", policy: bound, proxy: registered(),
			history: startedBy("cron-2", 3*time.Minute), action: ActionHold, code: CodeInFlightElsewhere},
		{name: "no bound set: never held", host: "cron-1", proxy: registered(),
			history: startedBy("cron-2", 3*time.Minute), action: ActionRestart, code: CodeNoJob, attempts: 2},
	})
}

// testSingleTool plans each case for one tool, "a", and checks its decision.
func testSingleTool(t *testing.T, tests []singleToolCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testPolicy()
			if tt.policy != nil {
				tt.policy(&p)
			}
			in := Inputs{
				Manifests: manifest.Scan{Manifests: []manifest.Manifest{mf("a", "lighttpd")}},
				Jobs:      tt.jobs, GridErr: tt.gridErr,
				Proxy: tt.proxy, ProxyErr: tt.proxyErr,
				History: state.RecordsOf(map[string]state.ToolRecord{"a": tt.history}), HistoryErr: tt.histErr,
				Now: t0, Host: tt.host,
			}
			plan := MakePlan(in, p)
			if len(plan.Decisions) != 1 {
				t.Fatalf("got %d decisions, want 1: %+v", len(plan.Decisions), plan.Decisions)
			}
			d := plan.Decisions[0]
			if d.Action != tt.action || d.Code != tt.code {
				t.Errorf("decision = %s/%s, want %s/%s (reason: %s)", d.Action, d.Code, tt.action, tt.code, d.Reason)
			}
			if tt.reason != "" && !strings.Contains(d.Reason, tt.reason) {
				t.Errorf("reason %q does not contain %q", d.Reason, tt.reason)
			}
			if tt.attempts != 0 && d.Attempts != tt.attempts {
				t.Errorf("attempts = %d, want %d", d.Attempts, tt.attempts)
			}
			if tt.registered != "" {
				got := "nil"
				if d.Registered != nil {
					got = fmt.Sprint(*d.Registered)
				}
				if got != tt.registered {
					t.Errorf("registered = %s, want %s", got, tt.registered)
				}
			}
			if d.Reason == "" {
				t.Error("empty reason")
			}
			checkClearAndSettled(t, d, tt)
		})
	}
}

// decideRecord plans tool "a" from its jobs, the proxy's list and its record.
func decideRecord(jobs []qstat.Job, reg proxy.Snapshot, rec state.ToolRecord) Decision {
	in := Inputs{Manifests: manifest.Scan{Manifests: []manifest.Manifest{mf("a", "lighttpd")}}, Now: t0, LastCycle: t0.Add(-time.Minute)}
	in.Jobs, in.Proxy, in.History = jobs, reg, state.RecordsOf(map[string]state.ToolRecord{"a": rec})
	return MakePlan(in, testPolicy()).Decisions[0]
}

func TestPlanRecords(t *testing.T) {
	decide := decideRecord
	up := []qstat.Job{job(1, "a", "lighttpd", "r")}

	t.Run("restart records a started attempt and a backoff step", func(t *testing.T) {
		d := decide(nil, registered(), state.ToolRecord{})
		r := d.Next
		if !d.RecordChanged || len(r.Attempts) != 1 || r.Attempts[0].Outcome != state.OutcomeStarted || !r.Attempts[0].At.Equal(t0) {
			t.Fatalf("record = %+v", r)
		}
		if r.BackoffStep != 1 || !r.DownSince.Equal(t0) || d.Notice != "" {
			t.Errorf("record = %+v notice %q", r, d.Notice)
		}
	})
	t.Run("going down remembers the last cycle it was up", func(t *testing.T) {
		d := decide(nil, registered(), state.ToolRecord{UpSince: t0.Add(-time.Hour), LastSeenUp: t0.Add(-time.Hour)})
		if !d.Next.LastSeenUp.Equal(t0.Add(-time.Minute)) || !d.Next.UpSince.IsZero() {
			t.Errorf("record = %+v", d.Next)
		}
	})
	t.Run("a stable up tool writes nothing", func(t *testing.T) {
		rec := state.ToolRecord{UpSince: t0.Add(-time.Hour), LastSeenUp: t0.Add(-time.Hour)}
		if d := decide(up, registered("a"), rec); d.RecordChanged {
			t.Errorf("record changed: %+v", d.Next)
		}
	})
	t.Run("up long enough forgets the backoff", func(t *testing.T) {
		rec := attempts(30 * time.Minute)
		rec.DownSince, rec.UpSince = time.Time{}, t0.Add(-15*time.Minute)
		d := decide(up, registered("a"), rec)
		if d.Next.BackoffStep != 0 || len(d.Next.Attempts) != 1 {
			t.Errorf("record = %+v", d.Next)
		}
	})
	t.Run("up briefly keeps the backoff", func(t *testing.T) {
		rec := attempts(30 * time.Minute)
		rec.DownSince, rec.UpSince = time.Time{}, t0.Add(-5*time.Minute)
		if d := decide(up, registered("a"), rec); d.Next.BackoffStep != 1 {
			t.Errorf("record = %+v", d.Next)
		}
	})
}

func TestPlanRecordsGiveUpAndRetention(t *testing.T) {
	decide := decideRecord
	up := []qstat.Job{job(1, "a", "lighttpd", "r")}
	t.Run("give-up is noted once", func(t *testing.T) {
		rec := attempts(50*time.Minute, 40*time.Minute, 30*time.Minute)
		d := decide(nil, registered(), rec)
		if d.Action != ActionGiveUp || d.Notice == "" || !d.Next.GivenUpAt.Equal(t0) || !d.GivenUp {
			t.Fatalf("first give-up: %s notice %q record %+v", d.Action, d.Notice, d.Next)
		}
		again := decide(nil, registered(), *d.Next)
		if again.Notice != "" || again.RecordChanged {
			t.Errorf("second give-up: notice %q changed %v", again.Notice, again.RecordChanged)
		}
		back := decide(up, registered("a"), *d.Next)
		if !back.Next.GivenUpAt.IsZero() || back.Next.Notice != "" {
			t.Errorf("back up: %+v", back.Next)
		}
	})
	t.Run("attempts past the retention are pruned", func(t *testing.T) {
		rec := attempts(30*time.Hour, 2*time.Hour)
		d := decide(up, registered("a"), rec)
		if len(d.Next.Attempts) != 1 || !d.RecordChanged {
			t.Errorf("record = %+v", d.Next)
		}
	})
}

func TestPlanOtherTools(t *testing.T) {
	k8s := mf("k", "uwsgi-python")
	k8s.Backend = "kubernetes"
	stopped := mf("s", "")
	in := Inputs{
		Manifests: manifest.Scan{
			Manifests: []manifest.Manifest{k8s, stopped},
			Skipped: []manifest.Skipped{{Tool: "bad", Home: "/data/project/bad", Code: manifest.ReasonInvalidYAML,
				Reason: "/data/project/bad/service.manifest: invalid YAML", Account: &manifest.Owner{Name: "tools.bad", UID: 50001, GID: 50001}}},
		},
		Proxy: registered("k", "ghost", "s"),
		Now:   t0,
	}
	plan := MakePlan(in, testPolicy())
	got := map[string]string{}
	for _, d := range plan.Decisions {
		got[d.Tool] = string(d.Action) + "/" + string(d.Code)
		if d.Action == ActionRestart {
			t.Errorf("%s restarted", d.Tool)
		}
	}
	want := map[string]string{
		"k":     "skip/" + string(CodeOtherBackend),
		"bad":   "skip/" + manifest.ReasonInvalidYAML,
		"ghost": "skip/" + string(CodeProxyOnly),
		"s":     "skip/" + string(CodeProxyOnly),
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("decisions = %v, want %v", got, want)
	}
	if plan.Desired != 0 {
		t.Errorf("desired = %d, want 0", plan.Desired)
	}
	for _, d := range plan.Decisions {
		if d.Tool == "bad" && (d.Notice == "" || d.Account != "tools.bad") {
			t.Errorf("skipped manifest not told to its tool: %+v", d)
		}
	}
}

func TestPlanValve(t *testing.T) {
	tests := []struct {
		name          string
		desired, down int
		min           int
		fraction      float64
		allow         int
		wantTripped   bool
		wantRestarts  int
	}{
		{"few down", 100, 5, 10, 0.1, 0, false, 5},
		{"exactly at the limit", 100, 10, 10, 0.1, 0, false, 10},
		{"one over", 100, 11, 10, 0.1, 0, true, 0},
		{"fraction wins on a big platform", 1000, 100, 10, 0.1, 0, false, 100},
		{"fraction exceeded on a big platform", 1000, 101, 10, 0.1, 0, true, 0},
		{"failover: everything unregistered", 50, 50, 10, 0.1, 0, true, 0},
		{"valve lets a few through", 50, 50, 10, 0.1, 3, true, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testPolicy()
			p.ValveMin, p.ValveFraction, p.ValveAllow = tt.min, tt.fraction, tt.allow
			in := Inputs{Proxy: registered(), Now: t0}
			for i := range tt.desired {
				tool := fmt.Sprintf("t%04d", i)
				in.Manifests.Manifests = append(in.Manifests.Manifests, mf(tool, "lighttpd"))
				in.Jobs = append(in.Jobs, job(i+1, tool, "lighttpd", "r"))
				if i >= tt.down {
					in.Proxy.Registrations[tool] = proxy.Registration{Status: "active"}
				}
			}
			plan := MakePlan(in, p)
			if plan.Valve.Tripped != tt.wantTripped || len(plan.Restarts()) != tt.wantRestarts {
				t.Fatalf("valve %+v, %d restarts; want tripped=%v, %d restarts", plan.Valve, len(plan.Restarts()), tt.wantTripped, tt.wantRestarts)
			}
			if tt.wantTripped {
				held := 0
				for _, d := range plan.Decisions {
					if d.Code == CodeValve {
						held++
						if d.Notice != "" || len(d.Next.Attempts) != 0 {
							t.Fatalf("valve hold wrote a notice or an attempt: %+v", d)
						}
						if !strings.Contains(d.Reason, "safety valve") {
							t.Fatalf("reason %q", d.Reason)
						}
					}
				}
				if held != tt.down-tt.allow {
					t.Errorf("held %d, want %d", held, tt.down-tt.allow)
				}
			}
		})
	}
}

func TestBackoffJitter(t *testing.T) {
	p := testPolicy()
	p.Jitter = BackoffJitter
	seen := map[time.Duration]bool{}
	for i := range 50 {
		last := t0.Add(time.Duration(i) * time.Second)
		d := p.backoffDelay(fmt.Sprintf("tool%d", i), 1, last)
		if d < 90*time.Second || d > 150*time.Second {
			t.Fatalf("delay %s outside 2m ±25%%", d)
		}
		if d != p.backoffDelay(fmt.Sprintf("tool%d", i), 1, last) {
			t.Fatal("jitter is not deterministic")
		}
		seen[d] = true
	}
	if len(seen) < 10 {
		t.Errorf("jitter spreads too little: %d distinct delays", len(seen))
	}
	if d := p.backoffDelay("x", 20, t0); d > time.Duration(float64(p.BackoffMax)*1.25) {
		t.Errorf("delay %s over the cap", d)
	}
}

func TestPlanIsLinearInJobs(t *testing.T) {
	// A tool's job is one index lookup: unrelated jobs must not change a decision.
	in := Inputs{Manifests: manifest.Scan{Manifests: []manifest.Manifest{mf("a", "lighttpd")}}, Proxy: registered("a"), Now: t0}
	for i := range 10000 {
		in.Jobs = append(in.Jobs, job(i+10, fmt.Sprintf("other%d", i), "lighttpd", "r"))
	}
	in.Jobs = append(in.Jobs, job(1, "a", "lighttpd", "r"))
	if d := MakePlan(in, testPolicy()).Decisions[0]; d.Action != ActionNone {
		t.Errorf("got %s: %s", d.Action, d.Reason)
	}
}

// Large platforms are planned across cores; the plan must not depend on it.
func TestPlanSameOnOneCoreOrMany(t *testing.T) {
	in := Inputs{Proxy: registered(), Now: t0}
	history := map[string]state.ToolRecord{}
	states := []string{"r", "Eqw", "qw", "dr", "hqw", "s", ""}
	for i := range 20000 {
		tool := fmt.Sprintf("t%05d", i)
		in.Manifests.Manifests = append(in.Manifests.Manifests, mf(tool, "lighttpd"))
		if st := states[i%len(states)]; st != "" {
			in.Jobs = append(in.Jobs, job(i+1, tool, "lighttpd", st))
		}
		if i%3 == 0 {
			in.Proxy.Registrations[tool] = proxy.Registration{Status: "active"}
		}
		if i%11 == 0 {
			history[tool] = attempts(time.Duration(i%90) * time.Minute)
		}
	}
	in.History = state.RecordsOf(history)
	p := testPolicy()
	p.ValveFraction = 1
	many := MakePlan(in, p)
	prev := runtime.GOMAXPROCS(1)
	one := MakePlan(in, p)
	runtime.GOMAXPROCS(prev)
	if !reflect.DeepEqual(many, one) {
		t.Fatal("the plan differs between one core and many")
	}
	if many.Desired != 20000 || len(many.Restarts()) == 0 {
		t.Fatalf("desired %d, restarts %d", many.Desired, len(many.Restarts()))
	}
}

// The sources hand manifests and history over sorted by tool; a caller that
// does not must get the same plan.
func TestPlanSameFromUnsortedInputs(t *testing.T) {
	in := Inputs{Proxy: registered(), Now: t0, LastCycle: t0.Add(-time.Minute)}
	history := map[string]state.ToolRecord{}
	for i := range 300 {
		tool := fmt.Sprintf("t%03d", i)
		in.Manifests.Manifests = append(in.Manifests.Manifests, mf(tool, "lighttpd"))
		if i%4 != 0 {
			in.Jobs = append(in.Jobs, job(i+1, tool, "lighttpd", "r"))
		}
		if i%2 == 0 {
			in.Proxy.Registrations[tool] = proxy.Registration{Status: "active"}
		}
		if i%3 == 0 {
			history[tool] = attempts(time.Duration(i%50) * time.Minute)
		}
	}
	history["gone"] = attempts(48 * time.Hour) // forgotten either way
	in.History = state.RecordsOf(history)
	p := testPolicy()
	p.ValveFraction = 1
	sorted := MakePlan(in, p)

	shuffled := in
	shuffled.Manifests.Manifests = slices.Clone(in.Manifests.Manifests)
	shuffled.History = slices.Clone(in.History)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(shuffled.Manifests.Manifests), reflect.Swapper(shuffled.Manifests.Manifests))
	rand.New(rand.NewPCG(3, 4)).Shuffle(len(shuffled.History), reflect.Swapper(shuffled.History))
	if got := MakePlan(shuffled, p); !reflect.DeepEqual(got, sorted) {
		t.Fatal("the plan differs when the manifests and the history come unsorted")
	}
	onlyHistory := in
	onlyHistory.History = shuffled.History
	if got := MakePlan(onlyHistory, p); !reflect.DeepEqual(got, sorted) {
		t.Fatal("the plan differs when the history comes unsorted")
	}
	if len(sorted.Forget) != 1 || sorted.Forget[0] != "gone" || len(sorted.Restarts()) == 0 {
		t.Fatalf("forget %v, %d restarts", sorted.Forget, len(sorted.Restarts()))
	}
}

func TestPlanSkipSentences(t *testing.T) {
	k8s := mf("k", "php7.4")
	k8s.Backend = "kubernetes"
	in := Inputs{Manifests: manifest.Scan{Manifests: []manifest.Manifest{k8s}}, Proxy: registered("ghost"), Now: t0}
	want := map[string]string{
		"ghost": "registered with proxy proxy-01 but no service.manifest asks for a web service; not touched",
		"k":     `backend "kubernetes" is not managed by this supervisor`,
	}
	plan := MakePlan(in, testPolicy())
	for _, d := range plan.Decisions {
		if d.Reason != want[d.Tool] {
			t.Errorf("%s: reason %q, want %q", d.Tool, d.Reason, want[d.Tool])
		}
	}
	if len(plan.Decisions) != len(want) {
		t.Errorf("%d decisions, want %d", len(plan.Decisions), len(want))
	}
}
