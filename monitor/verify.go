package monitor

import (
	"time"

	"webservicemonitor/state"
)

// A restart counts when the tool is seen up. The platform's webservice
// command exits 0 as soon as qsub accepted the job, whether the job then
// serves, stays queued, dies at once or goes to Eqw; so an attempt whose
// command exited 0 is pending verification until the tool is seen up
// (succeeded) or its up timeout passes (not-up).

// verification is where a tool's last restart stands this cycle.
type verification uint8

const (
	noVerification verification = iota // no restart awaits being seen up, or nothing was observed
	verifying                          // not seen up yet, within its up timeout
	verifiedUp                         // seen up: the restart succeeded
	verifiedNotUp                      // its up timeout passed without the tool seen up
)

// awaitingVerification returns the tool's last attempt when it awaits
// being seen up.
func awaitingVerification(rec *state.ToolRecord) (state.Attempt, bool) {
	if n := len(rec.Attempts); n > 0 && rec.Attempts[n-1].Outcome == state.OutcomePendingVerification {
		return rec.Attempts[n-1], true
	}
	return state.Attempt{}, false
}

// upDeadline is when a restart that awaits verification counts as not-up.
func upDeadline(a state.Attempt, p *Policy) time.Time {
	return a.At.Add(a.Duration).Add(p.UpTimeout)
}

// verify says where the tool's restart stands, given what was seen of it.
// A cycle that saw nothing of the service (a source failed) settles
// nothing: the attempt is settled by the next cycle that sees.
func verify(rec *state.ToolRecord, seen observation, now time.Time, p *Policy) verification {
	a, ok := awaitingVerification(rec)
	switch {
	case !ok || seen.code == CodeGridUnknown || seen.code == CodeProxyUnknown:
		return noVerification
	case seen.action == ActionNone:
		return verifiedUp
	case now.Before(upDeadline(a, p)):
		return verifying
	}
	return verifiedNotUp
}

// settle applies the verification to the decision: a tool seen up settles
// its restart as succeeded; one past its up timeout, as not-up, with what
// was seen instead as the detail (the cycle adds the cause it can find);
// one still within it waits.
func settle(d *Decision, seen *observation, now time.Time, p *Policy) {
	a, _ := awaitingVerification(d.Previous)
	switch verify(d.Previous, *seen, now, p) {
	case verifiedUp:
		a.Outcome = state.OutcomeSucceeded
		a.Detail = withEarlier(a.Detail, "seen up "+roundDuration(now.Sub(a.At)).String()+" after its restart began")
		d.Settled = &a
	case verifiedNotUp:
		a.Outcome = state.OutcomeNotUp
		a.Detail = withEarlier(a.Detail, "not up within "+roundDuration(p.UpTimeout).String()+
			" after the restart command returned: "+seen.reason)
		d.Settled = &a
	case verifying:
		seen.action, seen.code = ActionWait, CodeVerifying
		seen.reason += "; its restart began at " + stamp(a.At) + ", waiting until " + stamp(upDeadline(a, p)) + " for it to be seen up"
	}
}

// notUpSinceRestart reports whether the tool's last restart was settled
// not-up and the tool has not been seen up since (settled is this cycle's
// settlement, if any): a job it left queued is then cleared and the tool
// restarted, rather than waited for.
func notUpSinceRestart(rec *state.ToolRecord, settled *state.Attempt) bool {
	if settled != nil {
		return settled.Outcome == state.OutcomeNotUp
	}
	n := len(rec.Attempts)
	if n == 0 || rec.Attempts[n-1].Outcome != state.OutcomeNotUp {
		return false
	}
	return !rec.DownSince.IsZero() && !rec.DownSince.After(rec.Attempts[n-1].At)
}

// withSettled returns the attempts with the settled one in place of the
// attempt it settles; a new list, as the old may be the history's.
func withSettled(attempts []state.Attempt, settled state.Attempt) []state.Attempt {
	out := make([]state.Attempt, len(attempts))
	copy(out, attempts)
	for i := len(out) - 1; i >= 0; i-- {
		if out[i].At.Equal(settled.At) && out[i].Outcome == state.OutcomePendingVerification {
			out[i] = settled
			break
		}
	}
	return out
}

// withEarlier puts what an attempt's detail already said (the jobs cleared
// before it) after what settles it.
func withEarlier(earlier, detail string) string {
	if earlier == "" {
		return detail
	}
	return detail + " (" + earlier + ")"
}
