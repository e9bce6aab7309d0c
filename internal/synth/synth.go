// Package synth generates a deterministic synthetic platform for benchmarks
// and scale tests: N tool homes with manifests, a qstat XML document with the
// tools' jobs plus unrelated ones in realistic states, a proxy /list, and a
// passwd file for the tool accounts. The same Options always give the same
// bytes.
//
// It only writes test data; nothing in the supervisor imports it.
package synth

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/user"
	"path/filepath"
	"time"

	"webservicemonitor/internal/demo"
)

// Options shape the platform.
type Options struct {
	Tools                int     // tool homes with a web service manifest
	ExtraJobs            int     // unrelated jobs (other users, batch work)
	DownFraction         float64 // tools with no job or a job in error
	UnregisteredFrac     float64 // tools running but missing from the proxy list
	Seed                 uint64
	Now                  time.Time // job times are relative to it
	HomesWithoutManifest int       // extra homes with no manifest (most NFS homes)
}

// Platform is where the generated files are.
type Platform struct {
	Dir          string
	Homes        string
	QstatXML     string
	ListJSON     string
	Passwd       string
	ProjectFile  string
	Down         int // tools generated down (no job, Eqw, dr)
	Unregistered int // tools running but not in the list
	Jobs         int
	XMLBytes     int64
}

// ToolName is the i-th tool's name.
func ToolName(i int) string { return fmt.Sprintf("tool%06d", i) }

// Generate writes the platform under dir (created if missing).
func Generate(dir string, o Options) (*Platform, error) {
	me, err := user.Current()
	if err != nil {
		return nil, fmt.Errorf("looking up the current user: %w", err)
	}
	p := &Platform{
		Dir: dir, Homes: filepath.Join(dir, "homes"), QstatXML: filepath.Join(dir, "qstat.xml"),
		ListJSON: filepath.Join(dir, "list.json"), Passwd: filepath.Join(dir, "passwd"),
		ProjectFile: filepath.Join(dir, "wmcs-project"),
	}
	if err := os.MkdirAll(p.Homes, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(p.ProjectFile, []byte("tools\n"), 0o644); err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15))
	now := o.Now
	if now.IsZero() {
		now = time.Date(2026, 11, 21, 12, 0, 0, 0, time.Local)
	}

	passwd, err := os.Create(p.Passwd)
	if err != nil {
		return nil, err
	}
	pw := bufio.NewWriter(passwd)
	var grid demo.Grid
	list := map[string]map[string]string{}
	jobNumber := 1000000
	// Roughly the platform's mix of web types.
	webTypes := []string{"lighttpd", "lighttpd", "lighttpd", "uwsgi-python", "uwsgi-python", "nodejs", "generic", "uwsgi-plain", "lighttpd-plain"}
	for i := range o.Tools {
		tool := ToolName(i)
		web := webTypes[i%len(webTypes)]
		home := filepath.Join(p.Homes, tool)
		if err := os.Mkdir(home, 0o755); err != nil && !os.IsExist(err) {
			return nil, err
		}
		manifest := fmt.Sprintf("# This file is used by webservice to track state.\n# Do not edit it by hand.\nbackend: gridengine\ndistribution: debian\nrelease: buster\nversion: 4\nweb: %s\n", web)
		if err := os.WriteFile(filepath.Join(home, "service.manifest"), []byte(manifest), 0o644); err != nil {
			return nil, err
		}
		fmt.Fprintf(pw, "tools.%s:x:%s:%s::%s:/bin/bash\n", tool, me.Uid, me.Gid, home)

		jobNumber++
		started := now.Add(-time.Duration(rng.IntN(30*24*3600)) * time.Second).Truncate(time.Second)
		j := demo.Job{Number: jobNumber, Name: web + "-" + tool, Owner: "tools." + tool, State: "r",
			Queue:   fmt.Sprintf("webgrid-%s@tools-sgewebgrid-%04d.tools.eqiad1.wikimedia.cloud", queueOf(web), 1+rng.IntN(40)),
			Started: started, Submitted: started.Add(-time.Second), Registered: true}
		switch r := rng.Float64(); {
		case r < o.DownFraction*0.6:
			p.Down++
			continue // no job at all
		case r < o.DownFraction*0.9:
			p.Down++
			j.State, j.Started, j.Queue, j.Registered = "Eqw", time.Time{}, "", false
		case r < o.DownFraction:
			p.Down++
			j.State, j.Registered = "dr", false
		case r < o.DownFraction+o.UnregisteredFrac:
			p.Unregistered++
			j.Registered = false
		}
		grid.Jobs = append(grid.Jobs, j)
		if j.Registered {
			list[tool] = map[string]string{"status": "active"}
		}
	}
	for i := range o.HomesWithoutManifest {
		if err := os.MkdirAll(filepath.Join(p.Homes, fmt.Sprintf("quiet%06d", i)), 0o755); err != nil {
			return nil, err
		}
	}
	if err := pw.Flush(); err != nil {
		return nil, err
	}
	if err := passwd.Close(); err != nil {
		return nil, err
	}

	states := []string{"r", "r", "r", "r", "qw", "qw", "hqw", "Rr", "t", "Eqw", "s"}
	for i := range o.ExtraJobs {
		jobNumber++
		st := states[rng.IntN(len(states))]
		j := demo.Job{Number: jobNumber, Name: fmt.Sprintf("batch-%d", rng.IntN(50000)),
			Owner: fmt.Sprintf("tools.user%05d", rng.IntN(20000)), State: st,
			Submitted: now.Add(-time.Duration(rng.IntN(7*24*3600)) * time.Second).Truncate(time.Second)}
		if st != "qw" && st != "hqw" && st != "Eqw" {
			j.Started = j.Submitted.Add(time.Minute)
			j.Queue = fmt.Sprintf("task@tools-sgeexec-%04d.tools.eqiad1.wikimedia.cloud", 1+i%200)
		}
		grid.Jobs = append(grid.Jobs, j)
	}
	p.Jobs = len(grid.Jobs)

	xmlFile, err := os.Create(p.QstatXML)
	if err != nil {
		return nil, err
	}
	xw := bufio.NewWriterSize(xmlFile, 1<<20)
	if err := demo.WriteQstatXML(xw, grid); err != nil {
		return nil, err
	}
	if err := xw.Flush(); err != nil {
		return nil, err
	}
	if st, err := xmlFile.Stat(); err == nil {
		p.XMLBytes = st.Size()
	}
	if err := xmlFile.Close(); err != nil {
		return nil, err
	}
	data, err := json.Marshal(list)
	if err != nil {
		return nil, err
	}
	return p, os.WriteFile(p.ListJSON, data, 0o644)
}

// Cached generates the platform once under root and reuses it on later calls
// with the same options, since writing 100,000 homes takes a while.
func Cached(root string, o Options) (*Platform, error) {
	dir := filepath.Join(root, fmt.Sprintf("synth-%d-%d-%g-%g-%d-%d", o.Tools, o.ExtraJobs, o.DownFraction, o.UnregisteredFrac, o.HomesWithoutManifest, o.Seed))
	stamp := filepath.Join(dir, "complete.json")
	if data, err := os.ReadFile(stamp); err == nil {
		var p Platform
		if json.Unmarshal(data, &p) == nil {
			return &p, nil
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	p, err := Generate(dir, o)
	if err != nil {
		return nil, err
	}
	data, _ := json.Marshal(p)
	return p, os.WriteFile(stamp, data, 0o644)
}

func queueOf(web string) string {
	if web == "lighttpd" || web == "lighttpd-plain" {
		return "lighttpd"
	}
	return "generic"
}
