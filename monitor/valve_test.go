package monitor

import (
	"testing"
	"time"

	"webservicemonitor/state"
)

func TestValveLetsTheLongestDownThroughFirst(t *testing.T) {
	downSince := func(ago time.Duration) *state.ToolRecord {
		if ago == 0 {
			return new(state.ToolRecord)
		}
		return &state.ToolRecord{DownSince: t0.Add(-ago)}
	}
	wants := func(tool string, ago time.Duration) Decision {
		return Decision{Tool: tool, Action: ActionRestart, Code: CodeNoJob, Reason: "no job", Attempts: 1, NextRestart: t0, Previous: downSince(ago)}
	}
	decisions := []Decision{
		wants("a", 0), wants("b", time.Hour), wants("c", 3*time.Hour), wants("d", time.Hour),
		{Tool: "e", Action: ActionNone, Code: CodeHealthy, Reason: "up", Previous: downSince(0)},
	}
	p := testPolicy()
	p.ValveMin, p.ValveFraction, p.ValveAllow = 1, 0, 2
	v := applyValve(wantRestart(decisions), 5, p, nil, t0)
	want := Valve{Tripped: true, Wanting: 4, Limit: 1, Allowed: 2,
		Reason: "safety valve: 4 of 5 tools need a restart at once (limit 1); holding restarts, the cause is likely the proxy or the grid rather than the tools"}
	if v != want {
		t.Fatalf("valve %+v, want %+v", v, want)
	}
	// c, down longest, then b and d, by name; a has no down streak
	// recorded yet: it went down now, and comes last.
	for tool, action := range map[string]Action{"c": ActionRestart, "b": ActionRestart, "d": ActionHold, "a": ActionHold, "e": ActionNone} {
		for _, d := range decisions {
			if d.Tool == tool && d.Action != action {
				t.Errorf("%s: %s, want %s", tool, d.Action, action)
			}
		}
	}
	held := decisions[3] // d
	if held.Code != CodeValve || held.Attempts != 0 || !held.NextRestart.IsZero() || held.Reason != "no job; "+want.Reason {
		t.Errorf("held decision %+v", held)
	}
}

func TestValveAtTheLimitHoldsNothing(t *testing.T) {
	decisions := []Decision{{Tool: "a", Action: ActionRestart, Previous: new(state.ToolRecord)}}
	p := testPolicy()
	p.ValveMin, p.ValveFraction = 1, 0
	if v := applyValve(wantRestart(decisions), 1, p, nil, t0); v.Tripped || v.Wanting != 1 || v.Limit != 1 || decisions[0].Action != ActionRestart {
		t.Errorf("valve %+v, decision %s", v, decisions[0].Action)
	}
}

// wantRestart lists the decisions that ask for a restart, in tool order.
func wantRestart(decisions []Decision) []*Decision {
	var wanting []*Decision
	for k := range decisions {
		if decisions[k].Action == ActionRestart {
			wanting = append(wanting, &decisions[k])
		}
	}
	return wanting
}
