// Command webservice is the real-grid tests' stand-in for the platform's
// webservice command (tools-webservice 2023, gridengine backend; the real
// one is not packaged anywhere we can install). It does on the grid what the
// real one does, as the tool that runs it, and fails the way it fails:
//
//	webservice --conf FILE [--backend=gridengine] [--release=R] [TYPE] restart
//	    looks at the first job named <web>-<tool> (qstat's order): when its
//	    state has an "r" it is qdel'ed by name and waited for (at most 15 s,
//	    as the real wait_for), then a new job is submitted; any other job
//	    (qw, Eqw, hqw, ...) is taken for pending and gets a second job
//	    submitted beside it. Exits 0 once qsub accepted the job: it does
//	    not wait for the job to run.
//	webservice --conf FILE [--release=R] [TYPE] start [--no-register-proxy]
//	    refuses when a job exists, else submits and waits (bounded) for it
//	    to run; exits 0 whether or not it did
//	webservice --conf FILE [TYPE] stop
//	webservice --conf FILE runner --tool T --web W [--no-register-proxy]
//	    the grid job itself (webservice-runner's role): registers
//	    127.0.0.1:<free port> with the front proxy, then serves HTTP there.
//	    It never unregisters: the web queues' epilog (portreleaser) does.
//
// Like the real command it refuses a release the grid does not offer
// (argparse's "invalid choice", exit 2; the offered releases are the web
// queues' "release" complex values, or the configuration's "releases") and
// a web type its gridengine backend does not know ("type must be one of:",
// exit 1). The web type is TYPE or the web: of ~/service.manifest.
// Jobs are submitted as the real ones are: -N <web>-<tool> on the type's
// queue, -l h_vmem=4G,release=R, stdout to ~/access.log, stderr to
// ~/error.log, plus -v WSM_FRONTPROXY=<registration address> for the epilog.
//
// The configuration file (JSON, written by the tests) names the front
// proxy's registration address, the invocation log every run appends its
// events to (argv, jobs deleted and submitted), and per tool in "modes" a
// misbehaviour:
//
//	fail    qsub refuses the job (a resource the grid does not know)
//	hang    restart never returns, with a child process
//	crash   the job registers, serves, and exits after two seconds
//	queued  the job asks for an architecture no host has: it stays qw
//	die     the server dies at once: "ember: cannot load config" on stderr
//	        (so in ~/error.log), exit 1, before registering
//	eqw     the job's output file cannot be opened: SGE puts it in Eqw
//	        with "can't open output file ..." as its error reason
//
// It never touches another tool's jobs: every grid command runs as the caller.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Conf is the configuration file the tests write.
type Conf struct {
	SGERoot     string            `json:"sge_root"`
	SGECell     string            `json:"sge_cell"`
	Self        string            `json:"self"`        // this binary, run by the grid as the job
	Register    string            `json:"register"`    // front proxy registration address host:port
	Invocations string            `json:"invocations"` // log every run appends one JSON line per event to
	Modes       map[string]string `json:"modes"`       // tool -> fail | hang | crash | queued | die | eqw
	Wait        string            `json:"wait"`        // how long start waits for its job to run (default 40s)
	Releases    []string          `json:"releases"`    // the grid's releases (default: the web queues')
}

// Event is one line of the invocation log.
type Event struct {
	At      time.Time `json:"at"`
	Tool    string    `json:"tool"`
	UID     int       `json:"uid"`
	PID     int       `json:"pid"`
	PGID    int       `json:"pgid"`
	Command string    `json:"command"`
	Event   string    `json:"event"` // invoked, deleted, submitted, succeeded, failed, refused, hanging
	Args    []string  `json:"args,omitempty"`
	Detail  string    `json:"detail,omitempty"`
	Job     int       `json:"job,omitempty"`
}

// webTypes are the real gridengine backend's types and their queues.
var webTypes = map[string]string{
	"lighttpd":       "webgrid-lighttpd",
	"lighttpd-plain": "webgrid-lighttpd",
	"uwsgi-python":   "webgrid-generic",
	"uwsgi-plain":    "webgrid-generic",
	"nodejs":         "webgrid-generic",
	"generic":        "webgrid-generic",
}

const (
	defaultRelease = "buster"   // GRIDENGINE_DEFAULT_RELEASE
	defaultWebType = "lighttpd" // GRIDENGINE_DEFAULT_WSTYPE
	realWaitFor    = 15 * time.Second
	usageLine      = "usage: webservice [-h] [--template TEMPLATE_FILE] [--backend {gridengine,kubernetes}] [--release {%s}] [TYPE] ACTION [... ...]"
)

type run struct {
	conf     Conf
	confPath string
	tool     string
	home     string
	release  string
	wsType   string // TYPE from the command line, if any
	command  string
	args     []string
	wait     time.Duration
}

func main() {
	os.Exit(mainErr())
}

func mainErr() int {
	r, code := parseArgs(os.Args[1:])
	if r == nil {
		return code
	}
	if r.command == "runner" {
		return r.runner()
	}
	u, err := user.Current()
	if err != nil {
		fmt.Fprintf(os.Stderr, "webservice: who am I: %v\n", err)
		return 1
	}
	r.tool, r.home = strings.TrimPrefix(u.Username, "tools."), u.HomeDir
	r.log("invoked", 0, "")
	if code := r.refuse(); code != 0 {
		return code
	}
	job, err := r.dispatch()
	if err != nil {
		r.log("failed", job, err.Error())
		fmt.Fprintf(os.Stderr, "webservice: %s: %v\n", r.command, err)
		return 1
	}
	r.log("succeeded", job, "")
	return 0
}

// parseArgs reads the flags, the configuration and [TYPE] ACTION [ARGS].
func parseArgs(argv []string) (*run, int) {
	fs := flag.NewFlagSet("webservice", flag.ContinueOnError)
	confPath := fs.String("conf", "", "configuration file (JSON)")
	backend := fs.String("backend", "gridengine", "backend (only gridengine)")
	release := fs.String("release", defaultRelease, "grid release to request")
	if err := fs.Parse(argv); err != nil {
		return nil, 2
	}
	rest := fs.Args()
	r := &run{release: *release, wait: 40 * time.Second}
	if len(rest) > 1 && rest[0] != "runner" && isAction(rest[1]) && !isAction(rest[0]) {
		r.wsType, rest = rest[0], rest[1:]
	}
	if len(rest) < 1 || *confPath == "" {
		fmt.Fprintln(os.Stderr, "usage: webservice --conf FILE [--backend=gridengine] [--release=R] [TYPE] start|stop|restart|runner ...")
		return nil, 2
	}
	if *backend != "gridengine" {
		fmt.Fprintf(os.Stderr, "webservice: backend %q is not this stand-in's business\n", *backend)
		return nil, 2
	}
	r.command, r.args = rest[0], rest[1:]
	abs, err := filepath.Abs(*confPath)
	if err != nil {
		fmt.Fprintf(os.Stderr, "webservice: configuration path: %v\n", err)
		return nil, 2
	}
	r.confPath = abs
	if err := r.readConf(); err != nil {
		fmt.Fprintf(os.Stderr, "webservice: %v\n", err)
		return nil, 2
	}
	return r, 0
}

func isAction(s string) bool {
	return slices.Contains([]string{"start", "stop", "status", "restart", "shell"}, s)
}

func (r *run) readConf() error {
	data, err := os.ReadFile(r.confPath)
	if err != nil {
		return fmt.Errorf("reading configuration: %w", err)
	}
	if err := json.Unmarshal(data, &r.conf); err != nil {
		return fmt.Errorf("configuration %s: %w", r.confPath, err)
	}
	if d, err := time.ParseDuration(r.conf.Wait); err == nil && d > 0 {
		r.wait = d
	}
	if r.conf.SGERoot != "" {
		os.Setenv("SGE_ROOT", r.conf.SGERoot)
		os.Setenv("SGE_CELL", r.conf.SGECell)
	}
	return nil
}

// refuse answers as the real command does a release the grid does not offer
// (argparse, exit 2) and a web type its backend does not know (exit 1).
func (r *run) refuse() int {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	offered := r.conf.Releases
	if len(offered) == 0 {
		offered = r.gridReleases(ctx)
	}
	if !slices.Contains(offered, r.release) {
		quoted := make([]string, len(offered))
		for i, o := range offered {
			quoted[i] = "'" + o + "'"
		}
		msg := fmt.Sprintf("argument --release: invalid choice: '%s' (choose from %s)", r.release, strings.Join(quoted, ", "))
		fmt.Fprintf(os.Stderr, usageLine+"\nwebservice: error: %s\n", strings.Join(offered, ","), msg)
		r.log("refused", 0, msg)
		return 2
	}
	if _, ok := webTypes[r.webType()]; !ok {
		names := make([]string, 0, len(webTypes))
		for n := range webTypes {
			names = append(names, n)
		}
		slices.Sort(names)
		fmt.Fprintf(os.Stderr, "type must be one of:\n%s\n", strings.Join(names, "\n  * "))
		r.log("refused", 0, fmt.Sprintf("unknown web type %q", r.webType()))
		return 1
	}
	return 0
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
