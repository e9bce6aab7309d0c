// Command webservice is the real-grid tests' stand-in for the platform's
// webservice command (the real one is not packaged anywhere we can install).
// It does on the grid what the real one does, as the tool that runs it:
//
//	webservice --conf FILE [--backend=gridengine] [--release=R] restart
//	    qdel the job <web>-<tool>, wait until it is gone, qsub it again on the
//	    web type's queue with -N <web>-<tool> -l release=R, wait until it runs
//	webservice --conf FILE [--release=R] start [--no-register-proxy]
//	webservice --conf FILE stop
//	webservice --conf FILE runner --tool T --web W [--no-register-proxy]
//	    the grid job itself (webservice-runner's role): serve HTTP on a free
//	    port and register host:port with the front proxy for as long as it runs
//
// The web type comes from ~/service.manifest, like the real command. The
// configuration file (JSON, written by the tests) names the front proxy's
// registration address, the invocation log every run appends to, and per
// tool a misbehaviour: "fail" (qsub refuses the job), "hang" (never returns,
// with a child process) or "crash" (the job exits after two seconds).
//
// It never touches another tool's jobs: every grid command runs as the caller.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"go.yaml.in/yaml/v3"

	"webservicemonitor/sources/qstat"
)

// Conf is the configuration file the tests write.
type Conf struct {
	SGERoot     string            `json:"sge_root"`
	SGECell     string            `json:"sge_cell"`
	Self        string            `json:"self"`        // this binary, run by the grid as the job
	Register    string            `json:"register"`    // front proxy registration address host:port
	Invocations string            `json:"invocations"` // log every run appends one JSON line per event to
	Modes       map[string]string `json:"modes"`       // tool -> fail | hang | crash
	Wait        string            `json:"wait"`        // how long to wait for a job to go or run (default 40s)
}

// Event is one line of the invocation log.
type Event struct {
	At      time.Time `json:"at"`
	Tool    string    `json:"tool"`
	UID     int       `json:"uid"`
	PID     int       `json:"pid"`
	PGID    int       `json:"pgid"`
	Command string    `json:"command"`
	Event   string    `json:"event"` // invoked, succeeded, failed, hanging
	Args    []string  `json:"args,omitempty"`
	Detail  string    `json:"detail,omitempty"`
	Job     int       `json:"job,omitempty"`
}

type run struct {
	conf    Conf
	tool    string
	home    string
	release string
	command string
	args    []string
	wait    time.Duration
}

func main() {
	os.Exit(mainErr())
}

func mainErr() int {
	fs := flag.NewFlagSet("webservice", flag.ContinueOnError)
	confPath := fs.String("conf", "", "configuration file (JSON)")
	backend := fs.String("backend", "gridengine", "backend (only gridengine)")
	release := fs.String("release", "buster", "grid release to request")
	if err := fs.Parse(os.Args[1:]); err != nil {
		return 2
	}
	if fs.NArg() < 1 || *confPath == "" {
		fmt.Fprintln(os.Stderr, "usage: webservice --conf FILE [--backend=gridengine] [--release=R] start|stop|restart|runner ...")
		return 2
	}
	data, err := os.ReadFile(*confPath)
	if err != nil {
		fmt.Fprintf(os.Stderr, "webservice: reading configuration: %v\n", err)
		return 2
	}
	var conf Conf
	if err := json.Unmarshal(data, &conf); err != nil {
		fmt.Fprintf(os.Stderr, "webservice: configuration %s: %v\n", *confPath, err)
		return 2
	}
	r := &run{conf: conf, release: *release, command: fs.Arg(0), args: fs.Args()[1:], wait: 40 * time.Second}
	if d, err := time.ParseDuration(conf.Wait); err == nil && d > 0 {
		r.wait = d
	}
	if conf.SGERoot != "" {
		os.Setenv("SGE_ROOT", conf.SGERoot)
		os.Setenv("SGE_CELL", conf.SGECell)
	}
	if r.command == "runner" {
		return r.runner()
	}
	if *backend != "gridengine" {
		fmt.Fprintf(os.Stderr, "webservice: backend %q is not this stand-in's business\n", *backend)
		return 2
	}
	u, err := user.Current()
	if err != nil {
		fmt.Fprintf(os.Stderr, "webservice: who am I: %v\n", err)
		return 1
	}
	r.tool, r.home = strings.TrimPrefix(u.Username, "tools."), u.HomeDir
	r.log("invoked", 0, "")
	job, err := r.dispatch()
	if err != nil {
		r.log("failed", job, err.Error())
		fmt.Fprintf(os.Stderr, "webservice: %s: %v\n", r.command, err)
		return 1
	}
	r.log("succeeded", job, "")
	return 0
}

func (r *run) dispatch() (int, error) {
	web, err := r.webType()
	if err != nil {
		return 0, err
	}
	name := web + "-" + r.tool
	register := true
	for _, a := range r.args {
		if a == "--no-register-proxy" {
			register = false
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*r.wait+10*time.Second)
	defer cancel()
	switch r.command {
	case "stop":
		return 0, r.stop(ctx, name)
	case "start":
		return r.start(ctx, name, web, register)
	case "restart":
		if r.conf.Modes[r.tool] == "hang" {
			r.hang()
		}
		if err := r.stop(ctx, name); err != nil {
			return 0, err
		}
		return r.start(ctx, name, web, register)
	}
	return 0, fmt.Errorf("unknown command %q", r.command)
}

// webType reads web: from ~/service.manifest, as the real command does.
func (r *run) webType() (string, error) {
	data, err := os.ReadFile(filepath.Join(r.home, "service.manifest"))
	if err != nil {
		return "", fmt.Errorf("no webservice manifest: %w", err)
	}
	var m struct {
		Web string `yaml:"web"`
	}
	if err := yaml.Unmarshal(data, &m); err != nil || m.Web == "" {
		return "", fmt.Errorf("service.manifest names no web type (%v)", err)
	}
	return m.Web, nil
}

func queueFor(web string) string {
	if strings.HasPrefix(web, "lighttpd") {
		return "webgrid-lighttpd"
	}
	return "webgrid-generic"
}

// hang plays a webservice stuck on a hung NFS or qmaster: a child that
// sleeps (so a kill of the leader alone would leave an orphan) and a leader
// that never returns.
func (r *run) hang() {
	child := exec.Command("/bin/sleep", "3600")
	if err := child.Start(); err == nil {
		r.log("hanging", 0, fmt.Sprintf("child pid %d", child.Process.Pid))
	}
	select {}
}

func (r *run) stop(ctx context.Context, name string) error {
	out, err := r.grid(ctx, "qdel", name)
	if err != nil && !strings.Contains(out, "does not exist") {
		return fmt.Errorf("qdel %s: %v: %s", name, err, out)
	}
	return r.waitFor(ctx, name, "gone", func(jobs []qstat.Job) (bool, error) { return len(jobs) == 0, nil })
}

func (r *run) start(ctx context.Context, name, web string, register bool) (int, error) {
	argv := []string{"-terse", "-b", "y", "-r", "y", "-N", name, "-q", queueFor(web),
		"-l", "release=" + r.release, "-wd", r.home,
		"-o", filepath.Join(r.home, web+".out"), "-e", filepath.Join(r.home, web+".err")}
	if r.conf.Modes[r.tool] == "fail" {
		// A request the grid refuses: qsub itself fails, as it does for a
		// tool over its quota or a broken submit host.
		argv = append(argv, "-l", "wsm_unknown_resource=1")
	}
	argv = append(argv, r.conf.Self, "--conf", confPathFromArgs(), "runner", "--tool", r.tool, "--web", web)
	if !register {
		argv = append(argv, "--no-register-proxy")
	}
	out, err := r.grid(ctx, "qsub", argv...)
	if err != nil {
		return 0, fmt.Errorf("qsub %s: %v: %s", name, err, out)
	}
	var job int
	fmt.Sscanf(strings.TrimSpace(out), "%d", &job)
	err = r.waitFor(ctx, name, "running", func(jobs []qstat.Job) (bool, error) {
		for _, j := range jobs {
			switch {
			case strings.ContainsAny(j.State, "Ed"):
				return false, fmt.Errorf("job %d (%s) is in state %s", j.Number, name, j.State)
			case strings.ContainsRune(j.State, 'r'):
				return true, nil
			}
		}
		if len(jobs) == 0 {
			return false, fmt.Errorf("job %d (%s) left the grid before it ran", job, name)
		}
		return false, nil
	})
	return job, err
}

// waitFor polls the caller's own jobs named name until done says so.
func (r *run) waitFor(ctx context.Context, name, what string, done func([]qstat.Job) (bool, error)) error {
	deadline := time.Now().Add(r.wait)
	for {
		out, err := r.grid(ctx, "qstat", "-xml")
		if err != nil {
			return fmt.Errorf("qstat: %v: %s", err, out)
		}
		all, err := qstat.Parse(strings.NewReader(out), time.Local)
		if err != nil {
			return err
		}
		var mine []qstat.Job
		for _, j := range all {
			if j.Name == name {
				mine = append(mine, j)
			}
		}
		ok, err := done(mine)
		if err != nil || ok {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("job %s not %s after %s", name, what, r.wait)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (r *run) grid(ctx context.Context, prog string, args ...string) (string, error) {
	path := filepath.Join("/usr/bin", prog)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func (r *run) log(event string, job int, detail string) {
	if r.conf.Invocations == "" {
		return
	}
	ev := Event{At: time.Now(), Tool: r.tool, UID: os.Getuid(), PID: os.Getpid(), PGID: syscall.Getpgrp(),
		Command: r.command, Event: event, Args: os.Args[1:], Detail: detail, Job: job}
	line, _ := json.Marshal(ev)
	f, err := os.OpenFile(r.conf.Invocations, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		fmt.Fprintf(os.Stderr, "webservice: invocation log: %v\n", err)
		return
	}
	defer f.Close()
	_, _ = f.Write(append(line, '\n')) // one write: O_APPEND keeps lines whole
}

func confPathFromArgs() string {
	for i, a := range os.Args {
		if a == "--conf" && i+1 < len(os.Args) {
			abs, _ := filepath.Abs(os.Args[i+1])
			return abs
		}
		if v, ok := strings.CutPrefix(a, "--conf="); ok {
			abs, _ := filepath.Abs(v)
			return abs
		}
	}
	return ""
}

// runner is the grid job: an HTTP server on a free port, registered with the
// front proxy for as long as the process lives.
func (r *run) runner() int {
	fs := flag.NewFlagSet("runner", flag.ContinueOnError)
	tool := fs.String("tool", "", "tool name")
	web := fs.String("web", "", "web type")
	noRegister := fs.Bool("no-register-proxy", false, "do not register with the front proxy (seed 000)")
	if err := fs.Parse(r.args); err != nil || *tool == "" {
		return 2
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintf(os.Stderr, "runner: %v\n", err)
		return 1
	}
	job := os.Getenv("JOB_ID")
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "%s web service of %s, job %s\n", *web, *tool, job)
	}))
	fmt.Printf("%s job %s serving on %s\n", *tool, job, ln.Addr())
	if !*noRegister {
		conn, err := register(r.conf.Register, *tool, ln.Addr().String())
		if err != nil {
			fmt.Fprintf(os.Stderr, "runner: registering with the front proxy: %v\n", err)
			return 1
		}
		// Held open: the registration lives as long as this connection.
		defer conn.Close()
		fmt.Printf("registered %s with %s\n", ln.Addr(), r.conf.Register)
	}
	if r.conf.Modes[*tool] == "crash" {
		time.Sleep(2 * time.Second)
		fmt.Fprintln(os.Stderr, "runner: crashing as configured")
		return 1
	}
	select {}
}

func register(addr, tool, backend string) (net.Conn, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := fmt.Fprintf(conn, "register %s %s\n", tool, backend); err != nil {
		conn.Close()
		return nil, err
	}
	reply, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		conn.Close()
		return nil, err
	}
	if strings.TrimSpace(reply) != "ok" {
		conn.Close()
		return nil, fmt.Errorf("proxy answered %q", strings.TrimSpace(reply))
	}
	_ = conn.SetDeadline(time.Time{})
	return conn, nil
}
