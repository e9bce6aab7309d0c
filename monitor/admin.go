package monitor

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"webservicemonitor/state"
)

// Admin actions (pause, resume, forget, retry, valve release) are written
// to the state file by the admin commands and read by every cycle with the
// history. The planner applies those in effect and says, in Plan.Actions,
// which it saw for the first time and which ended.

// RetryExpiry is how long a retry the cycles could not carry out (its
// manifest refused, a source failing) waits before it lapses.
const RetryExpiry = time.Hour

// admin is the admin actions in effect in one cycle. Almost always empty:
// each lookup is then one length check.
type admin struct {
	pauses  []*state.Action // in effect: not ended, before their declared end
	resumes []*state.Action
	retries []*state.Action // not ended
	release *state.Action   // the latest valve release not ended
	// forgets are the forget actions not yet applied (not seen): the
	// cycle that first sees one forgives the tool's attempts in its own
	// records, so that no write of the cycle's can undo it.
	forgets []*state.Action
}

func newAdmin(actions []state.Action, now time.Time) admin {
	var a admin
	for i := range actions {
		act := &actions[i]
		switch {
		case act.Kind == state.ActionForget && act.Seen.IsZero():
			a.forgets = append(a.forgets, act)
		case act.Kind == state.ActionResume:
			a.resumes = append(a.resumes, act)
		case !act.Active(now):
		case act.Kind == state.ActionPause:
			a.pauses = append(a.pauses, act)
		case act.Kind == state.ActionRetry:
			a.retries = append(a.retries, act)
		case act.Kind == state.ActionValveRelease:
			a.release = act
		}
	}
	return a
}

// pausedBy is the pause that holds the tool's restarts, nil when none: a
// pause in effect that concerns it and that no later resume lifted for it.
func (a *admin) pausedBy(tool string) *state.Action {
	for _, p := range a.pauses {
		if p.Concerns(tool) && a.resumedAfter(p, tool) == nil {
			return p
		}
	}
	return nil
}

// resumedAfter is the resume, made after the pause, that lifts it for the
// tool ("" for the pause as a whole); nil when none.
func (a *admin) resumedAfter(p *state.Action, tool string) *state.Action {
	for _, r := range a.resumes {
		if r.ID > p.ID && (len(r.Tools) == 0 || (tool != "" && r.Concerns(tool))) {
			return r
		}
	}
	return nil
}

// retryOf is the retry waiting for the tool, nil when none.
func (a *admin) retryOf(tool string) *state.Action {
	for _, r := range a.retries {
		if len(r.Tools) > 0 && r.Concerns(tool) {
			return r
		}
	}
	return nil
}

// forgive returns the record with the attempts made before each forget
// naming the tool marked forgiven, and its backoff and given-up state
// cleared; the record itself when no forget concerns it.
func (a *admin) forgive(tool string, rec *state.ToolRecord) (*state.ToolRecord, bool) {
	var forgets []*state.Action
	for _, f := range a.forgets {
		if f.Concerns(tool) {
			forgets = append(forgets, f)
		}
	}
	if len(forgets) == 0 {
		return rec, false
	}
	c := *rec
	c.Attempts = slices.Clone(rec.Attempts)
	for i := range c.Attempts {
		for _, f := range forgets {
			if c.Attempts[i].At.Before(f.At) {
				c.Attempts[i].Forgiven = true
			}
		}
	}
	c.BackoffStep, c.GivenUpAt, c.Notice = 0, time.Time{}, ""
	return &c, true
}

// byWhom says who asked for an action, when and why, for a reason sentence.
func byWhom(verb string, a *state.Action) string {
	s := verb + " by " + a.Who + " at " + stamp(a.At)
	if a.Kind == state.ActionPause {
		s += " until " + stamp(a.Until)
	}
	if a.Reason != "" {
		s += ": " + strconv.Quote(a.Reason)
	}
	return s + " (action " + strconv.FormatUint(a.ID, 10) + ")"
}

// applyAdmin lets the admin actions in effect have their say on a tool's
// decision, after its restart tracker's: a retry turns a backoff hold or a
// give-up into a restart; a pause turns a restart into a hold. Those held
// by a pause never reach the safety valve: a maintenance must not page.
func applyAdmin(d *Decision, adm *admin, seen Code) {
	if len(adm.retries) > 0 && (d.Code == CodeBackoff || d.Code == CodeBudgetExhausted) {
		// Once per tool: a retry still open for another of its tools
		// does not restart this one again.
		if r := adm.retryOf(d.Tool); r != nil && !restartedSince(d.Previous, r.At) {
			d.Action, d.Code, d.GivenUp, d.Retry = ActionRestart, seen, false, r
			d.Attempts++ // held or given up, it counted those in the window only
			d.NextRestart = time.Time{}
			d.Reason += "; " + byWhom("restart asked", r)
		}
	}
	if len(adm.pauses) > 0 && d.Action == ActionRestart {
		if p := adm.pausedBy(d.Tool); p != nil {
			d.Action, d.Code, d.Retry = ActionHold, CodePaused, nil
			d.Attempts--
			d.NextRestart = time.Time{}
			d.Reason += "; not restarted: " + byWhom("paused", p)
		}
	}
}

// adminOutcome works out what this cycle changes in the admin actions: the
// ones seen for the first time (the daemon logs them), the pauses whose
// end came or that a resume lifted, the retries carried out or lapsed, a
// valve release no longer needed; and the ended ones old enough to go.
func adminOutcome(plan *Plan, adm *admin, in *Inputs, p *Policy) {
	for _, a := range in.Actions {
		next := a
		if next.Seen.IsZero() {
			next.Seen = in.Now
		}
		if next.Ended.IsZero() {
			next.Ended, next.EndedBecause = actionEnd(plan, adm, &a, in.Now)
		}
		if next.Ended.IsZero() && a.Kind == state.ActionPause {
			plan.Pauses = append(plan.Pauses, a)
		}
		switch {
		case !next.Ended.IsZero() && next.Ended.Before(in.Now.Add(-p.Retention)):
			plan.PruneActions = append(plan.PruneActions, a.ID)
		case next.Seen != a.Seen || next.Ended != a.Ended:
			plan.Actions = append(plan.Actions, next)
		}
	}
}

// actionEnd says whether, and why, an action that applied stops applying
// this cycle; zero while it goes on.
func actionEnd(plan *Plan, adm *admin, a *state.Action, now time.Time) (time.Time, string) {
	switch a.Kind {
	case state.ActionPause:
		if !now.Before(a.Until) {
			return a.Until, "its declared end passed"
		}
		if r := pauseLifted(adm, a); r != nil {
			return r.At, byWhom("resumed", r)
		}
	case state.ActionRetry:
		if retryDone(plan, a) {
			return now, "carried out: each tool restarted or seen up"
		}
		if now.Sub(a.At) > RetryExpiry {
			return now, "lapsed after " + RetryExpiry.String() + " without a restart (see each tool's reason)"
		}
	case state.ActionValveRelease:
		// A release answers a hold: once the valve holds nothing, the
		// restarts that are left are within its limit anyway, and a
		// release must not wait, forgotten, for the next outage.
		switch {
		case plan.Valve.Wanting == 0:
			return now, "no tool wants a restart"
		case !plan.Valve.Tripped:
			return now, "the valve no longer holds restarts (" + strconv.Itoa(plan.Valve.Wanting) + " within its limit of " + strconv.Itoa(plan.Valve.Limit) + ")"
		}
	default: // resume and forget take effect when made
		return a.At, "done"
	}
	return time.Time{}, ""
}

// pauseLifted is the resume that lifts the pause for every tool it
// holds, nil when none does.
func pauseLifted(adm *admin, p *state.Action) *state.Action {
	if len(p.Tools) == 0 {
		return adm.resumedAfter(p, "")
	}
	var last *state.Action
	for _, tool := range p.Tools {
		r := adm.resumedAfter(p, tool)
		if r == nil {
			return nil
		}
		last = r
	}
	return last
}

// retryDone reports whether the retry is carried out for every tool it
// names: restarted by it this cycle, or up, or restarted since it was
// asked.
func retryDone(plan *Plan, r *state.Action) bool {
	for _, tool := range r.Tools {
		i, found := slices.BinarySearchFunc(plan.Decisions, tool, func(d Decision, t string) int { return strings.Compare(d.Tool, t) })
		if !found {
			return false
		}
		d := &plan.Decisions[i]
		byIt := d.Retry != nil && d.Retry.ID == r.ID && d.Action == ActionRestart
		if !byIt && d.Action != ActionNone && !restartedSince(d.Previous, r.At) {
			return false
		}
	}
	return true
}

// restartedSince reports whether the record has an attempt made at or
// after t.
func restartedSince(rec *state.ToolRecord, t time.Time) bool {
	n := len(rec.Attempts)
	return n > 0 && !rec.Attempts[n-1].At.Before(t)
}

// FirstSeen lists the admin actions this cycle acted on for the first
// time: the log and the tools' service.log tell of each once.
func (p Plan) FirstSeen() []state.Action {
	var out []state.Action
	for _, a := range p.Actions {
		if a.Seen.Equal(p.Now) {
			out = append(out, a)
		}
	}
	return out
}

// ActionSentence says what an admin action does, who asked, when and why:
// the one sentence of the log, service.log and status.
func ActionSentence(a *state.Action) string {
	whom := "every tool"
	if len(a.Tools) > 0 {
		whom = strings.Join(a.Tools, ", ")
	}
	switch a.Kind {
	case state.ActionPause:
		return "restarts of " + whom + " " + byWhom("paused", a)
	case state.ActionResume:
		return "restarts of " + whom + " " + byWhom("resumed", a)
	case state.ActionForget:
		return "restart budget, backoff and given-up state of " + whom + " cleared (past attempts kept, marked forgiven) " + byWhom("on request", a)
	case state.ActionRetry:
		return "restart of " + whom + " on the next cycle, backoff or not, " + byWhom("asked", a)
	case state.ActionValveRelease:
		return "safety valve " + byWhom("released", a) + ": at most " + strconv.Itoa(a.AtMost) + " restarts a cycle until no tool wants one"
	}
	return string(a.Kind) + " " + byWhom("asked", a)
}
