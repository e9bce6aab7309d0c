package monitor

import (
	"webservicemonitor/sources/manifest"
	"webservicemonitor/sources/qstat"
	"webservicemonitor/state"
)

// toolView is one tool's row turned back into what the inputs say about it:
// everything its decision is made from, besides the policy and the time.
type toolView struct {
	tool      string
	manifest  *manifest.Manifest // never nil; for a skipped or proxy-only tool, only what is known
	skipped   *manifest.Skipped  // why its manifest was refused; nil when it was read
	proxyOnly bool               // registered with the proxy, but no manifest asks for a web service
	job       *qstat.Job         // its best web job; nil without one
	jobs      int                // how many web jobs it has
	others    []*qstat.Job       // its web jobs besides job, when it has several
	listed    bool               // in the proxy's list
	status    string             // its status in that list, when not active
	// registered says whether the tool is registered, listed as active;
	// nil when the proxy's list was not read.
	registered *bool
	previous   *state.ToolRecord // its restart history; a shared zero record without one
}

// view returns the k-th tool's view.
func (j *joined) view(k int) toolView {
	r := &j.rows[k]
	v := toolView{jobs: int(r.jobs), listed: r.reg != unlisted, previous: j.none}
	switch r.from {
	case fromManifest:
		v.manifest = &j.manifests[r.at]
	case fromSkipped:
		v.skipped = &j.skipped[r.at]
		v.manifest = knownOf(v.skipped)
	case fromProxy:
		v.proxyOnly, v.manifest = true, &manifest.Manifest{Tool: j.proxyOnly[r.at]}
	}
	v.tool = v.manifest.Tool
	if r.job >= 0 {
		v.job = &j.in.Jobs[r.job]
	}
	if r.jobs > 1 {
		for _, i := range j.several[int32(k)] {
			if i != r.job {
				v.others = append(v.others, &j.in.Jobs[i])
			}
		}
	}
	if r.history >= 0 {
		v.previous = &j.history[r.history].Record
	}
	if j.checked {
		v.registered = j.no
		if r.reg == active {
			v.registered = j.yes
		}
		if r.reg == inactive {
			v.status = j.in.Proxy.Registrations[v.tool].Status
		}
	}
	if v.proxyOnly {
		v.registered = j.yes // whatever its status: it is listed
	}
	return v
}

// knownOf is what is known of a tool whose manifest was refused: its home,
// and its account when it was verified.
func knownOf(s *manifest.Skipped) *manifest.Manifest {
	known := &manifest.Manifest{Tool: s.Tool, Home: s.Home}
	if s.Account != nil {
		known.Account, known.UID, known.GID = s.Account.Name, s.Account.UID, s.Account.GID
	}
	return known
}

// desired reports whether the tool asks this supervisor for a web service.
func (v *toolView) desired() bool {
	return v.skipped == nil && !v.proxyOnly && v.manifest.Backend == manifest.BackendGridEngine
}
