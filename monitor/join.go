package monitor

import (
	"slices"
	"strings"
	"sync/atomic"

	"webservicemonitor/sources/manifest"
	"webservicemonitor/sources/proxy"
	"webservicemonitor/sources/qstat"
	"webservicemonitor/state"
)

// The join matches the inputs by tool: one row per tool, sorted by tool,
// that a decision is then made from. A row holds positions in the inputs'
// lists rather than pointers: at 100,000 tools each step of the join writes
// every row, and rows without pointers are a fifth of the size and cost the
// garbage collector nothing (BenchmarkPlan). toolView turns a row back into
// pointers, one tool at a time.

// source says which list a tool's row comes from.
type source uint8

const (
	fromManifest source = iota // a manifest that asks for a web service
	fromSkipped                // a manifest the scanner refused
	fromProxy                  // the proxy's list alone: no manifest asks for a web service
)

// registration is what the proxy's list says of a tool.
type registration uint8

const (
	unlisted registration = iota
	active                // listed, with status "active" (or none)
	inactive              // listed in another status
)

// toolRow is one tool in the join.
type toolRow struct {
	from    source
	reg     registration
	at      int32 // its position in the list it comes from
	job     int32 // its best web job in Inputs.Jobs, the closest to serving; -1 without one
	jobs    int32 // how many web jobs it has
	history int32 // its record in joined.history; -1 without one
}

// joined is the inputs matched by tool.
type joined struct {
	rows      []toolRow // sorted by tool
	desired   int       // tools that ask for a web service
	manifests []manifest.Manifest
	skipped   []manifest.Skipped
	proxyOnly []string
	history   state.Records
	orphans   []*state.ToolHistory // history of tools without a row: no manifest asks for them
	// several lists, by row, every web job of the tools that have more
	// than one (positions in Inputs.Jobs): rare, and each must be named
	// and perhaps cleared.
	several map[int32][]int32
	in      *Inputs
	checked bool              // whether the proxy's list was read
	none    *state.ToolRecord // the record of a tool without history
	yes, no *bool             // what Decision.Registered points to, shared
}

// join matches the manifests, the grid's jobs, the proxy's registrations and
// the restart history by tool. Every tool whose manifest asks for a web
// service, or was refused, gets a row; so does every registration of a
// tool without one, when both the proxy and the manifests could be read.
func join(in *Inputs) *joined {
	j := &joined{in: in, none: new(state.ToolRecord), yes: new(bool), no: new(bool),
		checked: in.ProxyErr == nil && in.Proxy.Enabled}
	*j.yes = true
	j.manifestRows()
	// The jobs need an index of the tools; the history and the proxy's
	// list need only the rows: the two run side by side, as each step takes
	// milliseconds at 100,000 tools (BenchmarkPlan).
	var index toolIndex
	listed := 0
	sideBySide(len(j.rows), func() {
		index = newToolIndex(len(j.rows), func(k int32) string { return j.tool(&j.rows[k]) })
		j.matchJobs(index)
	}, func() {
		j.matchHistory()
		if j.checked {
			listed = j.matchRegistrations()
		}
	})
	if j.checked && in.ManifestsErr == nil && listed < len(in.Proxy.Registrations) {
		j.addProxyOnly(index)
	}
	return j
}

// manifestRows lists, sorted by tool, a row for every tool whose manifest
// asks for a web service or was refused, and counts the tools that ask this
// supervisor for one. The scanner hands both lists over sorted by tool, so
// they are merged; a caller that does not gets them sorted.
func (j *joined) manifestRows() {
	toolOfManifest := func(m *manifest.Manifest) string { return m.Tool }
	toolOfSkipped := func(s *manifest.Skipped) string { return s.Tool }
	j.manifests, j.skipped = j.in.Manifests.Manifests, j.in.Manifests.Skipped
	if !isSorted(j.manifests, toolOfManifest) {
		j.manifests = sortedCopy(j.manifests, toolOfManifest)
	}
	if !isSorted(j.skipped, toolOfSkipped) {
		j.skipped = sortedCopy(j.skipped, toolOfSkipped)
	}
	manifests, skipped := j.manifests, j.skipped
	j.rows = make([]toolRow, 0, len(manifests)+len(skipped))
	m, s := 0, 0
	for m < len(manifests) || s < len(skipped) {
		if s == len(skipped) || (m < len(manifests) && manifests[m].Tool < skipped[s].Tool) {
			if manifests[m].Web != "" { // without one, nothing is asked for
				j.rows = append(j.rows, toolRow{from: fromManifest, at: int32(m), job: -1, history: -1})
				if manifests[m].Backend == manifest.BackendGridEngine {
					j.desired++
				}
			}
			m++
			continue
		}
		j.rows = append(j.rows, toolRow{from: fromSkipped, at: int32(s), job: -1, history: -1})
		s++
	}
}

// tool is the name of the row's tool.
func (j *joined) tool(r *toolRow) string {
	switch r.from {
	case fromSkipped:
		return j.skipped[r.at].Tool
	case fromProxy:
		return j.proxyOnly[r.at]
	}
	return j.manifests[r.at].Tool
}

// matchJobs gives each tool its web jobs. Of several, the one closest to
// serving is the tool's job; of equals, the first listed.
func (j *joined) matchJobs(index toolIndex) {
	jobs := j.in.Jobs
	// Finding each job's tool only reads, and is the costliest step of the
	// join: it is spread over the cores, in batches (webJobsOf). The tally
	// is cheap.
	toolOf := make([]int32, len(jobs))
	inParts(len(jobs), func(lo, hi int) {
		for b := lo; b < hi; b += jobBatch {
			j.webJobsOf(index, jobs[b:min(b+jobBatch, hi)], toolOf[b:])
		}
	})
	for i, k := range toolOf {
		if k < 0 {
			continue
		}
		r := &j.rows[k]
		r.jobs++
		switch {
		case r.jobs == 2:
			if j.several == nil {
				j.several = map[int32][]int32{}
			}
			j.several[k] = []int32{r.job, int32(i)}
		case r.jobs > 2:
			j.several[k] = append(j.several[k], int32(i))
		}
		if r.job < 0 || Classify(jobs[i].State).rank() > Classify(jobs[r.job].State).rank() {
			r.job = int32(i)
		}
	}
}

// jobBatch is how many jobs webJobsOf looks up one step at a time.
const jobBatch = 64

// webJobsOf sets toolOf[i] to the row of the tool whose web job jobs[i] is,
// or -1. A job counts only when its owner is the tool's account and its
// name is <web>-<tool>.
//
// The lookup goes one step at a time for the whole batch, each step a loop
// of its own: at 100,000 tools every step misses the cache, and a tight
// loop lets the processor wait for the misses of many jobs at once.
func (j *joined) webJobsOf(index toolIndex, jobs []qstat.Job, toolOf []int32) {
	var tools [jobBatch]string
	var hashes [jobBatch]uint64
	for i := range jobs {
		toolOf[i] = -1
		_, tool, ok := strings.Cut(jobs[i].Owner, ".")
		// Most jobs are not web services: the name rules them out
		// before the lookup.
		if ok && endsWithTool(jobs[i].Name, tool) {
			tools[i], hashes[i] = tool, index.hash(tool)
		}
	}
	for i := range jobs {
		if tools[i] != "" {
			toolOf[i] = index.candidate(hashes[i])
		}
	}
	for i := range jobs {
		if k := toolOf[i]; k >= 0 && j.tool(&j.rows[k]) != tools[i] {
			toolOf[i] = index.find(hashes[i], tools[i]) // another tool with the same tag
		}
	}
	for i := range jobs {
		if k := toolOf[i]; k >= 0 && !j.isWebJob(&jobs[i], &j.rows[k]) {
			toolOf[i] = -1
		}
	}
}

// isWebJob reports whether job is the web job of the row's tool.
func (j *joined) isWebJob(job *qstat.Job, r *toolRow) bool {
	if r.from != fromManifest {
		return false // a refused manifest asks for no web service
	}
	m := &j.manifests[r.at]
	return m.Account == job.Owner && isJobName(job.Name, m.Web, m.Tool)
}

// matchHistory gives each tool its record, and lists the records of tools
// without a row. The store lists the history sorted by tool, as the rows
// are, so the two are walked side by side; a caller that does not gets it
// sorted.
func (j *joined) matchHistory() {
	j.history = j.in.History
	if !j.walkHistory() {
		j.history = sortedCopy(j.in.History, func(th *state.ToolHistory) string { return th.Tool })
		j.walkHistory()
	}
}

// walkHistory matches the history to the rows; false when it finds the
// history unsorted.
func (j *joined) walkHistory() (sorted bool) {
	history := j.history
	j.orphans = nil
	h := 0
	for k := range j.rows {
		r := &j.rows[k]
		r.history = -1
		tool := j.tool(r)
		for ; h < len(history) && history[h].Tool <= tool; h++ {
			if h > 0 && history[h].Tool < history[h-1].Tool {
				return false
			}
			if history[h].Tool < tool {
				j.orphans = append(j.orphans, &history[h])
			} else if r.history < 0 {
				r.history = int32(h)
			}
		}
	}
	for ; h < len(history); h++ {
		if h > 0 && history[h].Tool < history[h-1].Tool {
			return false
		}
		j.orphans = append(j.orphans, &history[h])
	}
	return true
}

// matchRegistrations gives each tool its entry in the proxy's list, and
// returns how many tools are listed.
func (j *joined) matchRegistrations() (listed int) {
	list := j.in.Proxy.Registrations
	// Each lookup only reads: spread over the cores.
	forEach(len(j.rows), func(k int) {
		r := &j.rows[k]
		r.reg = registrationOf(list, j.tool(r))
	})
	for k := range j.rows {
		if j.rows[k].reg != unlisted {
			listed++
		}
	}
	return listed
}

func registrationOf(list map[string]proxy.Registration, tool string) registration {
	switch r, ok := list[tool]; {
	case !ok:
		return unlisted
	case r.Status == "" || r.Status == "active":
		return active
	}
	return inactive
}

// addProxyOnly adds a row, in tool order, for every registration of a tool
// that has none.
func (j *joined) addProxyOnly(index toolIndex) {
	for tool := range j.in.Proxy.Registrations {
		if index.find(index.hash(tool), tool) < 0 {
			j.proxyOnly = append(j.proxyOnly, tool)
		}
	}
	slices.Sort(j.proxyOnly)
	only := make([]toolRow, len(j.proxyOnly))
	for i, tool := range j.proxyOnly {
		only[i] = toolRow{from: fromProxy, reg: registrationOf(j.in.Proxy.Registrations, tool), at: int32(i), job: -1, history: -1}
	}
	j.rows = mergeByTool(j.rows, only, func(r toolRow) string { return j.tool(&r) })
}

// endsWithTool reports whether a job's name ends in "-" + tool, without
// building that string.
func endsWithTool(name, tool string) bool {
	return len(name) > len(tool) && strings.HasSuffix(name, tool) && name[len(name)-len(tool)-1] == '-'
}

// isJobName reports whether name is web + "-" + tool, without building it.
func isJobName(name, web, tool string) bool {
	return len(name) == len(web)+1+len(tool) && name[len(web)] == '-' &&
		strings.HasPrefix(name, web) && strings.HasSuffix(name, tool)
}

// isSorted reports whether xs is sorted by key. At 100,000 tools reading
// each name misses the cache: the check is spread over the cores.
func isSorted[T any](xs []T, key func(*T) string) bool {
	var unsorted atomic.Bool
	forEach(len(xs), func(i int) {
		if i > 0 && key(&xs[i]) < key(&xs[i-1]) {
			unsorted.Store(true)
		}
	})
	return !unsorted.Load()
}

// sortedCopy returns a copy of xs sorted by key.
func sortedCopy[T any](xs []T, key func(*T) string) []T {
	xs = slices.Clone(xs)
	slices.SortFunc(xs, func(a, b T) int { return strings.Compare(key(&a), key(&b)) })
	return xs
}

// mergeByTool merges two lists sorted by tool; of equals, b's comes first.
func mergeByTool[T any](a, b []T, tool func(T) string) []T {
	out := make([]T, 0, len(a)+len(b))
	for len(a) > 0 && len(b) > 0 {
		if tool(a[0]) < tool(b[0]) {
			out, a = append(out, a[0]), a[1:]
		} else {
			out, b = append(out, b[0]), b[1:]
		}
	}
	return append(append(out, a...), b...)
}
