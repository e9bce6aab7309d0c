package monitor

import (
	"errors"
	"slices"
	"testing"
	"time"

	"webservicemonitor/sources/manifest"
	"webservicemonitor/sources/proxy"
	"webservicemonitor/sources/qstat"
	"webservicemonitor/state"
)

func TestJoinViews(t *testing.T) {
	k8s := mf("k", "php7.4")
	k8s.Backend = "kubernetes"
	in := Inputs{
		Manifests: manifest.Scan{
			// Unsorted on purpose: the views come out sorted all the same.
			Manifests: []manifest.Manifest{mf("c", "lighttpd"), k8s, mf("stopped", ""), mf("a", "generic")},
			Skipped: []manifest.Skipped{{Tool: "b", Home: "/data/project/b", Code: manifest.ReasonInvalidYAML,
				Account: &manifest.Owner{Name: "tools.b", UID: 50002, GID: 50002}}},
		},
		Proxy: registered("a", "ghost", "stopped"),
	}
	in.Proxy.Registrations["c"] = proxy.Registration{Status: "inactive"}
	seen := join(&in)
	views := viewsOf(seen)
	var tools []string
	for _, v := range views {
		tools = append(tools, v.tool)
	}
	if want := []string{"a", "b", "c", "ghost", "k", "stopped"}; !slices.Equal(tools, want) {
		t.Fatalf("views %v, want %v", tools, want)
	}
	if seen.desired != 2 {
		t.Errorf("desired %d, want 2 (a and c)", seen.desired)
	}
	a, b, c, ghost, k, stopped := views[0], views[1], views[2], views[3], views[4], views[5]
	if !a.desired() || !*a.registered || !c.desired() || *c.registered || !c.listed || c.status != "inactive" {
		t.Errorf("a %+v, c %+v", a, c)
	}
	if b.skipped == nil || b.desired() || b.manifest.Account != "tools.b" || b.manifest.UID != 50002 || b.manifest.Home != "/data/project/b" {
		t.Errorf("skipped b: %+v, manifest %+v", b, b.manifest)
	}
	if k.desired() || k.skipped != nil || k.proxyOnly {
		t.Errorf("other backend k: %+v", k)
	}
	for _, v := range []toolView{ghost, stopped} { // no manifest asks for a web service
		if !v.proxyOnly || v.desired() || v.manifest.Tool != v.tool || v.previous != seen.none || !*v.registered {
			t.Errorf("proxy-only %s: %+v", v.tool, v)
		}
	}
}

func TestJoinProxyOnlyNeedsBothSources(t *testing.T) {
	for name, in := range map[string]Inputs{
		"manifests failed": {ManifestsErr: errors.New("nfs"), Proxy: registered("ghost")},
		"proxy failed":     {Proxy: registered("ghost"), ProxyErr: errors.New("500")},
		"checking off":     {Proxy: proxy.Snapshot{}},
	} {
		if seen := join(&in); len(seen.rows) != 0 {
			t.Errorf("%s: rows %+v", name, seen.rows)
		}
	}
}

func TestJoinJobs(t *testing.T) {
	in := Inputs{
		Manifests: manifest.Scan{Manifests: []manifest.Manifest{mf("a", "lighttpd"), mf("b", "lighttpd")},
			Skipped: []manifest.Skipped{{Tool: "s", Account: &manifest.Owner{Name: "tools.s"}}}},
		Jobs: []qstat.Job{
			withJob(func(j *qstat.Job) { j.Owner = "tools.mallory" }, job(1, "a", "lighttpd", "r")), // not the tool's account
			job(2, "a", "uwsgi-python", "r"), // another web type
			job(3, "a", "lighttpd", "Eqw"),
			job(4, "a", "lighttpd", "qw"),
			job(5, "a", "lighttpd", "qw"), // as close to serving as 4, listed later
			job(6, "b", "lighttpd", "dr"),
			job(7, "b", "lighttpd", "r"),
			withJob(func(j *qstat.Job) { j.Name = "-s" }, job(8, "s", "", "r")), // a skipped manifest asks for none
			job(9, "nobody", "lighttpd", "r"),
		},
	}
	views := viewsOf(join(&in))
	if len(views) != 3 {
		t.Fatalf("views %+v", views)
	}
	a, b, s := views[0], views[1], views[2]
	if s.jobs != 0 || s.job != nil {
		t.Errorf("skipped s has %d jobs", s.jobs)
	}
	if a.jobs != 3 || a.job.Number != 4 {
		t.Errorf("a: %d jobs, best %d; want 3, 4", a.jobs, a.job.Number)
	}
	if b.jobs != 2 || b.job.Number != 7 {
		t.Errorf("b: %d jobs, best %d; want 2, 7", b.jobs, b.job.Number)
	}
}

func TestJoinHistory(t *testing.T) {
	in := Inputs{
		Manifests: manifest.Scan{Manifests: []manifest.Manifest{mf("a", "lighttpd"), mf("b", "lighttpd")}},
		History: state.RecordsOf(map[string]state.ToolRecord{
			"a": attempts(time.Minute), "gone": attempts(time.Hour), "older": attempts(2 * time.Hour),
		}),
	}
	seen := join(&in)
	if a := seen.view(0); a.previous != &in.History[0].Record {
		t.Errorf("a's record is not the history's: %+v", a.previous)
	}
	if b := seen.view(1); b.previous != seen.none {
		t.Errorf("b has a record: %+v", b.previous)
	}
	if len(seen.orphans) != 2 || seen.orphans[0].Tool != "gone" || seen.orphans[1].Tool != "older" {
		t.Errorf("orphans %+v", seen.orphans)
	}
}

// viewsOf lists every tool's view.
func viewsOf(seen *joined) []toolView {
	var views []toolView
	for k := range seen.rows {
		views = append(views, seen.view(k))
	}
	return views
}

func TestForEachVisitsEachOnce(t *testing.T) {
	for _, n := range []int{0, 1, minPerCore - 1, 3*minPerCore + 7} {
		seen := make([]int, n)
		forEach(n, func(k int) { seen[k]++ })
		for k, c := range seen {
			if c != 1 {
				t.Fatalf("n=%d: tool %d visited %d times", n, k, c)
			}
		}
	}
}

func manifestsOf(tools ...string) manifest.Scan {
	var scan manifest.Scan
	for _, tool := range tools {
		scan.Manifests = append(scan.Manifests, mf(tool, "lighttpd"))
	}
	return scan
}

// jobsOf lists a running web job for each tool, numbered from 1.
func jobsOf(tools ...string) []qstat.Job {
	var jobs []qstat.Job
	for i, tool := range tools {
		jobs = append(jobs, job(i+1, tool, "lighttpd", "r"))
	}
	return jobs
}
