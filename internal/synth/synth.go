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
	g := &generator{o: o, p: p, me: me, list: map[string]map[string]string{}, jobNumber: 1000000,
		rng: rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15)), now: o.Now}
	if g.now.IsZero() {
		g.now = time.Date(2026, 11, 21, 12, 0, 0, 0, time.Local)
	}
	// The order matters: the tools and then the extra jobs draw from one
	// random stream, and the same Options must give the same bytes.
	if err := g.writeHomes(); err != nil {
		return nil, err
	}
	g.addExtraJobs()
	p.Jobs = len(g.grid.Jobs)
	if err := g.writeQstatXML(); err != nil {
		return nil, err
	}
	data, err := json.Marshal(g.list)
	if err != nil {
		return nil, err
	}
	return p, os.WriteFile(p.ListJSON, data, 0o644)
}

// generator is one run of Generate: the random stream and what the homes
// and jobs written so far add up to.
type generator struct {
	o         Options
	p         *Platform
	me        *user.User
	rng       *rand.Rand
	now       time.Time
	grid      demo.Grid
	list      map[string]map[string]string // the proxy's /list
	jobNumber int
}

// writeHomes writes every tool's home, manifest and passwd line, the tools'
// jobs into the grid, and the homes without a manifest.
func (g *generator) writeHomes() error {
	passwd, err := os.Create(g.p.Passwd)
	if err != nil {
		return err
	}
	pw := bufio.NewWriter(passwd)
	for i := range g.o.Tools {
		if err := g.addTool(pw, i); err != nil {
			return err
		}
	}
	for i := range g.o.HomesWithoutManifest {
		if err := os.MkdirAll(filepath.Join(g.p.Homes, fmt.Sprintf("quiet%06d", i)), 0o755); err != nil {
			return err
		}
	}
	if err := pw.Flush(); err != nil {
		return err
	}
	return passwd.Close()
}

// addTool writes the i-th tool's home, manifest and passwd line, and gives
// it a job (or none) in the state its random draw says.
func (g *generator) addTool(pw *bufio.Writer, i int) error {
	// Roughly the platform's mix of web types.
	webTypes := []string{"lighttpd", "lighttpd", "lighttpd", "uwsgi-python", "uwsgi-python", "nodejs", "generic", "uwsgi-plain", "lighttpd-plain"}
	tool := ToolName(i)
	web := webTypes[i%len(webTypes)]
	home := filepath.Join(g.p.Homes, tool)
	if err := os.Mkdir(home, 0o755); err != nil && !os.IsExist(err) {
		return err
	}
	manifest := fmt.Sprintf("# This file is used by webservice to track state.\n# Do not edit it by hand.\nbackend: gridengine\ndistribution: debian\nrelease: buster\nversion: 4\nweb: %s\n", web)
	if err := os.WriteFile(filepath.Join(home, "service.manifest"), []byte(manifest), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(pw, "tools.%s:x:%s:%s::%s:/bin/bash\n", tool, g.me.Uid, g.me.Gid, home)

	g.jobNumber++
	started := g.now.Add(-time.Duration(g.rng.IntN(30*24*3600)) * time.Second).Truncate(time.Second)
	j := demo.Job{Number: g.jobNumber, Name: web + "-" + tool, Owner: "tools." + tool, State: "r",
		Queue:   fmt.Sprintf("webgrid-%s@tools-sgewebgrid-%04d.tools.eqiad1.wikimedia.cloud", queueOf(web), 1+g.rng.IntN(40)),
		Started: started, Submitted: started.Add(-time.Second), Registered: true}
	o := g.o
	switch r := g.rng.Float64(); {
	case r < o.DownFraction*0.6:
		g.p.Down++
		return nil // no job at all
	case r < o.DownFraction*0.9:
		g.p.Down++
		j.State, j.Started, j.Queue, j.Registered = "Eqw", time.Time{}, "", false
	case r < o.DownFraction:
		g.p.Down++
		j.State, j.Registered = "dr", false
	case r < o.DownFraction+o.UnregisteredFrac:
		g.p.Unregistered++
		j.Registered = false
	}
	g.grid.Jobs = append(g.grid.Jobs, j)
	if j.Registered {
		g.list[tool] = map[string]string{"status": "active"}
	}
	return nil
}

// addExtraJobs adds the unrelated jobs: other users' batch work in the
// states a busy grid shows, which the qstat parser must wade through.
func (g *generator) addExtraJobs() {
	states := []string{"r", "r", "r", "r", "qw", "qw", "hqw", "Rr", "t", "Eqw", "s"}
	for i := range g.o.ExtraJobs {
		g.jobNumber++
		st := states[g.rng.IntN(len(states))]
		j := demo.Job{Number: g.jobNumber, Name: fmt.Sprintf("batch-%d", g.rng.IntN(50000)),
			Owner: fmt.Sprintf("tools.user%05d", g.rng.IntN(20000)), State: st,
			Submitted: g.now.Add(-time.Duration(g.rng.IntN(7*24*3600)) * time.Second).Truncate(time.Second)}
		if st != "qw" && st != "hqw" && st != "Eqw" {
			j.Started = j.Submitted.Add(time.Minute)
			j.Queue = fmt.Sprintf("task@tools-sgeexec-%04d.tools.eqiad1.wikimedia.cloud", 1+i%200)
		}
		g.grid.Jobs = append(g.grid.Jobs, j)
	}
}

// writeQstatXML writes the grid as qstat -xml would show it, and notes its
// size (benchmarks report throughput by it).
func (g *generator) writeQstatXML() error {
	xmlFile, err := os.Create(g.p.QstatXML)
	if err != nil {
		return err
	}
	xw := bufio.NewWriterSize(xmlFile, 1<<20)
	if err := demo.WriteQstatXML(xw, g.grid); err != nil {
		return err
	}
	if err := xw.Flush(); err != nil {
		return err
	}
	if st, err := xmlFile.Stat(); err == nil {
		g.p.XMLBytes = st.Size()
	}
	return xmlFile.Close()
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
