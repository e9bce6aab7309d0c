package monitor

import (
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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

// MakePlan decides, for every tool, what to do this cycle. It is pure: the
// same inputs always give the same plan. Cost is linear in tools + jobs and
// allocation-light, because it runs every minute over 100,000 tools: tools
// are indexed once by name, each job costs one lookup by its owner (the
// account <project>.<tool>), and decisions come out already sorted.
func MakePlan(in Inputs, p Policy) Plan {
	manifests := sortedBy(in.Manifests.Manifests, func(m manifest.Manifest) string { return m.Tool })
	skipped := sortedBy(in.Manifests.Skipped, func(s manifest.Skipped) string { return s.Tool })

	plan := Plan{Now: in.Now}
	decisions := make([]Decision, 0, len(manifests)+len(skipped))
	byTool := make(map[string]int, len(manifests)+len(skipped))
	// Merge the two sorted lists so the decisions need no sort.
	for i, j := 0, 0; i < len(manifests) || j < len(skipped); {
		if j == len(skipped) || (i < len(manifests) && manifests[i].Tool < skipped[j].Tool) {
			m := &manifests[i]
			i++
			if m.Web == "" {
				continue // no web service asked for: not desired
			}
			byTool[m.Tool] = len(decisions)
			decisions = append(decisions, Decision{
				Tool: m.Tool, Web: m.Web, Backend: m.Backend, Release: m.Release,
				Account: m.Account, UID: m.UID, GID: m.GID, Home: m.Home,
			})
			continue
		}
		s := &skipped[j]
		j++
		byTool[s.Tool] = len(decisions)
		d := Decision{Tool: s.Tool, Home: s.Home, Action: ActionSkip, Code: s.Code, Reason: s.Reason}
		if s.Account != nil {
			d.Account, d.UID, d.GID = s.Account.Name, s.Account.UID, s.Account.GID
		}
		decisions = append(decisions, d)
	}

	// Each tool's jobs: a job counts only when its owner is the tool's
	// account and its name is <web>-<tool>.
	best := make([]int32, len(decisions))
	count := make([]int32, len(decisions))
	for i := range best {
		best[i] = -1
	}
	for i := range in.Jobs {
		j := &in.Jobs[i]
		dot := strings.IndexByte(j.Owner, '.')
		if dot < 0 {
			continue
		}
		// Most jobs are not web services: rule them out by name before
		// paying for a map lookup.
		tool := j.Owner[dot+1:]
		if len(j.Name) <= len(tool) || !strings.HasSuffix(j.Name, tool) || j.Name[len(j.Name)-len(tool)-1] != '-' {
			continue
		}
		k, ok := byTool[tool]
		if !ok {
			continue
		}
		d := &decisions[k]
		if d.Account != j.Owner || d.Web == "" || !isJobName(j.Name, d.Web, d.Tool) {
			continue
		}
		count[k]++
		if best[k] < 0 || Classify(j.State).rank() > Classify(in.Jobs[best[k]].State).rank() {
			best[k] = int32(i)
		}
	}

	// Each tool's decision depends only on the read-only inputs and its own
	// slot, so the per-tool work is spread over the cores; the result is the
	// same whatever the split.
	var historyMatched, desired atomic.Int64
	inChunks(len(decisions), func(lo, hi int) {
		matched, wanted := 0, 0
		for k := lo; k < hi; k++ {
			d := &decisions[k]
			// Record holds the previous record until finish replaces it.
			if rec, ok := in.History[d.Tool]; ok {
				d.Record = rec
				matched++
			}
			if d.Action == ActionSkip {
				continue
			}
			if d.Backend != "gridengine" {
				d.Action, d.Code = ActionSkip, CodeOtherBackend
				d.Reason = "backend " + strconv.Quote(d.Backend) + " is not managed by this supervisor"
				continue
			}
			wanted++
			var job *qstat.Job
			if best[k] >= 0 {
				job = &in.Jobs[best[k]]
			}
			observe(d, job, int(count[k]), in, p)
			if d.Action == ActionRestart {
				applyPolicy(d, d.Record, in, p)
			}
		}
		historyMatched.Add(int64(matched))
		desired.Add(int64(wanted))
	})
	plan.Desired = int(desired.Load())

	plan.Valve = applyValve(decisions, plan.Desired, p)
	inChunks(len(decisions), func(lo, hi int) {
		for k := lo; k < hi; k++ {
			finish(&decisions[k], decisions[k].Record, in, p)
		}
	})

	// Registrations of tools this cycle does not know are reported. Skip
	// the walk over the whole list when every registration was already
	// matched to a tool (the usual case).
	registrationsMatched := 0
	if in.ProxyErr == nil && in.Proxy.Enabled {
		for k := range decisions {
			d := &decisions[k]
			if d.Registered != nil && *d.Registered {
				registrationsMatched++
			} else if d.Registered != nil {
				if _, ok := in.Proxy.Registrations[d.Tool]; ok {
					registrationsMatched++ // listed, but not active
				}
			} else if _, ok := in.Proxy.Registrations[d.Tool]; ok && d.Action == ActionSkip {
				registrationsMatched++
			}
		}
	}
	if in.ProxyErr == nil && in.Proxy.Enabled && in.ManifestsErr == nil && registrationsMatched < len(in.Proxy.Registrations) {
		var only []Decision
		for tool := range in.Proxy.Registrations {
			if _, ok := byTool[tool]; ok {
				continue
			}
			yes := true
			only = append(only, Decision{
				Tool: tool, Registered: &yes, Action: ActionSkip, Code: CodeProxyOnly,
				Reason: "registered with proxy " + in.Proxy.Proxy + " but no service.manifest asks for a web service; not touched",
			})
		}
		if len(only) > 0 {
			slices.SortFunc(only, func(a, b Decision) int { return strings.Compare(a.Tool, b.Tool) })
			decisions = mergeDecisions(decisions, only)
		}
	}
	plan.Decisions = decisions

	for tool, rec := range in.History {
		if int(historyMatched.Load()) == len(in.History) {
			break // every record belongs to a tool of this cycle
		}
		if _, ok := byTool[tool]; ok {
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

// inChunks runs work over [0, n) split across the available cores; small
// platforms run in the caller's goroutine.
func inChunks(n int, work func(lo, hi int)) {
	const minChunk = 8192
	parts := min(runtime.GOMAXPROCS(0), (n+minChunk-1)/minChunk)
	if parts <= 1 {
		work(0, n)
		return
	}
	var wg sync.WaitGroup
	for i := range parts {
		lo, hi := n*i/parts, n*(i+1)/parts
		wg.Add(1)
		go func() {
			defer wg.Done()
			work(lo, hi)
		}()
	}
	wg.Wait()
}

// isJobName reports whether name is web + "-" + tool, without building it.
func isJobName(name, web, tool string) bool {
	return len(name) == len(web)+1+len(tool) && name[len(web)] == '-' &&
		strings.HasPrefix(name, web) && strings.HasSuffix(name, tool)
}

// sortedBy returns xs sorted by key, copying only when it was not sorted
// already (the sources hand them over sorted).
func sortedBy[T any](xs []T, key func(T) string) []T {
	cmp := func(a, b T) int { return strings.Compare(key(a), key(b)) }
	if slices.IsSortedFunc(xs, cmp) {
		return xs
	}
	xs = slices.Clone(xs)
	slices.SortFunc(xs, cmp)
	return xs
}

// mergeDecisions merges two lists sorted by tool.
func mergeDecisions(a, b []Decision) []Decision {
	out := make([]Decision, 0, len(a)+len(b))
	for len(a) > 0 && len(b) > 0 {
		if a[0].Tool < b[0].Tool {
			out, a = append(out, a[0]), a[1:]
		} else {
			out, b = append(out, b[0]), b[1:]
		}
	}
	return append(append(out, a...), b...)
}

// observe fills in what the grid and the proxy say about the tool and sets
// the action that follows from the observation alone: none, wait, or restart
// (which the policy may still turn into hold or give-up).
func observe(d *Decision, best *qstat.Job, jobs int, in Inputs, p Policy) {
	if in.GridErr != nil {
		d.Action, d.Code = ActionWait, CodeGridUnknown
		d.Reason = "grid state unknown (qstat failed this cycle); not restarting"
		return
	}
	if best == nil {
		d.Phase = PhaseNone
		d.Action, d.Code = ActionRestart, CodeNoJob
		d.Reason = "no " + d.Web + "-" + d.Tool + " job on the grid"
		return
	}
	phase := Classify(best.State)
	d.Jobs, d.Phase = jobs, phase
	d.JobNumber, d.GridState, d.Queue = best.Number, best.State, best.Queue

	// The reason is built in one buffer: this runs for every tool, every
	// cycle, and string concatenation would allocate at each step.
	var buf [256]byte
	r := append(buf[:0], "job "...)
	r = strconv.AppendInt(r, int64(best.Number), 10)
	r = append(append(append(append(r, " ("...), d.Web...), '-'), d.Tool...)
	if jobs > 1 {
		r = append(r, ", one of "...)
		r = strconv.AppendInt(r, int64(jobs), 10)
		r = append(r, " jobs of that name"...)
	}
	r = append(r, ") is "...)
	letters := func(r []byte) []byte { return append(append(append(r, " ("...), best.State...), ')') }

	switch phase {
	case PhaseError:
		d.Action, d.Code = ActionRestart, CodeJobError
		d.Reason = string(append(append(r, "stuck in error state "...), best.State...))
	case PhaseDeleting:
		d.Action, d.Code = ActionRestart, CodeJobDeleting
		d.Reason = string(letters(append(r, "being deleted"...)))
	case PhaseSuspended:
		d.Action, d.Code = ActionWait, CodeSuspended
		d.Reason = string(append(letters(append(r, "suspended"...)), "; a suspended job is not restarted"...))
	case PhaseHeld:
		d.Action, d.Code = ActionWait, CodeHeld
		d.Reason = string(append(letters(append(r, "on hold"...)), "; a held job is not restarted"...))
	case PhaseUnknown:
		d.Action, d.Code = ActionWait, CodeUnknownState
		d.Reason = string(append(strconv.AppendQuote(append(r, "in state letters "...), best.State), " this supervisor does not know; not touching it"...))
	case PhasePending:
		d.Action, d.Code = ActionWait, CodePending
		r = letters(append(r, "pending"...))
		if !best.Submitted.IsZero() {
			waited := in.Now.Sub(best.Submitted)
			r = append(append(r, " for "...), roundDuration(waited).String()...)
			if p.PendingTooLong > 0 && waited > p.PendingTooLong {
				d.Code = CodePendingTooLong
				r = append(append(append(r, ", longer than "...), roundDuration(p.PendingTooLong).String()...), ": check the queue"...)
			}
		}
		d.Reason = string(r)
	case PhaseRunning:
		observeRegistration(d, best, letters(append(r, "running"...)), in, p)
	}
}

// observeRegistration decides a running job by its proxy registration;
// running is the reason so far ("job N (web-tool) is running (r)").
func observeRegistration(d *Decision, best *qstat.Job, running []byte, in Inputs, p Policy) {
	switch {
	case in.ProxyErr != nil:
		d.Action, d.Code = ActionWait, CodeProxyUnknown
		d.Reason = string(append(running, "; registration unknown (proxy /list failed this cycle); not restarting"...))
		return
	case !in.Proxy.Enabled:
		d.Action, d.Code = ActionNone, CodeUnchecked
		d.Reason = string(append(running, "; proxy registration checking is off (empty active-proxy file)"...))
		return
	}
	reg, ok := in.Proxy.Registrations[d.Tool]
	registered := ok && (reg.Status == "" || reg.Status == "active")
	d.Registered = &registered
	proxyName := in.Proxy.Proxy
	switch {
	case registered:
		d.Action, d.Code = ActionNone, CodeHealthy
		d.Reason = string(append(append(running, " and registered with proxy "...), proxyName...))
	case !best.Started.IsZero() && in.Now.Sub(best.Started) < p.RegistrationGrace:
		d.Action, d.Code = ActionWait, CodeRegistering
		d.Reason = string(running) + " since " + roundDuration(in.Now.Sub(best.Started)).String() +
			"; waiting up to " + roundDuration(p.RegistrationGrace).String() + " for it to register with proxy " + proxyName
	case ok:
		d.Action, d.Code = ActionRestart, CodeUnregistered
		d.Reason = string(running) + " but its registration with proxy " + proxyName + " is " + strconv.Quote(reg.Status)
	default:
		d.Action, d.Code = ActionRestart, CodeUnregistered
		d.Reason = string(append(append(running, " but not registered with proxy "...), proxyName...))
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
func applyValve(decisions []Decision, desired int, p Policy) Valve {
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
		if c := da.Record.DownSince.Compare(db.Record.DownSince); c != 0 {
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
func finish(d *Decision, rec state.ToolRecord, in Inputs, p Policy) {
	if d.Code == CodeProxyOnly {
		return
	}
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
