package monitor

import (
	"slices"
	"strconv"
	"time"

	"webservicemonitor/state"
)

// finish completes a decision once the safety valve has had its say: a
// restart's count goes into its reason, Next becomes the tool's record after
// this cycle, and Notice the service.log line, if the tool is to hear of it.
// Next is a new record only when the record changes: a stable platform
// allocates nothing here.
func finish(d *Decision, in *Inputs, p *Policy) {
	if d.Action != ActionRestart && d.Action != ActionNone {
		d.Clear = nil // held back: nothing is run for it
	}
	rec := d.Previous
	d.Next = rec
	if d.Code == CodeProxyOnly || (staysUp(d) && !d.ClockCorrected && !d.Forgiven) {
		return
	}
	next := state.Prune(*rec, in.Now.Add(-p.Retention))
	if d.Settled != nil {
		next.Attempts = withSettled(next.Attempts, *d.Settled)
	}
	if d.Attempts == 0 && d.Action != ActionGiveUp {
		d.Attempts = len(attemptsSince(next.Attempts, in.Now.Add(-p.Window)))
	}
	markSeen(&next, d, in.Now, in.LastCycle, p.ResetAfter)
	switch d.Action {
	case ActionRestart:
		if d.Clear != nil {
			d.Reason += "; clearing " + clearingText(d.Clear) + " first"
		}
		d.Reason += "; restart " + strconv.Itoa(d.Attempts) + " of " + strconv.Itoa(p.Budget) +
			" in " + roundDuration(p.Window).String()
		next = withStartedAttempt(next, state.Attempt{At: in.Now, Reason: d.Reason, Host: in.Host})
	case ActionGiveUp:
		if next.GivenUpAt.IsZero() {
			next.GivenUpAt = in.Now
		}
	}
	noteRefusal(d, &next)
	if !recordsEqual(*rec, next) || d.ClockCorrected || d.Forgiven { // a corrected or forgiven record is written once
		changed := next
		if d.Action != ActionRestart {
			// Its own attempts, never the history's: the cycle fills in
			// the outcome of the last one. (A restart's are new already.)
			changed.Attempts = slices.Clone(next.Attempts)
		}
		d.Next, d.RecordChanged = &changed, true
	}
}

// staysUp reports whether the tool is up and already recorded as up, with
// nothing in its record to forget: its record stays as it is. Most tools,
// most cycles.
func staysUp(d *Decision) bool {
	rec := d.Previous
	return d.Action == ActionNone && len(rec.Attempts) == 0 && rec.BackoffStep == 0 && !rec.UpSince.IsZero() &&
		rec.DownSince.IsZero() && rec.GivenUpAt.IsZero() && rec.Notice == ""
}

// markSeen moves the record's up and down streaks to what the decision saw.
func markSeen(next *state.ToolRecord, d *Decision, now, lastCycle time.Time, resetAfter time.Duration) {
	switch {
	case d.Action == ActionNone:
		if next.UpSince.IsZero() {
			next.UpSince = now
			next.LastSeenUp = now
		}
		next.DownSince = time.Time{}
		next.GivenUpAt = time.Time{}
		if next.BackoffStep > 0 && now.Sub(next.UpSince) >= resetAfter {
			next.BackoffStep = 0
		}
		next.Notice = ""
	case d.Code == CodeGridUnknown || d.Code == CodeProxyUnknown || d.Code == CodeHistoryUnknown || d.Action == ActionSkip:
		// Nothing was observed about the service itself.
	default:
		if !next.UpSince.IsZero() {
			next.UpSince = time.Time{}
			if !lastCycle.IsZero() {
				next.LastSeenUp = lastCycle
			}
		}
		if next.DownSince.IsZero() {
			next.DownSince = now
		}
	}
}

// withStartedAttempt is the record with the restart this cycle starts, a.
func withStartedAttempt(next state.ToolRecord, a state.Attempt) state.ToolRecord {
	// A new list: the attempts may still be the history's, never to be
	// written to.
	attempts := make([]state.Attempt, len(next.Attempts), len(next.Attempts)+1)
	copy(attempts, next.Attempts)
	a.Outcome = state.OutcomeStarted
	next.Attempts = append(attempts, a)
	next.BackoffStep++
	next.GivenUpAt = time.Time{}
	next.Notice = ""
	return next
}

// noteRefusal tells the tool, once, of a refusal it has not heard of yet.
func noteRefusal(d *Decision, next *state.ToolRecord) {
	if d.Action == ActionHold && (d.Code == CodeValve || d.Code == CodePaused) {
		// A valve hold is the platform's problem, not the tool's: thousands
		// of service.log lines during a proxy failover would tell nobody
		// anything. A pause is the admin's, and a tool named in one hears
		// of it once, as the action.
		return
	}
	if notice := d.noticeKey(); notice != "" && notice != next.Notice {
		next.Notice = notice
		d.Notice = d.Reason
	}
}

// noticeKey identifies a refusal for service.log purposes; "" when the
// decision is not a refusal the tool should hear about.
func (d Decision) noticeKey() string {
	switch d.Action {
	case ActionHold, ActionGiveUp, ActionSkip:
		if d.Code == CodeProxyOnly || d.Code == CodeOtherBackend {
			return ""
		}
		return string(d.Action) + ":" + string(d.Code)
	}
	return ""
}

func recordsEqual(a, b state.ToolRecord) bool {
	return slices.Equal(a.Attempts, b.Attempts) &&
		a.BackoffStep == b.BackoffStep &&
		a.DownSince.Equal(b.DownSince) &&
		a.UpSince.Equal(b.UpSince) &&
		a.LastSeenUp.Equal(b.LastSeenUp) &&
		a.GivenUpAt.Equal(b.GivenUpAt) &&
		a.Notice == b.Notice
}
