package monitor

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"webservicemonitor/state"
)

// applyValve holds every restart of the cycle but ValveAllow of them when
// more tools want one than the limit: a mass outage is almost never the
// tools' fault. wanting lists the decisions that ask for a restart; desired
// is how many tools ask for a web service.
//
// An admin's valve release in effect lets release.AtMost through instead,
// and says who let them.
func applyValve(wanting []*Decision, desired int, p Policy, release *state.Action, now time.Time) Valve {
	v := Valve{Limit: p.valveLimit(desired), Wanting: len(wanting)}
	if v.Wanting <= v.Limit {
		return v
	}
	v.Tripped = true
	v.Reason = fmt.Sprintf("safety valve: %d of %d tools need a restart at once (limit %d); holding restarts, the cause is likely the proxy or the grid rather than the tools",
		v.Wanting, desired, v.Limit)
	allow := p.ValveAllow
	if release != nil {
		v.Release, allow = release, max(allow, release.AtMost)
		v.Reason += fmt.Sprintf("; %d a cycle let through: %s", allow, byWhom("valve released", release))
	}
	// Let the tools that have been down longest through first, then by
	// name; one whose history has no down streak yet went down now.
	downSince := func(d *Decision) time.Time {
		if d.Previous.DownSince.IsZero() {
			return now
		}
		return d.Previous.DownSince
	}
	wanting = slices.Clone(wanting)
	slices.SortStableFunc(wanting, func(a, b *Decision) int {
		if c := downSince(a).Compare(downSince(b)); c != 0 {
			return c
		}
		return strings.Compare(a.Tool, b.Tool)
	})
	for n, d := range wanting {
		if n < allow {
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
