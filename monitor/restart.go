package monitor

import (
	"fmt"
	"slices"
	"time"

	"webservicemonitor/state"
)

// restartTracker is the per-tool restart policy, as Nomad's restart tracker
// is a task's: from the tool's restart history, it decides whether a tool
// that needs a restart gets one now, is held back until its backoff has
// elapsed, or is given up on because its budget for the window is spent.
type restartTracker struct {
	policy  Policy
	tool    string
	history *state.ToolRecord // nil when the history could not be read
	now     time.Time
	host    string // the host deciding; empty on a single host
}

// restartVerdict is the tracker's answer for one tool.
type restartVerdict struct {
	action      Action    // restart, hold, give-up; wait when the history is unknown
	code        Code      // the observation's when the restart is allowed
	reason      string    // the observation's sentence, then why no restart, if none
	attempts    int       // restarts in the window, counting the one allowed now
	nextRestart time.Time // when a restart is next allowed
	givenUp     bool
}

// decide answers for a tool whose observation asks for a restart.
func (t restartTracker) decide(seen observation) restartVerdict {
	p := t.policy
	if t.history == nil {
		return restartVerdict{action: ActionWait, code: CodeHistoryUnknown,
			reason: seen.reason + "; restart history unavailable, so not restarting"}
	}
	inWindow := attemptsSince(t.history.Attempts, t.now.Add(-p.Window))
	if a, until, ok := t.inFlightElsewhere(); ok {
		return restartVerdict{action: ActionHold, code: CodeInFlightElsewhere,
			attempts: len(inWindow), nextRestart: until,
			reason: seen.reason + fmt.Sprintf("; restart started by host %s at %s has not ended, so not restarting before %s",
				a.Host, stamp(a.At), stamp(until))}
	}
	if len(inWindow) >= p.Budget {
		// The budget frees up when the oldest attempt that spent it leaves
		// the window.
		next := inWindow[len(inWindow)-p.Budget].At.Add(p.Window)
		return restartVerdict{action: ActionGiveUp, code: CodeBudgetExhausted,
			attempts: len(inWindow), nextRestart: next, givenUp: true,
			reason: seen.reason + fmt.Sprintf("; gave up after %d restarts in %s; no restart before %s unless it comes back",
				len(inWindow), roundDuration(p.Window), stamp(next))}
	}
	if next, ok := t.backoffEnds(); ok && t.now.Before(next) {
		return restartVerdict{action: ActionHold, code: CodeBackoff,
			attempts: len(inWindow), nextRestart: next,
			reason: seen.reason + fmt.Sprintf("; backing off after %d restart(s), next restart not before %s",
				t.history.BackoffStep, stamp(next))}
	}
	return restartVerdict{action: ActionRestart, code: seen.code, reason: seen.reason,
		attempts: len(inWindow) + 1, nextRestart: t.now}
}

// inFlightElsewhere returns the tool's last attempt when another host
// started it, its end is not recorded and it may still be running, with
// when it can no longer be. A leader deposed mid-restart does not kill its
// command, and its outcome write is refused: until then, a restart here
// could run beside that one.
func (t restartTracker) inFlightElsewhere() (state.Attempt, time.Time, bool) {
	n := len(t.history.Attempts)
	if n == 0 {
		return state.Attempt{}, time.Time{}, false
	}
	a := t.history.Attempts[n-1]
	until := a.At.Add(t.policy.InFlightElsewhere)
	held := a.Outcome == state.OutcomeStarted && a.Host != "" && a.Host != t.host && t.now.Before(until)
	return a, until, held
}

// backoffEnds is when the backoff after the tool's last attempt ends; false
// when no backoff applies (no attempt, or the backoff was reset).
func (t restartTracker) backoffEnds() (time.Time, bool) {
	h := t.history
	if len(h.Attempts) == 0 || h.BackoffStep <= 0 {
		return time.Time{}, false
	}
	last := h.Attempts[len(h.Attempts)-1].At
	return last.Add(t.policy.backoffDelay(t.tool, h.BackoffStep, last)), true
}

// stamp is how a sentence shows a point in time.
func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// FutureTolerance is how far past now a recorded time may lie before it is
// taken for the mark of a clock step rather than of two clocks a little
// apart.
const FutureTolerance = time.Minute

// notInFuture returns the record with every time later than now (beyond
// FutureTolerance) taken as now, and whether it had any. Attempts are dated
// by the wall clock: after a step back of two hours, an attempt two hours
// "ahead" would hold its backoff and its window for two hours more, and one
// made while the clock ran a year ahead would give its tool up for a year.
// Taken as made now, they count normally; a step forward gives at most one
// window's budget more.
func notInFuture(rec *state.ToolRecord, now time.Time) (*state.ToolRecord, bool) {
	limit := now.Add(FutureTolerance)
	future := func(t time.Time) bool { return t.After(limit) }
	times := func(r *state.ToolRecord) []*time.Time {
		return []*time.Time{&r.DownSince, &r.UpSince, &r.LastSeenUp, &r.GivenUpAt}
	}
	found := slices.ContainsFunc(rec.Attempts, func(a state.Attempt) bool { return future(a.At) }) ||
		slices.ContainsFunc(times(rec), func(t *time.Time) bool { return future(*t) })
	if !found {
		return rec, false
	}
	c := *rec
	c.Attempts = slices.Clone(rec.Attempts)
	for i := range c.Attempts {
		if future(c.Attempts[i].At) {
			c.Attempts[i].At = now
		}
	}
	for _, t := range times(&c) {
		if future(*t) {
			*t = now
		}
	}
	return &c, true
}
