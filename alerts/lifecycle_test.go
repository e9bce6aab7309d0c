package alerts

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"webservicemonitor/monitor"
	"webservicemonitor/sources/manifest"
	"webservicemonitor/state"
)

var t0 = time.Date(2025, 3, 14, 9, 26, 0, 0, time.UTC)

// outbox records what the lifecycle hands over, cycle by cycle.
type outbox struct{ calls []notified }

type notified struct {
	firing, resolved []Alert
	resend           bool
}

func (o *outbox) Notify(firing, resolved []Alert, resend bool) {
	o.calls = append(o.calls, notified{firing, resolved, resend})
}

// memory is a state file in a map; loadErr makes Load fail while set.
type memory struct {
	recs    map[string]state.AlertRecord
	loadErr error
	saves   int
}

func (m *memory) Load() (map[string]state.AlertRecord, error) {
	if m.loadErr != nil {
		return nil, m.loadErr
	}
	return maps.Clone(m.recs), nil
}

func (m *memory) Save(recs map[string]state.AlertRecord) error {
	m.saves++
	m.recs = maps.Clone(recs)
	return nil
}

func sources(failed ...string) []monitor.SourceStatus {
	var out []monitor.SourceStatus
	for _, name := range []string{monitor.SourceManifests, monitor.SourceGrid, monitor.SourceProxy, monitor.SourceState} {
		s := monitor.SourceStatus{Name: name}
		if slices.Contains(failed, name) {
			s.Err = errors.New("running /usr/bin/qstat: exit status 1: error: commlib error: can't connect to service")
		}
		out = append(out, s)
	}
	return out
}

const echoReason = "no generic-echo job on the grid; gave up after 3 restarts in 1h0m0s; no restart before 2025-03-14T10:20:00Z unless it comes back"

func givenUp(at time.Time) monitor.Decision {
	return monitor.Decision{
		Tool: "echo", Manifest: &manifest.Manifest{Tool: "echo", Web: "generic", Backend: "gridengine"},
		Action: monitor.ActionGiveUp, Code: monitor.CodeBudgetExhausted,
		Reason: echoReason, Attempts: 3, GivenUp: true,
		Next: &state.ToolRecord{GivenUpAt: at, Attempts: []state.Attempt{
			{At: at.Add(-3 * time.Minute), Outcome: state.OutcomeFailed},
			{At: at.Add(-2 * time.Minute), Outcome: state.OutcomeFailed},
			{At: at.Add(-time.Minute), Outcome: state.OutcomeFailed,
				Reason: "no generic-echo job on the grid; restart 3 of 3 in 1h0m0s — webservice failed: exit status 1: quota exhausted"},
		}},
	}
}

func up() monitor.Decision {
	return monitor.Decision{Tool: "echo", Manifest: &manifest.Manifest{Tool: "echo", Web: "generic", Backend: "gridengine"},
		Action: monitor.ActionNone, Code: monitor.CodeHealthy, Next: &state.ToolRecord{}}
}

func report(at time.Time, failed []string, valve bool, ds ...monitor.Decision) monitor.Report {
	r := monitor.Report{Started: at, Finished: at.Add(time.Second), Sources: sources(failed...), Plan: monitor.Plan{Decisions: ds}}
	if valve {
		r.Plan.Valve = monitor.Valve{Tripped: true, Wanting: 40, Limit: 10, Reason: "safety valve: 40 of 100 tools need a restart at once (limit 10)"}
	}
	return r
}

func newLifecycle(mem Memory) (*Lifecycle, *outbox) {
	out := &outbox{}
	return &Lifecycle{
		Settings: Settings{Interval: time.Minute, SourceAfter: 3, RunbookURL: "https://runbooks.example/wsm", ToolURL: "https://{tool}.toolforge.org/"},
		Memory:   mem, Out: out, Log: zerolog.Nop(),
	}, out
}

func names(alerts []Alert) []string {
	var out []string
	for _, a := range alerts {
		out = append(out, a.Labels["alertname"]+"/"+a.Labels["tool"]+a.Labels["source"])
	}
	slices.Sort(out)
	return out
}

// step is one cycle: its report and what must be firing and resolved after.
type step struct {
	rep      monitor.Report
	err      error
	firing   []string
	resolved []string
}

func TestLifecycle(t *testing.T) {
	gaveUp := t0.Add(-5 * time.Minute)
	pending := givenUp(gaveUp)
	pending.Action, pending.Code, pending.Reason = monitor.ActionWait, monitor.CodePending, "job 1001 (generic-echo) is pending (qw)"
	gridUnknown := givenUp(gaveUp)
	gridUnknown.Action, gridUnknown.Code, gridUnknown.Reason = monitor.ActionWait, monitor.CodeGridUnknown, "grid state unknown (qstat failed this cycle); not restarting"
	skipped := givenUp(gaveUp)
	skipped.Action, skipped.Code = monitor.ActionSkip, "invalid-yaml"
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Minute) }

	tests := []struct {
		name  string
		steps []step
	}{
		{"a given-up tool pages until it is up, then resolves once", []step{
			{rep: report(at(0), nil, false, givenUp(gaveUp)), firing: []string{"WebserviceMonitorGivenUp/echo"}},
			{rep: report(at(1), nil, false, givenUp(gaveUp)), firing: []string{"WebserviceMonitorGivenUp/echo"}},
			{rep: report(at(2), nil, false, up()), resolved: []string{"WebserviceMonitorGivenUp/echo"}},
			{rep: report(at(3), nil, false, up())},
		}},
		{"still given up while its job is pending", []step{
			{rep: report(at(0), nil, false, givenUp(gaveUp)), firing: []string{"WebserviceMonitorGivenUp/echo"}},
			{rep: report(at(1), nil, false, pending), firing: []string{"WebserviceMonitorGivenUp/echo"}},
		}},
		{"a failed source or cycle is not a recovery", []step{
			{rep: report(at(0), nil, false, givenUp(gaveUp)), firing: []string{"WebserviceMonitorGivenUp/echo"}},
			{rep: report(at(1), []string{monitor.SourceGrid}, false, gridUnknown), firing: []string{"WebserviceMonitorGivenUp/echo"}},
			{rep: report(at(2), []string{monitor.SourceManifests}, false), firing: []string{"WebserviceMonitorGivenUp/echo"}},
			{rep: report(at(3), []string{monitor.SourceState}, false), err: monitor.ErrStateUnavailable, firing: []string{"WebserviceMonitorGivenUp/echo"}},
			{rep: report(at(4), nil, false, up()), resolved: []string{"WebserviceMonitorGivenUp/echo"}},
		}},
		{"a tool no longer desired, or no longer ours, resolves", []step{
			{rep: report(at(0), nil, false, givenUp(gaveUp)), firing: []string{"WebserviceMonitorGivenUp/echo"}},
			{rep: report(at(1), nil, false, skipped), resolved: []string{"WebserviceMonitorGivenUp/echo"}},
			{rep: report(at(2), nil, false, givenUp(gaveUp)), firing: []string{"WebserviceMonitorGivenUp/echo"}},
			{rep: report(at(3), nil, false), resolved: []string{"WebserviceMonitorGivenUp/echo"}},
		}},
		{"a source pages on its third failed cycle in a row", []step{
			{rep: report(at(0), []string{monitor.SourceGrid}, false)},
			{rep: report(at(1), []string{monitor.SourceGrid}, false)},
			{rep: report(at(2), nil, false)},
			{rep: report(at(3), []string{monitor.SourceGrid}, false)},
			{rep: report(at(4), []string{monitor.SourceGrid}, false)},
			{rep: report(at(5), []string{monitor.SourceGrid}, false), firing: []string{"WebserviceMonitorSourceFailing/grid"}},
			{rep: report(at(6), []string{monitor.SourceGrid}, false), firing: []string{"WebserviceMonitorSourceFailing/grid"}},
			{rep: report(at(7), nil, false), resolved: []string{"WebserviceMonitorSourceFailing/grid"}},
		}},
		{"the valve pages while it holds; a failed source leaves it be", []step{
			{rep: report(at(0), nil, true), firing: []string{"WebserviceMonitorSafetyValve/"}},
			{rep: report(at(1), []string{monitor.SourceProxy}, false), firing: []string{"WebserviceMonitorSafetyValve/"}},
			{rep: report(at(2), nil, false), resolved: []string{"WebserviceMonitorSafetyValve/"}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, out := newLifecycle(&memory{})
			firstStart := map[string]time.Time{} // a live alert keeps its original start
			for i, s := range tt.steps {
				l.Observe(s.rep, s.err, s.rep.Started)
				got := out.calls[len(out.calls)-1]
				if !slices.Equal(names(got.firing), s.firing) || !slices.Equal(names(got.resolved), s.resolved) {
					t.Fatalf("step %d: firing %v resolved %v, want %v and %v", i, names(got.firing), names(got.resolved), s.firing, s.resolved)
				}
				for _, a := range got.firing {
					if first, ok := firstStart[a.Identity()]; ok && !a.StartsAt.Equal(first) {
						t.Errorf("step %d: %s starts at %s, want its original start %s", i, a.Identity(), a.StartsAt, first)
					} else if !ok {
						firstStart[a.Identity()] = a.StartsAt
					}
					if want := s.rep.Started.Add(4 * time.Minute); !a.EndsAt.Equal(want) {
						t.Errorf("step %d: %s ends at %s, want now + 4 intervals (%s)", i, a.Identity(), a.EndsAt, want)
					}
					if a.Labels["alertname"] == NameGivenUp && !a.StartsAt.Equal(gaveUp) {
						t.Errorf("step %d: the page starts at %s, want when the tool was given up (%s)", i, a.StartsAt, gaveUp)
					}
				}
				for _, a := range got.resolved {
					if !a.StartsAt.Equal(firstStart[a.Identity()]) {
						t.Errorf("step %d: resolved %s starts at %s, want %s", i, a.Identity(), a.StartsAt, firstStart[a.Identity()])
					}
					delete(firstStart, a.Identity())
					if !a.EndsAt.Equal(s.rep.Started) {
						t.Errorf("step %d: resolved %s ends at %s, want now", i, a.Identity(), a.EndsAt)
					}
				}
			}
		})
	}
}

func TestToolAlertContent(t *testing.T) {
	l, out := newLifecycle(nil)
	l.Observe(report(t0, nil, false, givenUp(t0.Add(-time.Minute))), nil, t0)
	a := out.calls[0].firing[0]
	if want := map[string]string{"alertname": NameGivenUp, "tool": "echo", "severity": "page"}; !maps.Equal(a.Labels, want) {
		t.Errorf("labels %v, want %v", a.Labels, want)
	}
	for key, want := range map[string]string{
		"description": echoReason + ". Restart attempts: 2025-03-14T09:22:00Z failed, 2025-03-14T09:23:00Z failed, 2025-03-14T09:24:00Z failed. Last attempt: webservice failed: exit status 1: quota exhausted",
		"runbook_url": "https://runbooks.example/wsm#webservicemonitorgivenup",
		"tool_url":    "https://echo.toolforge.org/",
		"summary":     "Web service of tool echo (generic) is down and no longer restarted",
	} {
		if a.Annotations[key] != want {
			t.Errorf("annotation %s:\n got %q\nwant %q", key, a.Annotations[key], want)
		}
	}

	// While the tool is not re-judged (pending), the page keeps the reason
	// it was given up for.
	p := givenUp(t0.Add(-time.Minute))
	p.Action, p.Reason = monitor.ActionWait, "job 1001 (generic-echo) is pending (qw)"
	l.Observe(report(t0.Add(time.Minute), nil, false, p), nil, t0.Add(time.Minute))
	if d := out.calls[1].firing[0].Annotations["description"]; !strings.HasPrefix(d, echoReason) {
		t.Errorf("description while pending: %q", d)
	}
}

// After a restart the firing set comes back from the state file: alerts
// still true keep their start, those that cleared meanwhile are resolved
// once, and nothing is sent that was never firing.
func TestLifecycleAcrossRestart(t *testing.T) {
	mem := &memory{}
	gaveUp := t0.Add(-time.Hour)
	l, _ := newLifecycle(mem)
	l.Observe(report(t0, nil, true, givenUp(gaveUp)), nil, t0)
	if len(mem.recs) != 2 || mem.saves != 1 {
		t.Fatalf("recorded %v after %d saves, want the page and the valve in one", mem.recs, mem.saves)
	}
	l.Observe(report(t0.Add(time.Minute), nil, true, givenUp(gaveUp)), nil, t0.Add(time.Minute))
	if mem.saves != 1 {
		t.Errorf("an unchanged firing set was written again (%d saves)", mem.saves)
	}

	// The daemon dies; meanwhile the valve cleared. A new process:
	restarted, out := newLifecycle(mem)
	now := t0.Add(10 * time.Minute)
	restarted.Observe(report(now, nil, false, givenUp(gaveUp)), nil, now)
	got := out.calls[0]
	if !slices.Equal(names(got.firing), []string{"WebserviceMonitorGivenUp/echo"}) || !slices.Equal(names(got.resolved), []string{"WebserviceMonitorSafetyValve/"}) {
		t.Fatalf("after restart: firing %v resolved %v", names(got.firing), names(got.resolved))
	}
	if !got.firing[0].StartsAt.Equal(gaveUp) || !got.resolved[0].StartsAt.Equal(t0) {
		t.Errorf("starts changed across the restart: %s, %s", got.firing[0].StartsAt, got.resolved[0].StartsAt)
	}
	if len(mem.recs) != 1 {
		t.Errorf("state file still records %v", mem.recs)
	}
	restarted.Observe(report(now.Add(time.Minute), nil, false, givenUp(gaveUp)), nil, now.Add(time.Minute))
	if len(out.calls[1].resolved) != 0 {
		t.Errorf("the resolution was handed over twice")
	}
}

// While the state file cannot be read, nothing is written over it; once it
// can, what it remembered is judged like the rest.
func TestLifecycleUnreadableMemory(t *testing.T) {
	mem := &memory{recs: map[string]state.AlertRecord{
		identity(map[string]string{"alertname": NameValve, "severity": "page"}): {
			Labels: map[string]string{"alertname": NameValve, "severity": "page"}, StartsAt: t0.Add(-time.Hour)},
	}, loadErr: errors.New("state file is locked by PID 42")}
	l, out := newLifecycle(mem)
	l.Observe(report(t0, nil, false, givenUp(t0)), nil, t0)
	if mem.saves != 0 || len(out.calls[0].resolved) != 0 {
		t.Fatalf("saved %d times, resolved %v while the memory was unreadable", mem.saves, out.calls[0].resolved)
	}
	mem.loadErr = nil
	l.Observe(report(t0.Add(time.Minute), nil, false, givenUp(t0)), nil, t0.Add(time.Minute))
	if got := names(out.calls[1].resolved); !slices.Equal(got, []string{"WebserviceMonitorSafetyValve/"}) {
		t.Errorf("resolved %v, want the remembered valve page", got)
	}
	if _, ok := mem.recs[identity(map[string]string{"alertname": NameGivenUp, "severity": "page", "tool": "echo"})]; !ok || len(mem.recs) != 1 {
		t.Errorf("recorded %v, want only echo's page", mem.recs)
	}
}

func TestResendInterval(t *testing.T) {
	l, out := newLifecycle(nil)
	l.Settings.Interval, l.Settings.Resend = 10*time.Second, time.Minute
	for i := range 8 {
		now := t0.Add(time.Duration(i) * 10 * time.Second)
		l.Observe(report(now, nil, false, givenUp(t0)), nil, now)
	}
	var resends []bool
	for _, c := range out.calls {
		resends = append(resends, c.resend)
		if want := 4 * time.Minute; c.firing[0].EndsAt.Sub(c.firing[0].StartsAt) < want {
			t.Errorf("endsAt %s is less than 4 re-send periods ahead", c.firing[0].EndsAt)
		}
	}
	if want := []bool{true, false, false, false, false, false, true, false}; !slices.Equal(resends, want) {
		t.Errorf("re-sends %v, want %v (new, then once a minute)", resends, want)
	}
}

func TestEndsAtHorizon(t *testing.T) {
	tests := []struct {
		interval, resend, want time.Duration
	}{
		{time.Minute, 0, 4 * time.Minute},
		{time.Minute, 5 * time.Minute, 20 * time.Minute},
		{time.Second, 0, time.Minute}, // never shorter than a minute: a restart must not let a page lapse
	}
	for _, tt := range tests {
		if got := (Settings{Interval: tt.interval, Resend: tt.resend}).EndsAtHorizon(); got != tt.want {
			t.Errorf("interval %s resend %s: %s, want %s", tt.interval, tt.resend, got, tt.want)
		}
	}
}

// The page of a tool given up after restarts that were not seen up quotes
// what was seen instead, and the cause found.
func TestToolAlertQuotesTheNotUpCause(t *testing.T) {
	l, out := newLifecycle(nil)
	d := givenUp(t0.Add(-time.Minute))
	d.Next.Attempts[2] = state.Attempt{At: t0.Add(-2 * time.Minute), Outcome: state.OutcomeNotUp,
		Reason: "no generic-echo job on the grid; restart 3 of 3 in 1h0m0s",
		Detail: "not up within 5m0s after the restart command returned: no generic-echo job on the grid; error.log: ember: cannot load config"}
	l.Observe(report(t0, nil, false, d), nil, t0)
	desc := out.calls[0].firing[0].Annotations["description"]
	if want := "2025-03-14T09:24:00Z not-up. Last attempt: not up within 5m0s after the restart command returned: no generic-echo job on the grid; error.log: ember: cannot load config"; !strings.HasSuffix(desc, want) {
		t.Errorf("description %q\ndoes not end with %q", desc, want)
	}
}

// An admin's valve release answers the valve's page: it resolves.
func TestValveReleaseResolvesThePage(t *testing.T) {
	l, out := newLifecycle(nil)
	l.Observe(report(t0, nil, true), nil, t0)
	if len(out.calls[0].firing) != 1 {
		t.Fatalf("valve tripped: %+v", out.calls[0])
	}
	released := report(t0.Add(time.Minute), nil, true)
	released.Plan.Valve.Release = &state.Action{ID: 3, Kind: state.ActionValveRelease, Who: "alice", AtMost: 5}
	l.Observe(released, nil, t0.Add(time.Minute))
	last := out.calls[len(out.calls)-1]
	if len(last.firing) != 0 || len(last.resolved) != 1 {
		t.Errorf("after the release: firing %d, resolved %d; want the valve page resolved", len(last.firing), len(last.resolved))
	}
}
