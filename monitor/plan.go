package monitor

import (
	"cmp"
	"fmt"
	"hash/maphash"
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
	History      state.Records // sorted by tool, as state.Store.Histories lists it
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
// allocation-light, because it runs every minute over 100,000 tools: the
// manifests and the history come sorted by tool and are joined by merging,
// each job costs one probe of an index of the tools, the per-tool work is
// spread over the cores, and decisions come out already sorted.
func MakePlan(in Inputs, p Policy) Plan {
	// The sources hand the lists over sorted by tool; the rare caller that
	// does not gets a plan made from sorted copies.
	skipped := sortedBy(in.Manifests.Skipped, func(s manifest.Skipped) string { return s.Tool })
	index, skips, sorted := indexTools(in.Manifests.Manifests, skipped)
	if !sorted {
		in.Manifests.Manifests = sortedCopy(in.Manifests.Manifests, func(m manifest.Manifest) string { return m.Tool })
		return MakePlan(in, p)
	}
	history := in.History // checked below, only when the merge leaves records unmatched
	plan := Plan{Now: in.Now}
	// One decision per indexed tool, in the index's (tool) order; each is
	// filled in by the per-tool pass below, on the cores.
	decisions := make([]Decision, len(index.manifests))

	// Each tool's jobs: a job counts only when its owner is the tool's
	// account and its name is <web>-<tool>. Finding the tool of each job is
	// the costly part and reads only, so it is spread over the cores; the
	// tally that follows is cheap.
	owner := make([]int32, len(in.Jobs))
	rank := make([]int8, len(in.Jobs)) // of the job's phase, where owner is set
	inChunks(len(in.Jobs), perTool, func(lo, hi int) {
		// In batches, one step at a time: at 100,000 tools every step of a
		// lookup misses the cache, and a tight loop per step lets the
		// processor wait for the misses of many jobs at once.
		type probe struct {
			job  int
			tool string
			h    uint64
			k    int
			m    *manifest.Manifest
		}
		var batch [64]probe
		for i := lo; i < hi; {
			n := 0
			for ; i < hi && n < len(batch); i++ {
				owner[i] = -1
				j := &in.Jobs[i]
				dot := strings.IndexByte(j.Owner, '.')
				if dot < 0 {
					continue
				}
				// Most jobs are not web services: rule them out by name
				// before paying for a lookup.
				tool := j.Owner[dot+1:]
				if len(j.Name) <= len(tool) || !strings.HasSuffix(j.Name, tool) || j.Name[len(j.Name)-len(tool)-1] != '-' {
					continue
				}
				batch[n] = probe{job: i, tool: tool, h: index.hash(tool)}
				n++
			}
			for b := range batch[:n] {
				pr := &batch[b]
				if pr.k = index.candidate(pr.h); pr.k >= 0 {
					pr.m = index.manifests[pr.k]
				}
			}
			for b := range batch[:n] {
				if pr := &batch[b]; pr.k >= 0 && pr.m.Tool != pr.tool {
					pr.k, pr.m = index.lookup(pr.h, pr.tool) // the tags collided
				}
			}
			for b := range batch[:n] {
				pr := &batch[b]
				j := &in.Jobs[pr.job]
				if pr.k < 0 || pr.m.Account != j.Owner || pr.m.Web == "" || !isJobName(j.Name, pr.m.Web, pr.m.Tool) {
					continue
				}
				owner[pr.job], rank[pr.job] = int32(pr.k), int8(Classify(j.State).rank())
			}
		}
	})
	best := make([]int32, len(decisions))
	bestRank := make([]int8, len(decisions))
	count := make([]int32, len(decisions))
	for i := range best {
		best[i] = -1
	}
	for i, k := range owner {
		if k < 0 {
			continue
		}
		count[k]++
		if best[k] < 0 || rank[i] > bestRank[k] {
			best[k], bestRank[k] = int32(i), rank[i]
		}
	}

	// Each tool's decision depends only on the read-only inputs and its own
	// slot, so the per-tool work is spread over the cores; the result is the
	// same whatever the split. A tool without history starts from the zero
	// record, shared because nothing modifies a previous record. Only the
	// valve can still change a restart, so every other decision is finished
	// in the same pass.
	none := new(state.ToolRecord)
	registered := make([]bool, len(decisions)) // what Decision.Registered points to
	checkProxy := in.ProxyErr == nil && in.Proxy.Enabled
	var historyMatched, desired, listed atomic.Int64
	var mu sync.Mutex
	var restarts []int
	inChunks(len(decisions), perTool, func(lo, hi int) {
		matched, wanted, registrations := 0, 0, 0
		var wanting []int
		// The decisions start from the manifests. The tools' jobs and
		// registrations are looked up ahead, each in a loop of its own: at
		// 100,000 tools each lookup misses the cache, and a tight loop lets
		// the processor wait for many of them at once. (observe sets the
		// same grid fields again, from the cache.)
		s, _ := slices.BinarySearchFunc(skips, lo, func(sk skipAt, k int) int { return cmp.Compare(sk.k, k) })
		for k := lo; k < hi; k++ {
			d, m := &decisions[k], index.manifests[k]
			d.Tool, d.Manifest = m.Tool, m
			if s < len(skips) && skips[s].k == k {
				d.Action, d.Code, d.Reason = ActionSkip, Code(skips[s].Code), skips[s].Reason
				s++
			} else if best[k] >= 0 && in.GridErr == nil && m.Backend == manifest.BackendGridEngine {
				j := &in.Jobs[best[k]]
				d.JobNumber, d.GridState, d.Queue = j.Number, j.State, j.Queue
			}
		}
		var regs []registration
		if checkProxy {
			regs = make([]registration, hi-lo)
			for k := lo; k < hi; k++ {
				regs[k-lo] = registrationOf(in.Proxy.Registrations, decisions[k].Tool)
			}
		}
		h := 0
		if lo < hi {
			h, _ = slices.BinarySearchFunc(history, decisions[lo].Tool, func(th state.ToolHistory, tool string) int {
				return strings.Compare(th.Tool, tool)
			})
		}
		for k := lo; k < hi; k++ {
			d := &decisions[k]
			// Equality is tested first: the lists are usually aligned, and
			// one comparison per tool is then enough.
			for h < len(history) && history[h].Tool != d.Tool && history[h].Tool < d.Tool {
				h++
			}
			d.Previous = none
			if h < len(history) && history[h].Tool == d.Tool {
				d.Previous = &history[h].Record
				matched++
			}
			switch {
			case d.Action == ActionSkip:
			case d.Backend != manifest.BackendGridEngine:
				d.Action, d.Code = ActionSkip, CodeOtherBackend
				d.Reason = "backend " + strconv.Quote(d.Backend) + " is not managed by this supervisor"
			default:
				wanted++
				seen := sight{jobs: int(count[k]), registered: &registered[k]}
				if best[k] >= 0 {
					seen.job = &in.Jobs[best[k]]
				}
				if regs != nil {
					seen.reg = regs[k-lo]
				}
				observe(d, seen, in, p)
				if d.Action == ActionRestart {
					applyPolicy(d, d.Previous, in, p)
				}
			}
			// Registrations that belong to a tool of this cycle, so the
			// proxy-only ones need no search when there are none.
			if checkProxy {
				if d.Registered != nil && *d.Registered {
					registrations++
				} else if (d.Registered != nil || d.Action == ActionSkip) && regs[k-lo] != unlisted {
					registrations++ // listed, but not active; or a skipped tool's
				}
			}
			if d.Action == ActionRestart {
				wanting = append(wanting, k)
				continue
			}
			finish(d, in, p)
		}
		historyMatched.Add(int64(matched))
		desired.Add(int64(wanted))
		listed.Add(int64(registrations))
		mu.Lock()
		restarts = append(restarts, wanting...)
		mu.Unlock()
	})
	// Every record matched proves the history sorted; otherwise it is
	// checked, and an unsorted one planned again from a sorted copy.
	if int(historyMatched.Load()) < len(history) && !slices.IsSortedFunc(history, historyOrder) {
		in.History = sortedCopy(history, func(th state.ToolHistory) string { return th.Tool })
		return MakePlan(in, p)
	}
	plan.Desired = int(desired.Load())

	slices.Sort(restarts) // in tool order, whatever the split
	plan.Valve = applyValve(decisions, restarts, plan.Desired, p)

	inChunks(len(restarts), perRestart, func(lo, hi int) {
		for _, k := range restarts[lo:hi] {
			finish(&decisions[k], in, p)
		}
	})

	// History of tools no manifest asks for any more: forgotten once nothing
	// in it is within the retention. Skip the walk when every record
	// belonged to a tool of this cycle (the usual case).
	if int(historyMatched.Load()) < len(history) {
		k := 0
		for h := range history {
			th := &history[h]
			for k < len(decisions) && decisions[k].Tool < th.Tool {
				k++
			}
			if k < len(decisions) && decisions[k].Tool == th.Tool {
				continue
			}
			pruned := state.Prune(th.Record, in.Now.Add(-p.Retention))
			if len(pruned.Attempts) == 0 && in.ManifestsErr == nil {
				plan.Forget = append(plan.Forget, th.Tool)
			}
		}
	}

	// Registrations of tools this cycle does not know are reported. Skip
	// the walk over the whole list when every registration was already
	// matched to a tool (the usual case).
	if checkProxy && in.ManifestsErr == nil && int(listed.Load()) < len(in.Proxy.Registrations) {
		var only []Decision
		for tool := range in.Proxy.Registrations {
			if k, _ := index.find(tool); k >= 0 {
				continue
			}
			yes := true
			only = append(only, Decision{
				Tool: tool, Manifest: &manifest.Manifest{Tool: tool}, Registered: &yes, Previous: none, Next: none,
				Action: ActionSkip, Code: CodeProxyOnly,
				Reason: "registered with proxy " + in.Proxy.Proxy + " but no service.manifest asks for a web service; not touched",
			})
		}
		if len(only) > 0 {
			slices.SortFunc(only, func(a, b Decision) int { return strings.Compare(a.Tool, b.Tool) })
			decisions = mergeDecisions(decisions, only)
		}
	}
	plan.Decisions = decisions
	return plan
}

// skipAt is a skipped manifest and the position of its decision.
type skipAt struct {
	k int
	*manifest.Skipped
}

// indexTools lists, in tool order, the tools that get a decision: every
// tool that asks for a web service or whose manifest was skipped, merging
// the two sorted lists so the decisions need no sort. skips says which of
// them were skipped. The manifests are checked to be sorted on the way;
// sorted is false, and the rest is to be ignored, when they are not.
func indexTools(manifests []manifest.Manifest, skipped []manifest.Skipped) (index toolIndex, skips []skipAt, sorted bool) {
	index = newToolIndex(len(manifests) + len(skipped))
	// Each tool's name is read here for the first time, which at 100,000
	// tools misses the cache each time: the order check and the hashing
	// that need it are spread over the cores.
	hashes := make([]uint64, len(manifests))
	var unsorted atomic.Bool
	inChunks(len(manifests), perTool, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			if i > 0 && manifests[i].Tool < manifests[i-1].Tool {
				unsorted.Store(true)
				return
			}
			hashes[i] = index.hash(manifests[i].Tool)
		}
	})
	if unsorted.Load() {
		return toolIndex{}, nil, false
	}

	at := make([]uint64, 0, len(manifests)+len(skipped)) // each tool's hash
	for i, j := 0, 0; i < len(manifests) || j < len(skipped); {
		if j == len(skipped) || (i < len(manifests) && manifests[i].Tool < skipped[j].Tool) {
			m := &manifests[i]
			i++
			if m.Web == "" {
				continue // no web service asked for: not desired
			}
			index.manifests = append(index.manifests, m)
			at = append(at, hashes[i-1])
			continue
		}
		s := &skipped[j]
		j++
		known := &manifest.Manifest{Tool: s.Tool, Home: s.Home}
		if s.Account != nil {
			known.Account, known.UID, known.GID = s.Account.Name, s.Account.UID, s.Account.GID
		}
		skips = append(skips, skipAt{k: len(index.manifests), Skipped: s})
		index.manifests = append(index.manifests, known)
		at = append(at, index.hash(s.Tool))
	}
	index.place(at)
	return index, skips, true
}

// toolIndex finds a decision by tool name. It is an open-addressing table
// of decision positions, each tagged with bits of its tool's hash so that a
// probe rarely has to look further, and with each decision's manifest
// beside it so that a job is checked against its tool without touching the
// (large) decision. At 100,000 tools it is built several times faster than
// a map[string]int and is a fraction of its size. The hash seed is random,
// but only where a tool sits in the table depends on it, never what a
// lookup returns.
type toolIndex struct {
	seed      maphash.Seed
	slots     []uint64 // the upper half of the tool's hash, then position + 1; 0 is empty
	manifests []*manifest.Manifest
}

// newToolIndex makes an index for up to n tools.
func newToolIndex(n int) toolIndex {
	size := 16
	for size < 2*n {
		size *= 2
	}
	return toolIndex{seed: maphash.MakeSeed(), slots: make([]uint64, size), manifests: make([]*manifest.Manifest, 0, n)}
}

func (x toolIndex) hash(tool string) uint64 { return maphash.String(x.seed, tool) }

// place puts the decisions, whose tools' hashes are given in order, in the
// table. Their manifests are already listed.
func (x *toolIndex) place(hashes []uint64) {
	mask := uint64(len(x.slots) - 1)
	for k, h := range hashes {
		i := h & mask
		for x.slots[i] != 0 {
			i = (i + 1) & mask
		}
		x.slots[i] = h&^0xffffffff | uint64(k+1)
	}
}

// candidate returns the first decision, from the tool's home slot on,
// whose tag matches the hash h; -1 when there is none, and so no such tool.
func (x toolIndex) candidate(h uint64) int {
	mask := uint64(len(x.slots) - 1)
	for i := h & mask; x.slots[i] != 0; i = (i + 1) & mask {
		if s := x.slots[i]; s>>32 == h>>32 {
			return int(s&0xffffffff) - 1
		}
	}
	return -1
}

// lookup returns the position of the decision of the tool, whose hash is
// h, and its manifest; or -1.
func (x toolIndex) lookup(h uint64, tool string) (int, *manifest.Manifest) {
	mask := uint64(len(x.slots) - 1)
	for i := h & mask; x.slots[i] != 0; i = (i + 1) & mask {
		if s := x.slots[i]; s>>32 == h>>32 {
			k := int(s&0xffffffff) - 1
			if m := x.manifests[k]; m.Tool == tool {
				return k, m
			}
		}
	}
	return -1, nil
}

// find returns the position of the tool's decision and its manifest, or -1.
func (x toolIndex) find(tool string) (int, *manifest.Manifest) {
	return x.lookup(x.hash(tool), tool)
}

// Work per item below which splitting across cores does not pay: most
// loops do little per tool, a restart builds its reason and record.
const (
	perTool    = 8192
	perRestart = 512
)

// inChunks runs work over [0, n) split across the available cores, in
// parts of at least minChunk items: fewer items run in the caller's
// goroutine.
func inChunks(n, minChunk int, work func(lo, hi int)) {
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
// already.
func sortedBy[T any](xs []T, key func(T) string) []T {
	if slices.IsSortedFunc(xs, func(a, b T) int { return strings.Compare(key(a), key(b)) }) {
		return xs
	}
	return sortedCopy(xs, key)
}

// sortedCopy returns a copy of xs sorted by key.
func sortedCopy[T any](xs []T, key func(T) string) []T {
	xs = slices.Clone(xs)
	slices.SortFunc(xs, func(a, b T) int { return strings.Compare(key(a), key(b)) })
	return xs
}

// historyOrder orders the history by tool.
func historyOrder(a, b state.ToolHistory) int { return strings.Compare(a.Tool, b.Tool) }

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

// sight is what the sources say about one tool, gathered before deciding.
type sight struct {
	job        *qstat.Job // the best of its jobs; nil without one
	jobs       int        // how many it has
	reg        registration
	registered *bool // the tool's slot for what Decision.Registered points to
}

// registration is what the proxy's list says of a tool.
type registration uint8

const (
	unlisted registration = iota
	active                // listed, with status "active" (or none)
	inactive              // listed in another status
)

func registrationOf(list map[string]proxy.Registration, tool string) registration {
	switch r, ok := list[tool]; {
	case !ok:
		return unlisted
	case r.Status == "" || r.Status == "active":
		return active
	}
	return inactive
}

// observe fills in what the grid and the proxy say about the tool and sets
// the action that follows from the observation alone: none, wait, or restart
// (which the policy may still turn into hold or give-up).
func observe(d *Decision, seen sight, in Inputs, p Policy) {
	best, jobs := seen.job, seen.jobs
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
		observeRegistration(d, seen, letters(append(r, "running"...)), in, p)
	}
}

// observeRegistration decides a running job by its proxy registration;
// running is the reason so far ("job N (web-tool) is running (r)").
func observeRegistration(d *Decision, seen sight, running []byte, in Inputs, p Policy) {
	best, reg, slot := seen.job, seen.reg, seen.registered
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
	ok := reg != unlisted
	registered := reg == active
	*slot = registered
	d.Registered = slot
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
		d.Reason = string(running) + " but its registration with proxy " + proxyName + " is " + strconv.Quote(in.Proxy.Registrations[d.Tool].Status)
	default:
		d.Action, d.Code = ActionRestart, CodeUnregistered
		d.Reason = string(append(append(running, " but not registered with proxy "...), proxyName...))
	}
}

// applyPolicy turns a restart the observation asks for into restart, hold or
// give-up according to the tool's history.
func applyPolicy(d *Decision, rec *state.ToolRecord, in Inputs, p Policy) {
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
// wanting lists, in tool order, the decisions that ask for a restart.
func applyValve(decisions []Decision, wanting []int, desired int, p Policy) Valve {
	v := Valve{Limit: p.valveLimit(desired)}
	v.Wanting = len(wanting)
	if v.Wanting <= v.Limit {
		return v
	}
	v.Tripped = true
	v.Reason = fmt.Sprintf("safety valve: %d of %d tools need a restart at once (limit %d); holding restarts, the cause is likely the proxy or the grid rather than the tools",
		v.Wanting, desired, v.Limit)
	// Let the tools that have been down longest through first, then by name.
	wanting = slices.Clone(wanting)
	slices.SortStableFunc(wanting, func(a, b int) int {
		da, db := &decisions[a], &decisions[b]
		if c := da.Previous.DownSince.Compare(db.Previous.DownSince); c != 0 {
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
// notice, from the final decision. Next is a new record only when the record
// changes: a stable platform allocates nothing here.
func finish(d *Decision, in Inputs, p Policy) {
	rec := d.Previous
	d.Next = rec
	if d.Code == CodeProxyOnly {
		return
	}
	if d.Action == ActionNone && len(rec.Attempts) == 0 && rec.BackoffStep == 0 && !rec.UpSince.IsZero() &&
		rec.DownSince.IsZero() && rec.GivenUpAt.IsZero() && rec.Notice == "" {
		// Up, and already recorded as up with nothing to forget: the rest
		// would change nothing. Most tools, most cycles.
		return
	}
	next := state.Prune(*rec, in.Now.Add(-p.Retention))
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

	switch d.Action {
	case ActionRestart:
		// Built in one buffer: at a platform outage this runs for every tool.
		var buf [256]byte
		r := append(append(buf[:0], d.Reason...), "; restart "...)
		r = append(append(strconv.AppendInt(r, int64(d.Attempts), 10), " of "...), strconv.Itoa(p.Budget)...)
		d.Reason = string(append(append(r, " in "...), roundDuration(p.Window).String()...))
		// A new list: the attempts may still be the history's, never to
		// be written to.
		attempts := make([]state.Attempt, len(next.Attempts), len(next.Attempts)+1)
		copy(attempts, next.Attempts)
		next.Attempts = append(attempts, state.Attempt{At: in.Now, Outcome: state.OutcomeStarted, Reason: d.Reason})
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

	if !recordsEqual(*rec, next) {
		changed := new(state.ToolRecord)
		*changed = next
		if d.Action != ActionRestart {
			// Its own attempts, never the history's: the cycle fills in
			// the outcome of the last one. (A restart's are new already.)
			changed.Attempts = slices.Clone(next.Attempts)
		}
		d.Next, d.RecordChanged = changed, true
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

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func roundDuration(d time.Duration) time.Duration {
	if d >= time.Minute {
		return d.Round(time.Second)
	}
	return d.Round(100 * time.Millisecond)
}
