package monitor

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// applyValve holds every restart of the cycle but ValveAllow of them when
// more tools want one than the limit: a mass outage is almost never the
// tools' fault. wanting lists the decisions that ask for a restart; desired
// is how many tools ask for a web service.
func applyValve(wanting []*Decision, desired int, p Policy) Valve {
	v := Valve{Limit: p.valveLimit(desired), Wanting: len(wanting)}
	if v.Wanting <= v.Limit {
		return v
	}
	v.Tripped = true
	v.Reason = fmt.Sprintf("safety valve: %d of %d tools need a restart at once (limit %d); holding restarts, the cause is likely the proxy or the grid rather than the tools",
		v.Wanting, desired, v.Limit)
	// Let the tools that have been down longest through first, then by name.
	wanting = slices.Clone(wanting)
	slices.SortStableFunc(wanting, func(a, b *Decision) int {
		if c := a.Previous.DownSince.Compare(b.Previous.DownSince); c != 0 {
			return c
		}
		return strings.Compare(a.Tool, b.Tool)
	})
	for n, d := range wanting {
		if n < p.ValveAllow {
			v.Allowed++
			continue
		}
		d.Action, d.Code = ActionHold, CodeValve
		d.Attempts-- // the one it would have started
		d.NextRestart = time.Time{}
		d.Reason += "; " + v.Reason
	}
	return v
}
