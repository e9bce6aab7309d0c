package demo

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"time"

	shellquote "github.com/kballard/go-shellquote"
)

// Tool is one tool of the demo platform and what it shows.
type Tool struct {
	Name     string
	Manifest string // service.manifest content; "" for none
	Shows    string
}

// Tools is the demo platform. Each tool exercises one path of the planner.
func Tools() []Tool {
	return []Tool{
		{"alpha", "web: lighttpd\n", "healthy: running and registered; left alone"},
		{"bravo", "web: uwsgi-python\nrelease: buster\n", "dead: no job on the grid; restarted and comes up"},
		{"charlie", "web: lighttpd\n", "job stuck in Eqw (the old monitor called that up); restarted"},
		{"delta", "web: nodejs\n", "running but not registered with the proxy (seed 000); restarted"},
		{"echo", "web: generic\n", "restart fails (quota exhausted): backed off, given up; forgotten once its quota is raised"},
		{"foxtrot", "web: lighttpd\n", "job pending (qw); reported, not restarted"},
		{"golf", "web: uwsgi-python\nbackend: kubernetes\n", "kubernetes backend; not ours"},
		{"hotel", "- web: lighttpd\n", "manifest is a YAML list; skipped with a reason"},
		{"juliet", "web: lighttpd\n", "another account runs a job named lighttpd-juliet; that does not count"},
	}
}

// World is a demo platform laid out in a directory.
type World struct {
	Dir        string
	ProxyAddr  string // host:port of the fake proxy's /list, once started
	ConfigFile string
	Grid       Store
}

// Setup lays out the demo platform in dir: homes with manifests, a passwd
// file mapping every tools.<name> account to the current user, the grid,
// and a supervisor configuration that uses demogrid (at demogridPath) as
// qstat and webservice. proxyAddr is the host:port of the /list server.
func Setup(dir, demogridPath, proxyAddr string, now time.Time) (*World, error) {
	w := &World{Dir: dir, ConfigFile: filepath.Join(dir, "config.yaml"), Grid: Store{Dir: filepath.Join(dir, "grid")}}
	me, err := user.Current()
	if err != nil {
		return nil, fmt.Errorf("looking up the current user: %w", err)
	}
	homes := filepath.Join(dir, "homes")
	for _, d := range []string{homes, w.Grid.Dir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	passwd, err := writeHomes(homes, me)
	if err != nil {
		return nil, err
	}
	files := map[string]string{
		"passwd":       passwd,
		"wmcs-project": "tools\n",
		"active-proxy": proxyAddr + "\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return nil, err
		}
	}
	if err := writeGrid(w.Grid.Dir, now); err != nil {
		return nil, err
	}
	if err := os.WriteFile(w.ConfigFile, []byte(supervisorConfig(dir, homes, demogridPath, w.Grid.Dir)), 0o644); err != nil {
		return nil, err
	}
	return w, nil
}

// writeHomes writes every demo tool's home and manifest under homes, and
// returns the passwd lines that map their accounts to me (the demo runs
// unprivileged, so every tool is the current user).
func writeHomes(homes string, me *user.User) (passwd string, err error) {
	for _, t := range Tools() {
		home := filepath.Join(homes, t.Name)
		if err := os.MkdirAll(home, 0o755); err != nil {
			return "", err
		}
		content := "# This file is used by webservice to track state.\n# Do not edit it by hand.\nversion: 4\n" + t.Manifest
		if t.Name == "hotel" {
			content = t.Manifest // a broken manifest must stay broken: no header
		}
		if err := os.WriteFile(filepath.Join(home, "service.manifest"), []byte(content), 0o644); err != nil {
			return "", err
		}
		passwd += fmt.Sprintf("tools.%s:x:%s:%s:demo tool %s:%s:/bin/bash\n", t.Name, me.Uid, me.Gid, t.Name, home)
	}
	return passwd, nil
}

// writeGrid writes the grid's starting state into gridDir: one job per
// path of the planner that Tools describes, dated relative to now.
func writeGrid(gridDir string, now time.Time) error {
	old := now.Add(-2 * time.Hour)
	grid := Grid{
		NextJob: 1000,
		Broken:  []string{"echo"},
		Jobs: []Job{
			{Number: 901, Name: "lighttpd-alpha", Owner: "tools.alpha", State: "r", Queue: "webgrid-lighttpd@demo-webgrid-01.tools.example", Started: old, Submitted: old, Registered: true},
			{Number: 902, Name: "lighttpd-charlie", Owner: "tools.charlie", State: "Eqw", Submitted: old,
				ErrorReason: `can't open output file "/data/project/charlie/lighttpd-charlie.out": Permission denied`},
			{Number: 903, Name: "nodejs-delta", Owner: "tools.delta", State: "r", Queue: "webgrid-generic@demo-webgrid-02.tools.example", Started: old, Submitted: old, Registered: false},
			{Number: 904, Name: "lighttpd-foxtrot", Owner: "tools.foxtrot", State: "qw", Submitted: now.Add(-time.Minute)},
			{Number: 905, Name: "lighttpd-juliet", Owner: "tools.mallory", State: "r", Queue: "webgrid-lighttpd@demo-webgrid-01.tools.example", Started: old, Submitted: old},
			{Number: 906, Name: "uwsgi-python-golf", Owner: "tools.golf", State: "r", Queue: "webgrid-generic@demo-webgrid-02.tools.example", Started: old, Submitted: old},
		},
		ExtraRegistrations: []string{"india"},
	}
	data, err := json.MarshalIndent(grid, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(gridDir, "grid.json"), data, 0o644)
}

// supervisorConfig is the supervisor configuration of the demo in dir: every path
// points into dir and demogrid stands in for qstat and webservice.
func supervisorConfig(dir, homes, demogridPath, gridDir string) string {
	gridArg := shellquote.Join(gridDir)
	prog := shellquote.Join(demogridPath)
	return fmt.Sprintf(`# Demo configuration: every path points into %[1]s; nothing real is touched.
homes: %[2]s
project-file: %[1]s/wmcs-project
passwd-file: %[1]s/passwd
min-uid: 0
qstat: %[3]s qstat --grid %[4]s
active-proxy-file: %[1]s/active-proxy
proxy-list-url: http://{proxy}/list
restart-command: %[3]s webservice --grid %[4]s --tool {tool} --web {web} --release {release} restart
clear-command: %[3]s qdel --grid %[4]s --owner {account} {job}
qstat-job: %[3]s qstat-job --grid %[4]s {job}
up-timeout: 20s
state-file: %[1]s/state.db
interval: 2s
restart-window: 10m
backoff-initial: 2s
backoff-max: 20s
registration-grace: 5s
restart-timeout: 10s
log-format: console
# Any free loopback port: the demo must not collide with a real daemon's 9469.
listen: 127.0.0.1:0
`, dir, homes, prog, gridArg)
}

// Start lays out the demo platform in dir (see Setup) and serves its proxy
// /list on a loopback port until stop is called: everything a run of the
// supervisor against the demo needs.
func Start(dir, demogridPath string, now time.Time) (w *World, stop func(), err error) {
	addr, stop, err := ServeList(Store{Dir: filepath.Join(dir, "grid")})
	if err != nil {
		return nil, nil, err
	}
	w, err = Setup(dir, demogridPath, addr, now)
	if err != nil {
		stop()
		return nil, nil, fmt.Errorf("setting up the demo in %s: %w", dir, err)
	}
	w.ProxyAddr = addr
	return w, stop, nil
}

// ServeList serves the fake proxy's /list on a loopback port until the
// returned stop function is called.
func ServeList(grid Store) (addr string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("listening for the demo proxy: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /list", func(w http.ResponseWriter, r *http.Request) {
		g, err := grid.Load()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(Registrations(g))
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return ln.Addr().String(), func() { _ = srv.Close() }, nil
}
