package monitor

import (
	"hash/fnv"
	"slices"
	"strconv"
	"time"

	"webservicemonitor/state"
)

// Policy is the restart policy: a per-tool window budget with exponential
// backoff between attempts, and a global safety valve. It has no defaults of
// its own: the daemon fills it from internal/config, tests build their own.
type Policy struct {
	Budget            int           // restarts allowed per tool in Window
	Window            time.Duration // sliding window the budget counts in
	BackoffInitial    time.Duration // delay after the first attempt; doubles after each
	BackoffMax        time.Duration // cap on that delay
	Jitter            float64       // ±fraction applied to each delay, so tools spread out
	ResetAfter        time.Duration // seen up this long in a row: backoff forgotten
	RegistrationGrace time.Duration // a fresh job gets this long to register with the proxy
	PendingTooLong    time.Duration // a job pending longer is reported as stuck
	// UpTimeout is how long after its command returned a restart has to
	// bring the tool up before it counts as not-up.
	UpTimeout time.Duration
	// DeletingTooLong is how long a job may be seen being deleted (d)
	// before it is cleared and its tool restarted.
	DeletingTooLong time.Duration
	Retention       time.Duration // attempts older than this are pruned from the state
	ValveMin        int           // the valve trips above max(ValveMin, ValveFraction × desired tools)
	ValveFraction   float64
	ValveAllow      int // restarts still let through per cycle while the valve holds
	// InFlightElsewhere is how long a restart another host started, and
	// whose end is not recorded, may still be running: the restart timeout
	// plus a grace. The tool is not restarted meanwhile, so that two hosts'
	// restarts of it never interleave across a failover. Zero holds none.
	InFlightElsewhere time.Duration
}

// BackoffJitter is the fraction by which each backoff delay is spread (±25 %,
// as Nomad's restart tracker does), so that tools that went down together do
// not all come back in the same cycle. The daemon sets Policy.Jitter to it;
// tests set 0 to get exact times.
const BackoffJitter = 0.25

// backoffDelay is the wait after the step-th attempt since the last reset
// (step >= 1). The jitter is derived from the tool and the attempt time rather
// than a random source, so the planner stays a pure function and a replayed
// cycle decides the same.
func (p Policy) backoffDelay(tool string, step int, last time.Time) time.Duration {
	if step < 1 || p.BackoffInitial <= 0 {
		return 0
	}
	d := p.BackoffInitial
	for i := 1; i < step && d < p.BackoffMax; i++ {
		d *= 2
	}
	if p.BackoffMax > 0 && d > p.BackoffMax {
		d = p.BackoffMax
	}
	if p.Jitter > 0 {
		h := fnv.New64a()
		h.Write([]byte(tool))
		h.Write([]byte(strconv.FormatInt(last.UnixNano(), 10)))
		u := float64(h.Sum64()%10000) / 10000 // [0,1)
		d = time.Duration(float64(d) * (1 + p.Jitter*(2*u-1)))
	}
	return d
}

// attemptsSince returns the attempts strictly after t that count (attempts
// are stored oldest first): those an admin forgave do not. The list is the
// history's own unless one was forgiven.
func attemptsSince(attempts []state.Attempt, t time.Time) []state.Attempt {
	for i, a := range attempts {
		if a.At.After(t) {
			return counted(attempts[i:])
		}
	}
	return nil
}

// counted drops the forgiven attempts.
func counted(attempts []state.Attempt) []state.Attempt {
	if !slices.ContainsFunc(attempts, func(a state.Attempt) bool { return a.Forgiven }) {
		return attempts
	}
	return slices.DeleteFunc(slices.Clone(attempts), func(a state.Attempt) bool { return a.Forgiven })
}

// valveLimit is how many restarts one cycle may ask for before the valve
// trips.
func (p Policy) valveLimit(desired int) int {
	limit := int(p.ValveFraction * float64(desired))
	if limit < p.ValveMin {
		limit = p.ValveMin
	}
	return limit
}
