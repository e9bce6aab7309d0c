package alerts

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"webservicemonitor/monitor"
	"webservicemonitor/state"
)

func TestClusterScope(t *testing.T) {
	refused := fmt.Errorf("%w: before recording the plan", monitor.ErrNotLeader)
	tests := []struct {
		name   string
		dryRun bool
		err    error
		want   Scope
	}{
		{"the leader's cycle", false, nil, ScopeAll},
		{"the leader's cycle without its history", false, monitor.ErrStateUnavailable, ScopeAll},
		{"a standby's cycle", true, nil, ScopeSelf},
		{"a standby's cycle without etcd", true, errors.New("reading restart history: context deadline exceeded"), ScopeSelf},
		{"an acting cycle refused for not leading", false, refused, ScopeSelf},
	}
	for _, tt := range tests {
		if got := ClusterScope(monitor.Report{DryRun: tt.dryRun}, tt.err); got != tt.want {
			t.Errorf("%s: scope %v, want %v", tt.name, got, tt.want)
		}
	}
}

// hostLifecycle is cron-b's lifecycle, one of several hosts, whose scope a
// test sets per cycle.
func hostLifecycle(mem Memory, scope *Scope) (*Lifecycle, *outbox) {
	l, out := newLifecycle(mem)
	l.Host = "cron-b"
	l.Scope = func(monitor.Report, error) Scope { return *scope }
	return l, out
}

// hostNames are names with the host label, when there is one.
func hostNames(alerts []Alert) []string {
	var out []string
	for _, a := range alerts {
		n := a.Labels["alertname"] + "/" + a.Labels["tool"] + a.Labels["source"]
		if h := a.Labels["host"]; h != "" {
			n += "@" + h
		}
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// What one host of several pushes, cycle after cycle, as its scope
// changes: its own reach to etcd always (labelled with its host), the
// other sources', the tools' and the valve's only while it leads; leaving the lead drops those
// without resolving them (the new leader carries them on).
func TestLifecycleScope(t *testing.T) {
	gaveUp := t0.Add(-time.Hour)
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Minute) }
	stateDown := []string{monitor.SourceState}
	gridDown := []string{monitor.SourceGrid}
	const (
		echo       = "WebserviceMonitorGivenUp/echo"
		valve      = "WebserviceMonitorSafetyValve/"
		stateAlert = "WebserviceMonitorSourceFailing/state@cron-b"
		gridAlert  = "WebserviceMonitorSourceFailing/grid@cron-b"
	)
	type scoped struct {
		scope Scope
		step
	}
	tests := []struct {
		name  string
		steps []scoped
	}{
		{"a standby pages for its own state source, never for tools or the valve", []scoped{
			{ScopeSelf, step{rep: report(at(0), stateDown, true, givenUp(gaveUp))}},
			{ScopeSelf, step{rep: report(at(1), stateDown, true, givenUp(gaveUp))}},
			{ScopeSelf, step{rep: report(at(2), stateDown, true, givenUp(gaveUp)), firing: []string{stateAlert}}},
			{ScopeSelf, step{rep: report(at(3), nil, true, givenUp(gaveUp)), resolved: []string{stateAlert}}},
		}},
		{"a standby leaves the grid's page to the leader, and resolves its own on stepping down", []scoped{
			{ScopeAll, step{rep: report(at(0), gridDown, true)}},
			{ScopeAll, step{rep: report(at(1), gridDown, true)}},
			{ScopeAll, step{rep: report(at(2), gridDown, true), firing: []string{gridAlert}}},
			{ScopeSelf, step{rep: report(at(3), gridDown, true), resolved: []string{gridAlert}}},
			{ScopeSelf, step{rep: report(at(4), gridDown, true)}},
		}},
		{"a leader that steps down leaves the tools' pages to the next", []scoped{
			{ScopeAll, step{rep: report(at(0), nil, true, givenUp(gaveUp)), firing: []string{echo, valve}}},
			{ScopeSelf, step{rep: report(at(1), nil, true, givenUp(gaveUp))}},
		}},
		{"quorum lost: the leader's state page goes on as a standby's, and resolves", []scoped{
			{ScopeAll, step{rep: report(at(0), nil, false, givenUp(gaveUp)), firing: []string{echo}}},
			{ScopeAll, step{rep: report(at(1), stateDown, false), err: monitor.ErrStateUnavailable, firing: []string{echo}}},
			{ScopeSelf, step{rep: report(at(2), stateDown, false)}},
			{ScopeSelf, step{rep: report(at(3), stateDown, false), firing: []string{stateAlert}}},
			{ScopeAll, step{rep: report(at(4), nil, false, givenUp(gaveUp)), firing: []string{echo}, resolved: []string{stateAlert}}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var scope Scope
			l, out := hostLifecycle(&memory{}, &scope)
			for i, s := range tt.steps {
				scope = s.scope
				l.Observe(s.rep, s.err, s.rep.Started)
				got := out.calls[len(out.calls)-1]
				if !slices.Equal(hostNames(got.firing), s.firing) || !slices.Equal(hostNames(got.resolved), s.resolved) {
					t.Fatalf("step %d: firing %v resolved %v, want %v and %v", i, hostNames(got.firing), hostNames(got.resolved), s.firing, s.resolved)
				}
			}
		})
	}
}

// On each win the memory is read again: the new leader goes on with the
// alerts as the last leader left them (their start), without another
// host's own health alerts, and without what it knew when it last led,
// whether or not it ran a standby cycle in between.
func TestLifecycleReloadsOnWinning(t *testing.T) {
	for _, standbyBetween := range []bool{true, false} {
		t.Run(fmt.Sprintf("a standby cycle between: %v", standbyBetween), func(t *testing.T) {
			firstPaged := t0.Add(-3 * time.Hour)
			mem := &memory{recs: map[string]state.AlertRecord{}}
			valve := Alert{Labels: map[string]string{"alertname": NameValve, "severity": "page"}, StartsAt: firstPaged}
			otherHost := Alert{Labels: map[string]string{"alertname": NameSourceFailing, "source": "grid", "host": "cron-a", "severity": "page"}, StartsAt: firstPaged}
			scope := ScopeAll
			l, out := hostLifecycle(mem, &scope)

			// cron-b leads (the valve holds since t0), then loses; cron-a's
			// memory says the valve holds since firstPaged, and that
			// cron-a's grid fails.
			l.Observe(report(t0, nil, true), nil, t0)
			if standbyBetween {
				scope = ScopeSelf
				l.Observe(report(t0.Add(time.Minute), nil, true), nil, t0.Add(time.Minute))
			}
			mem.recs = map[string]state.AlertRecord{}
			for _, a := range []Alert{valve, otherHost} {
				mem.recs[a.Identity()] = state.AlertRecord{Labels: a.Labels, StartsAt: a.StartsAt}
			}
			saves := mem.saves

			l.Reload()
			scope = ScopeAll
			l.Observe(report(t0.Add(2*time.Minute), nil, true), nil, t0.Add(2*time.Minute))
			got := out.calls[len(out.calls)-1]
			if len(got.firing) != 1 || got.firing[0].Identity() != valve.Identity() || !got.firing[0].StartsAt.Equal(firstPaged) {
				t.Fatalf("after the win firing %v, want the valve since %s", got.firing, firstPaged)
			}
			if len(got.resolved) != 0 {
				t.Errorf("resolved %v after the win: another host's own alerts are its own", got.resolved)
			}
			if mem.saves != saves {
				t.Errorf("the memory was written %d times, with nothing changed", mem.saves-saves)
			}
			if _, ok := mem.recs[otherHost.Identity()]; !ok {
				t.Errorf("cron-a's own alert left the memory: %v", slices.Collect(maps.Keys(mem.recs)))
			}
		})
	}
}

// failingMemory is etcd without quorum.
type failingMemory struct{ saves int }

func (m *failingMemory) Load() (map[string]state.AlertRecord, error) {
	return nil, errors.New("no quorum")
}

func (m *failingMemory) Save(map[string]state.AlertRecord) error {
	m.saves++
	return errors.New("no quorum")
}

// A memory that can be neither read nor written does not stop the pages.
func TestLifecyclePushesWithoutItsMemory(t *testing.T) {
	scope := ScopeAll
	l, out := hostLifecycle(&failingMemory{}, &scope)
	for i := range 3 {
		at := t0.Add(time.Duration(i) * time.Minute)
		l.Observe(report(at, []string{monitor.SourceState}, false), monitor.ErrStateUnavailable, at)
	}
	if got := hostNames(out.calls[2].firing); !slices.Equal(got, []string{"WebserviceMonitorSourceFailing/state@cron-b"}) {
		t.Errorf("firing %v without a memory", got)
	}
}
