package monitor

import (
	"strings"
	"testing"
	"time"

	"webservicemonitor/sources/manifest"
	"webservicemonitor/state"
)

// action is an admin action made ago, seen by the daemon already.
func action(id uint64, kind state.ActionKind, ago time.Duration, tools ...string) state.Action {
	a := state.Action{ID: id, Kind: kind, Tools: tools, Who: "alice", At: t0.Add(-ago), Reason: "grid maintenance", Seen: t0.Add(-ago)}
	switch kind {
	case state.ActionPause:
		a.Until = a.At.Add(time.Hour)
	case state.ActionResume, state.ActionForget:
		a.Ended, a.EndedBecause = a.At, "done"
	case state.ActionValveRelease:
		a.AtMost = 2
	}
	return a
}

// adminCase is tools alpha..delta asking for lighttpd with no job (so each
// wants a restart unless its history holds it), their histories, the admin
// actions, and what must come of them.
type adminCase struct {
	name    string
	history map[string]state.ToolRecord
	skipped []string // tools whose manifest is refused
	actions []state.Action
	policy  func(*Policy)

	want      map[string]Code // each tool's resulting code (restart or not: see restarts)
	restarts  []string
	reason    map[string]string // substrings of reasons
	ended     map[uint64]string // actions ended this cycle, with a substring of why
	pauses    int               // pauses in effect
	released  bool              // the valve lets restarts through by a release
	firstSeen int
}

func TestPlanAdminActions(t *testing.T) {
	inBackoff := attempts(time.Minute)
	givenUp := attempts(30*time.Minute, 20*time.Minute, 10*time.Minute)
	forgiven := givenUp
	forgiven.Attempts = append([]state.Attempt(nil), givenUp.Attempts...)
	for i := range forgiven.Attempts {
		forgiven.Attempts[i].Forgiven = true
	}
	forgiven.BackoffStep = 0
	all := []string{"alpha", "bravo", "charlie", "delta"}
	tests := []adminCase{
		{name: "platform pause holds every restart, and the valve does not count them",
			actions:  []state.Action{action(1, state.ActionPause, time.Minute)},
			want:     map[string]Code{"alpha": CodePaused, "delta": CodePaused},
			reason:   map[string]string{"alpha": `no lighttpd-alpha job on the grid; not restarted: paused by alice at 2026-11-21T11:59:00Z until 2026-11-21T12:59:00Z: "grid maintenance" (action 1)`},
			pauses:   1,
			restarts: nil},
		{name: "a pause of named tools holds only them",
			actions:  []state.Action{action(1, state.ActionPause, time.Minute, "alpha", "bravo")},
			want:     map[string]Code{"alpha": CodePaused, "bravo": CodePaused, "charlie": CodeNoJob},
			restarts: []string{"charlie", "delta"}, pauses: 1},
		{name: "a pause past its declared end is over",
			actions:  []state.Action{action(1, state.ActionPause, 2*time.Hour)},
			restarts: all, ended: map[uint64]string{1: "its declared end passed"}},
		{name: "a resume lifts the platform pause",
			actions:  []state.Action{action(1, state.ActionPause, 2*time.Minute), action(2, state.ActionResume, time.Minute)},
			restarts: all, ended: map[uint64]string{1: "resumed by alice"}},
		{name: "resuming one tool lifts the pause for it alone",
			actions:  []state.Action{action(1, state.ActionPause, 2*time.Minute), action(2, state.ActionResume, time.Minute, "alpha")},
			restarts: []string{"alpha"}, pauses: 1},
		{name: "a resume made before the pause lifts nothing",
			actions:  []state.Action{action(2, state.ActionResume, 3*time.Minute), action(3, state.ActionPause, 2*time.Minute)},
			restarts: nil, pauses: 1},
		{name: "retry restarts a tool held by its backoff, and is carried out",
			history:  map[string]state.ToolRecord{"alpha": inBackoff, "bravo": inBackoff},
			actions:  []state.Action{action(4, state.ActionRetry, 30*time.Second, "alpha")},
			want:     map[string]Code{"alpha": CodeNoJob, "bravo": CodeBackoff},
			reason:   map[string]string{"alpha": "restart asked by alice"},
			restarts: []string{"alpha", "charlie", "delta"}, ended: map[uint64]string{4: "carried out"}},
		{name: "retry restarts a given-up tool",
			history:  map[string]state.ToolRecord{"alpha": givenUp},
			actions:  []state.Action{action(4, state.ActionRetry, time.Minute, "alpha")},
			restarts: all, ended: map[uint64]string{4: "carried out"}},
		{name: "retry of a refused manifest is not carried out, and says so",
			skipped:  []string{"alpha"},
			actions:  []state.Action{action(4, state.ActionRetry, time.Minute, "alpha")},
			reason:   map[string]string{"alpha": "restart asked by alice at 2026-11-21T11:59:00Z: \"grid maintenance\" (action 4) not carried out"},
			restarts: []string{"bravo", "charlie", "delta"}},
		{name: "a retry not carried out lapses",
			skipped:  []string{"alpha"},
			actions:  []state.Action{action(4, state.ActionRetry, 2*time.Hour, "alpha")},
			restarts: []string{"bravo", "charlie", "delta"}, ended: map[uint64]string{4: "lapsed"}},
		{name: "a paused tool is not retried",
			history:  map[string]state.ToolRecord{"alpha": inBackoff},
			actions:  []state.Action{action(1, state.ActionPause, 2*time.Minute, "alpha"), action(4, state.ActionRetry, 30*time.Second, "alpha")},
			want:     map[string]Code{"alpha": CodePaused},
			restarts: []string{"bravo", "charlie", "delta"}, pauses: 1},
		{name: "forgiven attempts count for nothing",
			history:  map[string]state.ToolRecord{"alpha": forgiven},
			restarts: all, reason: map[string]string{"alpha": "restart 1 of 3"}},
		{name: "a valve release lets at most N a cycle through, and nobody is paged",
			policy:   func(p *Policy) { p.ValveMin, p.ValveFraction = 1, 0 },
			actions:  []state.Action{action(5, state.ActionValveRelease, time.Minute)},
			restarts: []string{"alpha", "bravo"}, released: true,
			want: map[string]Code{"charlie": CodeValve}, reason: map[string]string{"charlie": "2 a cycle let through: valve released by alice"}},
		{name: "a valve release ends once the valve holds nothing: what is left is within its limit",
			actions:  []state.Action{action(5, state.ActionValveRelease, time.Minute)},
			restarts: all, ended: map[uint64]string{5: "the valve no longer holds restarts (4 within its limit of 10)"}},
		{name: "a valve release ends when no tool wants a restart",
			history:  map[string]state.ToolRecord{"alpha": inBackoff, "bravo": inBackoff, "charlie": inBackoff, "delta": inBackoff},
			actions:  []state.Action{action(5, state.ActionValveRelease, time.Minute)},
			restarts: nil, ended: map[uint64]string{5: "no tool wants a restart"}},
		{name: "an action not seen before is seen now, once",
			actions: []state.Action{func() state.Action {
				a := action(6, state.ActionForget, time.Minute, "alpha")
				a.Seen = time.Time{}
				return a
			}()},
			restarts: all, firstSeen: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkAdminCase(t, all, tt) })
	}
}

func checkAdminCase(t *testing.T, tools []string, tt adminCase) {
	p := testPolicy()
	if tt.policy != nil {
		tt.policy(&p)
	}
	in := Inputs{Proxy: registered(), Now: t0, Actions: tt.actions, History: state.RecordsOf(tt.history)}
	for _, tool := range tools {
		if strings.Contains(strings.Join(tt.skipped, ","), tool) {
			in.Manifests.Skipped = append(in.Manifests.Skipped, manifest.Skipped{Tool: tool, Code: manifest.ReasonInvalidYAML, Reason: tool + "/service.manifest: invalid YAML"})
			continue
		}
		in.Manifests.Manifests = append(in.Manifests.Manifests, mf(tool, "lighttpd"))
	}
	plan := MakePlan(in, p)
	var restarted []string
	for _, d := range plan.Restarts() {
		restarted = append(restarted, d.Tool)
	}
	if strings.Join(restarted, ",") != strings.Join(tt.restarts, ",") {
		t.Errorf("restarts %v, want %v", restarted, tt.restarts)
	}
	for _, d := range plan.Decisions {
		if want, ok := tt.want[d.Tool]; ok && d.Code != want {
			t.Errorf("%s: %s/%s (%s), want code %s", d.Tool, d.Action, d.Code, d.Reason, want)
		}
		if want := tt.reason[d.Tool]; !strings.Contains(d.Reason, want) {
			t.Errorf("%s: reason %q lacks %q", d.Tool, d.Reason, want)
		}
	}
	ended := map[uint64]string{}
	for _, a := range plan.Actions {
		if !a.Ended.IsZero() && a.Ended != findAction(tt.actions, a.ID).Ended {
			ended[a.ID] = a.EndedBecause
		}
	}
	if len(ended) != len(tt.ended) {
		t.Errorf("ended %v, want %v", ended, tt.ended)
	}
	for id, why := range tt.ended {
		if !strings.Contains(ended[id], why) {
			t.Errorf("action %d ended %q, want %q", id, ended[id], why)
		}
	}
	if len(plan.Pauses) != tt.pauses {
		t.Errorf("%d pauses in effect, want %d", len(plan.Pauses), tt.pauses)
	}
	if (plan.Valve.Release != nil) != tt.released || (tt.released && !plan.Valve.Tripped) {
		t.Errorf("valve %+v, released %v", plan.Valve, tt.released)
	}
	if got := len(plan.FirstSeen()); got != tt.firstSeen {
		t.Errorf("%d actions first seen, want %d", got, tt.firstSeen)
	}
}

func findAction(actions []state.Action, id uint64) state.Action {
	for _, a := range actions {
		if a.ID == id {
			return a
		}
	}
	return state.Action{}
}

// The cycle that first sees a forget forgives the tool's earlier attempts in
// its own records, and writes them with the action marked seen, before the
// restart's own record: no write of the cycle can undo the forget.
func TestPlanAppliesAForgetOnce(t *testing.T) {
	givenUp := attempts(30*time.Minute, 20*time.Minute, 10*time.Minute)
	forget := action(6, state.ActionForget, time.Minute, "alpha")
	forget.Seen = time.Time{}
	in := Inputs{Proxy: registered(), Now: t0, Actions: []state.Action{forget},
		History:   state.RecordsOf(map[string]state.ToolRecord{"alpha": givenUp}),
		Manifests: manifest.Scan{Manifests: []manifest.Manifest{mf("alpha", "lighttpd")}}}
	plan := MakePlan(in, testPolicy())
	d := plan.Decisions[0]
	if d.Action != ActionRestart || !d.Forgiven || !strings.Contains(d.Reason, "restart 1 of 3") {
		t.Fatalf("alpha after a forget: %s/%s forgiven=%v: %s", d.Action, d.Code, d.Forgiven, d.Reason)
	}
	for i, a := range d.Next.Attempts[:3] {
		if !a.Forgiven {
			t.Errorf("attempt %d not forgiven", i)
		}
	}
	if d.Next.Attempts[3].Forgiven || d.Next.BackoffStep != 1 {
		t.Errorf("the new attempt %+v, backoff step %d", d.Next.Attempts[3], d.Next.BackoffStep)
	}
	ch := changes(plan)
	if rec, ok := ch.Put["alpha"]; !ok || len(rec.Attempts) != 3 || !rec.Attempts[0].Forgiven {
		t.Errorf("the forgiven record is not written with the plan: %+v", ch.Put)
	}
	if len(ch.Actions) != 1 || ch.Actions[0].Seen != t0 {
		t.Errorf("the forget is not marked seen in the same write: %+v", ch.Actions)
	}

	// Seen, it is not applied again: new attempts count.
	in.Actions[0].Seen = t0
	in.History = state.RecordsOf(map[string]state.ToolRecord{"alpha": *d.Next})
	in.Now = t0.Add(time.Minute)
	if again := MakePlan(in, testPolicy()).Decisions[0]; again.Forgiven || again.Code != CodeBackoff {
		t.Errorf("a seen forget applied again: %s/%s forgiven=%v", again.Action, again.Code, again.Forgiven)
	}
}
