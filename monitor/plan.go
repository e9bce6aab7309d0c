package monitor

import (
	"strconv"
	"time"

	"webservicemonitor/sources/manifest"
	"webservicemonitor/sources/proxy"
	"webservicemonitor/sources/qstat"
	"webservicemonitor/state"
)

// Inputs is everything one plan is a function of. A non-nil *Err means that
// source failed this cycle: "don't know", never "down". The manifests and
// the history are best handed over sorted by tool, as the scanner and
// state.Store.Histories list them; in another order they are planned the
// same, after a sort.
type Inputs struct {
	Manifests    manifest.Scan
	ManifestsErr error
	Jobs         []qstat.Job
	GridErr      error
	Proxy        proxy.Snapshot
	ProxyErr     error
	History      state.Records
	HistoryErr   error
	Actions      []state.Action // the admin actions in the state file, by ID

	LastCycle time.Time // when the previous cycle ran; zero on the first
	Now       time.Time
	// Host is the supervisor host planning, written on the attempts it
	// starts; empty on a single host.
	Host string
}

// Plan is one cycle's decisions, sorted by tool, and the history to persist.
type Plan struct {
	Now       time.Time
	Decisions []Decision
	Valve     Valve
	Desired   int // tools whose manifest asks for a grid web service
	// Forget lists, in tool order, the tools whose history is no longer
	// needed: no manifest asks for them and nothing in their record is
	// within the retention.
	Forget []string
	// Pauses are the admin's pauses in effect.
	Pauses []state.Action
	// Actions are the admin actions this cycle saw first or ended, to be
	// written back; PruneActions those ended longer than the retention ago.
	Actions      []state.Action
	PruneActions []uint64
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

// Strays returns the decisions of up tools with stuck jobs beside the one
// that serves.
func (p Plan) Strays() []Decision {
	var out []Decision
	for _, d := range p.Decisions {
		if d.Action == ActionNone && len(d.Clear) > 0 {
			out = append(out, d)
		}
	}
	return out
}

// MakePlan decides, for every tool, what to do this cycle. It is pure: the
// same inputs always give the same plan, whatever their order.
//
// The steps: join the sources by tool; decide each tool alone (what its job
// and registration say, then whether its history allows a restart); let the
// safety valve hold the cycle's restarts when too many want one; then work
// out each tool's next record and service.log notice.
func MakePlan(in Inputs, p Policy) Plan {
	seen := join(&in)
	plan := Plan{Now: in.Now, Desired: seen.desired}
	adm := newAdmin(in.Actions, in.Now)
	decisions, wanting := decideAll(seen, &in, &p, &adm)
	plan.Decisions = decisions
	plan.Valve = applyValve(wanting, plan.Desired, p, adm.release, in.Now)
	forEach(len(wanting), func(i int) { finish(wanting[i], &in, &p) })
	plan.Forget = forgotten(seen.orphans, in, p)
	adminOutcome(&plan, &adm, &in, &p)
	return plan
}

// decideAll decides every tool, and finishes each decision but those that
// ask for a restart, which the safety valve may still hold. It returns the
// decisions and, in tool order, those restarts.
func decideAll(seen *joined, in *Inputs, p *Policy, adm *admin) (decisions []Decision, wanting []*Decision) {
	decisions = make([]Decision, len(seen.rows))
	// Marked here, so that finding the restarts reads a byte per tool
	// rather than every decision again.
	restart := make([]bool, len(seen.rows))
	// Each tool is decided alone, so the tools are spread over the cores.
	forEach(len(seen.rows), func(k int) {
		v, d := seen.view(k), &decisions[k]
		decide(d, &v, in, p, adm)
		if restart[k] = d.Action == ActionRestart; !restart[k] {
			finish(d, in, p)
		}
	})
	for k, yes := range restart {
		if yes {
			wanting = append(wanting, &decisions[k])
		}
	}
	return decisions, wanting
}

// decide makes d the tool's decision before the safety valve, and before
// its next record is worked out.
func decide(d *Decision, v *toolView, in *Inputs, p *Policy, adm *admin) {
	d.Tool, d.Manifest = v.tool, v.manifest
	d.Previous, d.ClockCorrected = notInFuture(v.previous, in.Now)
	if len(adm.forgets) > 0 {
		d.Previous, d.Forgiven = adm.forgive(v.tool, d.Previous)
	}
	switch {
	case v.skipped != nil:
		d.Action, d.Code, d.Reason = ActionSkip, Code(v.skipped.Code), v.skipped.Reason
	case v.proxyOnly:
		d.Registered = v.registered
		d.Action, d.Code = ActionSkip, CodeProxyOnly
		d.Reason = "registered with proxy " + in.Proxy.Proxy + " but no service.manifest asks for a web service; not touched"
	case !v.desired():
		d.Action, d.Code = ActionSkip, CodeOtherBackend
		d.Reason = "backend " + strconv.Quote(d.Backend) + " is not managed by this supervisor"
	default:
		decideDesired(d, v, in, p, adm)
	}
	if len(adm.retries) > 0 && d.Retry == nil && d.Action != ActionRestart && d.Action != ActionNone {
		if r := adm.retryOf(d.Tool); r != nil {
			d.Reason += "; " + byWhom("restart asked", r) + " not carried out"
		}
	}
}

// decideDesired decides a tool that asks for a web service: what the grid
// and the proxy say about it, then, if that calls for a restart, what its
// restart tracker allows.
//
// A restart that awaits being seen up is settled first: while it is
// within its up timeout the tool waits for it, whatever is seen.
func decideDesired(d *Decision, v *toolView, in *Inputs, p *Policy, adm *admin) {
	seen := observe(v, in, p)
	d.Phase, d.Registered = seen.phase, seen.registered
	if in.GridErr == nil && v.job != nil {
		d.JobNumber, d.GridState, d.Queue, d.Jobs = v.job.Number, v.job.State, v.job.Queue, v.jobs
	}
	settle(d, &seen, in.Now, p)
	if seen.phase == PhasePending && seen.action == ActionWait && seen.code != CodeVerifying &&
		notUpSinceRestart(d.Previous, d.Settled) {
		seen.action, seen.code = ActionRestart, CodeQueuedAfterRestart
		seen.reason += "; its last restart did not bring it up"
	}
	d.Action, d.Code, d.Reason = seen.action, seen.code, seen.reason
	switch {
	case seen.action == ActionNone && len(v.others) > 0:
		if d.Clear = straysToClear(v, d, in.Now, p); d.Clear != nil {
			d.Reason += "; clearing " + clearingText(d.Clear) + ", stuck beside it"
		}
		return
	case seen.action != ActionRestart:
		return
	}
	tracker := restartTracker{policy: *p, tool: v.tool, history: d.Previous, now: in.Now, host: in.Host}
	if in.HistoryErr != nil {
		tracker.history = nil
	}
	r := tracker.decide(seen)
	d.Action, d.Code, d.Reason = r.action, r.code, r.reason
	d.Attempts, d.NextRestart, d.GivenUp = r.attempts, r.nextRestart, r.givenUp
	applyAdmin(d, adm, seen.code)
	if d.Action == ActionRestart {
		d.Clear = jobsToClear(v, d, in.Now, p)
	}
}

// forgotten lists, in tool order, the tools whose history can go: no
// manifest asks for them (orphans, in tool order) and nothing in their
// record is within the retention. A failed manifest scan forgets nothing.
func forgotten(orphans []*state.ToolHistory, in Inputs, p Policy) []string {
	if in.ManifestsErr != nil {
		return nil
	}
	var out []string
	for _, th := range orphans {
		if len(state.Prune(th.Record, in.Now.Add(-p.Retention)).Attempts) == 0 {
			out = append(out, th.Tool)
		}
	}
	return out
}
