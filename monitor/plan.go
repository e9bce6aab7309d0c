package monitor

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"webservicemonitor/sources/manifest"
	"webservicemonitor/sources/proxy"
	"webservicemonitor/sources/qstat"
	"webservicemonitor/state"
)

// Inputs is everything one plan is a function of. A non-nil *Err means that
// source failed this cycle: "don't know", never "down".
type Inputs struct {
	Manifests    manifest.Scan
	ManifestsErr error
	Jobs         []qstat.Job
	GridErr      error
	Proxy        proxy.Snapshot
	ProxyErr     error
	History      map[string]state.ToolRecord
	HistoryErr   error
	LastCycle    time.Time // when the previous cycle ran; zero on the first
	Now          time.Time
}

// Plan is one cycle's decisions, sorted by tool, and the history to persist.
type Plan struct {
	Now       time.Time
	Decisions []Decision
	Valve     Valve
	Desired   int // tools whose manifest asks for a grid web service
	// Forget lists tools whose history is no longer needed: no manifest asks
	// for them and nothing in their record is within the retention.
	Forget []string
}

// Restarts returns the decisions that ask for a restart.
func (p Plan) Restarts() []Decision {
	var out []Decision
	for _, d := range p.Decisions {
		if d.Action == ActionRestart {
			out = append(out, d)
		}
	}
	return out
}

type jobKey struct{ name, owner string }

// MakePlan decides, for every tool, what to do this cycle. It is pure: the
// same inputs always give the same plan. Cost is linear in tools + jobs: jobs
// are indexed once by (name, owner) and each tool does one map lookup.
func MakePlan(in Inputs, p Policy) Plan {
	jobs := make(map[jobKey][]*qstat.Job, len(in.Jobs))
	for i := range in.Jobs {
		j := &in.Jobs[i]
		k := jobKey{j.Name, j.Owner}
		jobs[k] = append(jobs[k], j)
	}

	plan := Plan{Now: in.Now}
	seen := make(map[string]bool, len(in.Manifests.Manifests)+len(in.Manifests.Skipped))
	decisions := make([]Decision, 0, len(in.Manifests.Manifests)+len(in.Manifests.Skipped))

	for _, m := range in.Manifests.Manifests {
		if m.Web == "" {
			continue // no web service asked for: not desired
		}
		seen[m.Tool] = true
		d := Decision{
			Tool: m.Tool, Web: m.Web, Backend: m.Backend, Release: m.Release,
			Account: m.Account, UID: m.UID, GID: m.GID, Home: m.Home,
		}
		rec := in.History[m.Tool]
		if m.Backend != "gridengine" {
			d.Action, d.Code = ActionSkip, CodeOtherBackend
			d.Reason = fmt.Sprintf("backend %q is not managed by this supervisor", m.Backend)
			decisions = append(decisions, finish(d, rec, in, p))
			continue
		}
		plan.Desired++
		observe(&d, jobs[jobKey{m.Web + "-" + m.Tool, m.Account}], in, p)
		if d.Action == ActionRestart {
			applyPolicy(&d, rec, in, p)
		}
		decisions = append(decisions, d)
	}

	for _, s := range in.Manifests.Skipped {
		seen[s.Tool] = true
		d := Decision{Tool: s.Tool, Home: s.Home, Action: ActionSkip, Code: s.Code, Reason: s.Reason}
		if s.Account != nil {
			d.Account, d.UID, d.GID = s.Account.Name, s.Account.UID, s.Account.GID
		}
		decisions = append(decisions, d)
	}

	if in.ProxyErr == nil && in.Proxy.Enabled && in.ManifestsErr == nil {
		for tool := range in.Proxy.Registrations {
			if seen[tool] {
				continue
			}
			yes := true
			decisions = append(decisions, Decision{
				Tool: tool, Registered: &yes, Action: ActionSkip, Code: CodeProxyOnly,
				Reason: fmt.Sprintf("registered with proxy %s but no service.manifest asks for a web service; not touched", in.Proxy.Proxy),
			})
		}
	}

	plan.Valve = applyValve(decisions, in.History, plan.Desired, p)

	for i := range decisions {
		d := &decisions[i]
		if d.Code == CodeProxyOnly {
			continue
		}
		*d = finish(*d, in.History[d.Tool], in, p)
	}
	slices.SortFunc(decisions, func(a, b Decision) int { return strings.Compare(a.Tool, b.Tool) })
	plan.Decisions = decisions

	for tool, rec := range in.History {
		if seen[tool] {
			continue
		}
		pruned := state.Prune(rec, in.Now.Add(-p.Retention))
		if len(pruned.Attempts) == 0 && in.ManifestsErr == nil {
			plan.Forget = append(plan.Forget, tool)
		}
	}
	slices.Sort(plan.Forget)
	return plan
}

// observe fills in what the grid and the proxy say about the tool and sets
// the action that follows from the observation alone: none, wait, or restart
// (which the policy may still turn into hold or give-up).
func observe(d *Decision, jobs []*qstat.Job, in Inputs, p Policy) {
	if in.GridErr != nil {
		d.Action, d.Code = ActionWait, CodeGridUnknown
		d.Reason = "grid state unknown (qstat failed this cycle); not restarting"
		return
	}
	jobName := d.Web + "-" + d.Tool
	var best *qstat.Job
	bestPhase := PhaseNone
	for _, j := range jobs {
		ph := Classify(j.State)
		if best == nil || ph.rank() > bestPhase.rank() {
			best, bestPhase = j, ph
		}
	}
	d.Jobs, d.Phase = len(jobs), bestPhase
	if best == nil {
		d.Action, d.Code = ActionRestart, CodeNoJob
		d.Reason = fmt.Sprintf("no %s job on the grid", jobName)
		return
	}
	d.JobNumber, d.GridState, d.Queue = best.Number, best.State, best.Queue
	job := fmt.Sprintf("job %d (%s)", best.Number, jobName)
	if len(jobs) > 1 {
		job = fmt.Sprintf("job %d (%s, one of %d jobs of that name)", best.Number, jobName, len(jobs))
	}

	switch bestPhase {
	case PhaseError:
		d.Action, d.Code = ActionRestart, CodeJobError
		d.Reason = fmt.Sprintf("%s is stuck in error state %s", job, best.State)
	case PhaseDeleting:
		d.Action, d.Code = ActionRestart, CodeJobDeleting
		d.Reason = fmt.Sprintf("%s is being deleted (%s)", job, best.State)
	case PhaseSuspended:
		d.Action, d.Code = ActionWait, CodeSuspended
		d.Reason = fmt.Sprintf("%s is suspended (%s); a suspended job is not restarted", job, best.State)
	case PhaseHeld:
		d.Action, d.Code = ActionWait, CodeHeld
		d.Reason = fmt.Sprintf("%s is on hold (%s); a held job is not restarted", job, best.State)
	case PhaseUnknown:
		d.Action, d.Code = ActionWait, CodeUnknownState
		d.Reason = fmt.Sprintf("%s has state letters %q this supervisor does not know; not touching it", job, best.State)
	case PhasePending:
		d.Action, d.Code = ActionWait, CodePending
		d.Reason = fmt.Sprintf("%s is pending (%s)", job, best.State)
		if !best.Submitted.IsZero() {
			waited := in.Now.Sub(best.Submitted)
			d.Reason = fmt.Sprintf("%s is pending (%s) for %s", job, best.State, roundDuration(waited))
			if p.PendingTooLong > 0 && waited > p.PendingTooLong {
				d.Code = CodePendingTooLong
				d.Reason += fmt.Sprintf(", longer than %s: check the queue", roundDuration(p.PendingTooLong))
			}
		}
	case PhaseRunning:
		observeRegistration(d, best, job, in, p)
	}
}

func observeRegistration(d *Decision, best *qstat.Job, job string, in Inputs, p Policy) {
	running := fmt.Sprintf("%s is running (%s)", job, best.State)
	switch {
	case in.ProxyErr != nil:
		d.Action, d.Code = ActionWait, CodeProxyUnknown
		d.Reason = running + "; registration unknown (proxy /list failed this cycle); not restarting"
		return
	case !in.Proxy.Enabled:
		d.Action, d.Code = ActionNone, CodeUnchecked
		d.Reason = running + "; proxy registration checking is off (empty active-proxy file)"
		return
	}
	reg, ok := in.Proxy.Registrations[d.Tool]
	registered := ok && (reg.Status == "" || reg.Status == "active")
	d.Registered = &registered
	if registered {
		d.Action, d.Code = ActionNone, CodeHealthy
		d.Reason = fmt.Sprintf("%s and registered with proxy %s", running, in.Proxy.Proxy)
		return
	}
	if !best.Started.IsZero() && in.Now.Sub(best.Started) < p.RegistrationGrace {
		d.Action, d.Code = ActionWait, CodeRegistering
		d.Reason = fmt.Sprintf("%s since %s; waiting up to %s for it to register with proxy %s",
			running, roundDuration(in.Now.Sub(best.Started)), roundDuration(p.RegistrationGrace), in.Proxy.Proxy)
		return
	}
	d.Action, d.Code = ActionRestart, CodeUnregistered
	d.Reason = fmt.Sprintf("%s but not registered with proxy %s", running, in.Proxy.Proxy)
	if ok {
		d.Reason = fmt.Sprintf("%s but its registration with proxy %s is %q", running, in.Proxy.Proxy, reg.Status)
	}
}

// applyPolicy turns a restart the observation asks for into restart, hold or
// give-up according to the tool's history.
func applyPolicy(d *Decision, rec state.ToolRecord, in Inputs, p Policy) {
	if in.HistoryErr != nil {
		d.Action, d.Code = ActionWait, CodeHistoryUnknown
		d.Reason += "; restart history unavailable, so not restarting"
		return
	}
	inWindow := attemptsSince(rec.Attempts, in.Now.Add(-p.Window))
	d.Attempts = len(inWindow)
	if len(inWindow) >= p.Budget {
		d.Action, d.Code, d.GivenUp = ActionGiveUp, CodeBudgetExhausted, true
		d.NextRestart = inWindow[len(inWindow)-p.Budget].At.Add(p.Window)
		d.Reason += fmt.Sprintf("; gave up after %d restarts in %s; no restart before %s unless it comes back",
			len(inWindow), roundDuration(p.Window), stamp(d.NextRestart))
		return
	}
	if n := len(rec.Attempts); n > 0 && rec.BackoffStep > 0 {
		last := rec.Attempts[n-1].At
		next := last.Add(p.backoffDelay(d.Tool, rec.BackoffStep, last))
		if in.Now.Before(next) {
			d.Action, d.Code, d.NextRestart = ActionHold, CodeBackoff, next
			d.Reason += fmt.Sprintf("; backing off after %d restart(s), next restart not before %s",
				rec.BackoffStep, stamp(next))
			return
		}
	}
	d.Attempts++
	d.NextRestart = in.Now
}

// applyValve holds every restart of the cycle (but ValveAllow of them) when
// more tools want one than the limit: a mass outage is almost never the
// tools' fault.
func applyValve(decisions []Decision, history map[string]state.ToolRecord, desired int, p Policy) Valve {
	v := Valve{Limit: p.valveLimit(desired)}
	var wanting []int
	for i, d := range decisions {
		if d.Action == ActionRestart {
			wanting = append(wanting, i)
		}
	}
	v.Wanting = len(wanting)
	if v.Wanting <= v.Limit {
		return v
	}
	v.Tripped = true
	v.Reason = fmt.Sprintf("safety valve: %d of %d tools need a restart at once (limit %d); holding restarts, the cause is likely the proxy or the grid rather than the tools",
		v.Wanting, desired, v.Limit)
	// Let the tools that have been down longest through first, then by name.
	slices.SortStableFunc(wanting, func(a, b int) int {
		da, db := decisions[a], decisions[b]
		if c := history[da.Tool].DownSince.Compare(history[db.Tool].DownSince); c != 0 {
			return c
		}
		return strings.Compare(da.Tool, db.Tool)
	})
	for n, i := range wanting {
		if n < p.ValveAllow {
			v.Allowed++
			continue
		}
		d := &decisions[i]
		d.Action, d.Code = ActionHold, CodeValve
		d.Attempts--
		d.NextRestart = time.Time{}
		d.Reason += "; " + v.Reason
	}
	return v
}

// finish computes the tool's record after this cycle and the service.log
// notice, from the final decision.
func finish(d Decision, rec state.ToolRecord, in Inputs, p Policy) Decision {
	next := state.Prune(rec, in.Now.Add(-p.Retention))
	next.Attempts = slices.Clone(next.Attempts)
	if d.Attempts == 0 && d.Action != ActionGiveUp {
		d.Attempts = len(attemptsSince(next.Attempts, in.Now.Add(-p.Window)))
	}

	switch {
	case d.Action == ActionNone:
		if next.UpSince.IsZero() {
			next.UpSince = in.Now
			next.LastSeenUp = in.Now
		}
		next.DownSince = time.Time{}
		next.GivenUpAt = time.Time{}
		if next.BackoffStep > 0 && in.Now.Sub(next.UpSince) >= p.ResetAfter {
			next.BackoffStep = 0
		}
		next.Notice = ""
	case d.Code == CodeGridUnknown || d.Code == CodeProxyUnknown || d.Code == CodeHistoryUnknown || d.Action == ActionSkip:
		// Nothing was observed about the service itself.
	default:
		if !next.UpSince.IsZero() {
			next.UpSince = time.Time{}
			if !in.LastCycle.IsZero() {
				next.LastSeenUp = in.LastCycle
			}
		}
		if next.DownSince.IsZero() {
			next.DownSince = in.Now
		}
	}
	d.DownSince = next.DownSince

	switch d.Action {
	case ActionRestart:
		d.Reason += fmt.Sprintf("; restart %d of %d in %s", d.Attempts, p.Budget, roundDuration(p.Window))
		next.Attempts = append(next.Attempts, state.Attempt{At: in.Now, Outcome: state.OutcomeStarted, Reason: d.Reason})
		next.BackoffStep++
		next.GivenUpAt = time.Time{}
		next.Notice = ""
	case ActionGiveUp:
		if next.GivenUpAt.IsZero() {
			next.GivenUpAt = in.Now
		}
	}

	if d.Action == ActionHold && d.Code == CodeValve {
		// A valve hold is the platform's problem, not the tool's: thousands
		// of service.log lines during a proxy failover would tell nobody
		// anything.
	} else if notice := d.noticeKey(); notice != "" && notice != next.Notice {
		next.Notice = notice
		d.Notice = d.Reason
	}

	d.Record = next
	d.RecordChanged = !recordsEqual(rec, next)
	return d
}

// noticeKey identifies a refusal for service.log purposes; "" when the
// decision is not a refusal the tool should hear about.
func (d Decision) noticeKey() string {
	switch d.Action {
	case ActionHold, ActionGiveUp, ActionSkip:
		if d.Code == CodeProxyOnly || d.Code == CodeOtherBackend {
			return ""
		}
		return string(d.Action) + ":" + d.Code
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

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func roundDuration(d time.Duration) time.Duration {
	if d >= time.Minute {
		return d.Round(time.Second)
	}
	return d.Round(100 * time.Millisecond)
}
