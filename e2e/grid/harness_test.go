//go:build e2e

package grid

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"webservicemonitor/e2e/grid/frontproxy"
	"webservicemonitor/e2e/internal/rig"
	"webservicemonitor/sources/qstat"
	"webservicemonitor/state"
)

// cellEnv is what e2e/grid/sge-cell.sh env exports.
type cellEnv struct {
	dir, homes, release, host string
	tools                     []string
	qmasterPidFile            string
	execdPidFile              string
	script                    string // sge-cell.sh
	repo                      string
}

func readCellEnv(t *testing.T) cellEnv {
	t.Helper()
	if os.Getuid() != 0 {
		t.Fatal("the real-grid scenarios run as root (they switch to tool accounts and stop grid daemons)")
	}
	e := cellEnv{
		dir: os.Getenv("WSM_GRID_DIR"), homes: os.Getenv("WSM_GRID_HOMES"), release: os.Getenv("WSM_GRID_RELEASE"),
		host: os.Getenv("WSM_GRID_HOST"), tools: strings.Fields(os.Getenv("WSM_GRID_TOOLS")),
		qmasterPidFile: os.Getenv("WSM_GRID_QMASTER_PIDFILE"), execdPidFile: os.Getenv("WSM_GRID_EXECD_PIDFILE"),
	}
	if e.dir == "" || e.homes == "" || len(e.tools) < 8 || os.Getenv("SGE_ROOT") == "" {
		t.Fatal(`no grid cell: run "e2e/grid/sge-cell.sh up" and eval "$(e2e/grid/sge-cell.sh env)" first (make e2e-grid does both)`)
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	e.repo = filepath.Clean(filepath.Join(wd, "..", ".."))
	e.script = filepath.Join(e.repo, "e2e", "grid", "sge-cell.sh")
	return e
}

func pidFromFile(t *testing.T, path string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading pid file: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatalf("pid file %s: %v", path, err)
	}
	return pid
}

// wsConf is the stand-in webservice's configuration (cmd/webservice).
type wsConf struct {
	SGERoot     string            `json:"sge_root"`
	SGECell     string            `json:"sge_cell"`
	Self        string            `json:"self"`
	Register    string            `json:"register"`
	Invocations string            `json:"invocations"`
	Modes       map[string]string `json:"modes"`
	Wait        string            `json:"wait"`
}

// invocation is one line the stand-in webservice logs.
type invocation struct {
	At      time.Time `json:"at"`
	Tool    string    `json:"tool"`
	UID     int       `json:"uid"`
	PID     int       `json:"pid"`
	PGID    int       `json:"pgid"`
	Command string    `json:"command"`
	Event   string    `json:"event"`
	Detail  string    `json:"detail"`
	Job     int       `json:"job"`
	Args    []string  `json:"args"`
}

// world is one scenario's platform: the shared cell, wiped of jobs and
// manifests, a fresh front proxy, state file and invocation log.
type world struct {
	t        *testing.T
	cell     cellEnv
	dir      string
	proxy    *frontproxy.Server
	conf     wsConf
	confPath string
	monitor  string
	ws       string
	state    string
	base     []string // the monitor's flags for this world
}

func newWorld(t *testing.T) *world {
	t.Helper()
	cell := readCellEnv(t)
	monitor := os.Getenv("WSM_MONITOR_BIN")
	if monitor == "" {
		monitor = filepath.Join(cell.repo, "bin", "webservicemonitor")
	}
	if _, err := os.Stat(monitor); err != nil {
		t.Fatalf("the supervisor binary: %v (run make build)", err)
	}
	runs := filepath.Join(cell.dir, "runs")
	if err := os.MkdirAll(runs, 0o755); err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp(runs, strings.ReplaceAll(t.Name(), "/", "-")+"-")
	if err != nil {
		t.Fatal(err)
	}
	// Tool accounts read the configuration and append to the invocation log.
	must(t, os.Chmod(dir, 0o755))
	// A failed scenario's directory is printed, not kept: sge-cell.sh
	// finish removes $WSM_GRID_DIR when the suite ends, pass or fail.
	t.Cleanup(func() {
		if t.Failed() {
			logRunDir(t, dir)
		}
		os.RemoveAll(dir)
	})

	w := &world{t: t, cell: cell, dir: dir, monitor: monitor, state: filepath.Join(dir, "state.db")}
	w.ws = filepath.Join(cell.dir, "bin", "webservice")
	out, err := exec.Command("go", "build", "-o", w.ws, "webservicemonitor/e2e/grid/cmd/webservice").CombinedOutput()
	if err != nil {
		t.Fatalf("building the stand-in webservice: %v\n%s", err, out)
	}
	must(t, os.Chmod(filepath.Dir(w.ws), 0o755))

	w.resetGrid()

	w.proxy, err = frontproxy.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.proxy.Close() })

	invocations := filepath.Join(dir, "invocations.log")
	must(t, os.WriteFile(invocations, nil, 0o666))
	must(t, os.Chmod(invocations, 0o666))
	w.conf = wsConf{SGERoot: os.Getenv("SGE_ROOT"), SGECell: os.Getenv("SGE_CELL"), Self: w.ws,
		Register: w.proxy.RegisterAddr, Invocations: invocations, Modes: map[string]string{}, Wait: "40s"}
	w.confPath = filepath.Join(dir, "webservice.json")
	w.writeConf()

	project := filepath.Join(dir, "project")
	must(t, os.WriteFile(project, []byte("tools\n"), 0o644))
	activeProxy := filepath.Join(dir, "active-proxy")
	must(t, os.WriteFile(activeProxy, []byte(w.proxy.ListAddr+"\n"), 0o644))

	w.base = []string{
		"--homes", cell.homes,
		"--project-file", project,
		"--min-uid", "50000",
		"--qstat", "/usr/bin/qstat -u '*' -xml",
		"--qstat-timeout", "10s",
		"--active-proxy-file", activeProxy,
		"--proxy-list-url", "http://{proxy}/list",
		"--proxy-timeout", "3s",
		"--restart-command", fmt.Sprintf("/usr/sbin/runuser -u {account} -- %s --conf %s --backend=gridengine --release={release} restart", w.ws, w.confPath),
		"--restart-timeout", "60s",
		// As the real clear: qdel by number, as the tool's account.
		"--clear-command", "/usr/sbin/runuser -u {account} -- /usr/bin/qdel {job}",
		"--qstat-job", "/usr/bin/qstat -j {job}",
		// A job here runs and registers within seconds of its restart.
		"--up-timeout", "15s",
		"--state-file", w.state,
		"--interval", "1s",
		"--backoff-initial", "0s",
		"--registration-grace", "3s",
		"--log-format", "json",
		// The scenarios read the daemons' logs, not their metrics: no
		// listener, so that a daemon never fails on a port in use.
		"--listen", "",
	}
	return w
}

// alerting starts a real Alertmanager for this world, notifying a webhook
// receiver, and makes every later run of the supervisor push its alerts to
// it, paging a failing source from its second failed cycle in a row.
func (w *world) alerting() (*rig.Alertmanager, *rig.Webhook) {
	w.t.Helper()
	hook := rig.NewWebhook(w.t)
	am := rig.StartAlertmanager(w.t, hook.URL)
	w.base = append(w.base, "--alertmanager-url", am.URL(), "--source-alert-after", "2")
	return am, hook
}

// page waits until Alertmanager holds exactly one alert, active, and it is
// named alertname; it returns that alert.
func (w *world) page(am *rig.Alertmanager, alertname string, timeout time.Duration) rig.AMAlert {
	w.t.Helper()
	var page rig.AMAlert
	w.eventually(timeout, "Alertmanager to hold one active "+alertname, func() (bool, string) {
		alerts, err := am.Alerts()
		if err != nil {
			return false, err.Error()
		}
		if len(alerts) != 1 || alerts[0].Labels["alertname"] != alertname || alerts[0].Status.State != "active" {
			return false, fmt.Sprintf("%+v", alerts)
		}
		page = alerts[0]
		return true, ""
	})
	return page
}

// noAlerts waits until Alertmanager holds no alert: every page it had is
// resolved (a resolved alert, endsAt in the past, is not listed).
func (w *world) noAlerts(am *rig.Alertmanager, timeout time.Duration) {
	w.t.Helper()
	w.eventually(timeout, "every alert in Alertmanager to be resolved", func() (bool, string) {
		alerts, err := am.Alerts()
		if err != nil {
			return false, err.Error()
		}
		return len(alerts) == 0, fmt.Sprintf("%+v", alerts)
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func (w *world) writeConf() {
	data, err := json.MarshalIndent(w.conf, "", "  ")
	must(w.t, err)
	must(w.t, os.WriteFile(w.confPath, data, 0o644))
}

// setMode makes the stand-in webservice misbehave for one tool.
func (w *world) setMode(tool, mode string) {
	w.conf.Modes[tool] = mode
	w.writeConf()
}

// resetGrid leaves the cell as a scenario expects it: both daemons running
// and not stopped, queues enabled, no jobs, homes without manifests.
func (w *world) resetGrid() {
	t := w.t
	if pid := w.qmasterPID(); pid > 0 {
		syscall.Kill(pid, syscall.SIGCONT)
	}
	if w.cell.execdPidFile != "" {
		syscall.Kill(pidFromFile(t, w.cell.execdPidFile), syscall.SIGCONT)
	}
	if _, _, err := runCmd(10*time.Second, "/usr/bin/qstat", "-u", "*", "-xml"); err != nil {
		t.Logf("qmaster not answering (%v): bringing the cell up", err)
		w.cellScript("up")
	}
	for _, q := range []string{"webgrid-lighttpd", "webgrid-generic"} {
		runCmd(10*time.Second, "/usr/bin/qmod", "-usq", q)
		runCmd(10*time.Second, "/usr/bin/qmod", "-e", q)
	}
	runCmd(10*time.Second, "/usr/bin/qdel", "-f", "-u", "*")
	w.eventually(30*time.Second, "the grid to have no jobs", func() (bool, string) {
		jobs := w.jobs()
		return len(jobs) == 0, fmt.Sprintf("%d jobs", len(jobs))
	})
	for _, tool := range w.cell.tools {
		home := filepath.Join(w.cell.homes, tool)
		entries, err := os.ReadDir(home)
		if err != nil {
			t.Fatalf("home of %s: %v (is the cell up?)", tool, err)
		}
		for _, e := range entries {
			must(t, os.RemoveAll(filepath.Join(home, e.Name())))
		}
	}
}

// logRunDir prints the end of every text file of a failed scenario's run
// directory (daemon logs, invocations, the webservice configuration) into
// the test's log; binary files (the state file) are only named.
func logRunDir(t *testing.T, dir string) {
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		data, err := os.ReadFile(path)
		rel, _ := filepath.Rel(dir, path)
		switch {
		case err != nil:
			t.Logf("--- run directory %s: %s: %v", dir, rel, err)
		case bytes.IndexByte(data, 0) >= 0:
			t.Logf("--- run directory %s: %s (%d bytes, binary)", dir, rel, len(data))
		default:
			t.Logf("--- run directory %s: %s (%d bytes), last 60 lines ---\n%s", dir, rel, len(data), rig.Tail(path, 60))
		}
		return nil
	})
}

func (w *world) cellScript(args ...string) string {
	w.t.Helper()
	out, err := exec.Command(w.cell.script, args...).CombinedOutput()
	if err != nil {
		w.t.Fatalf("sge-cell.sh %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func (w *world) qmasterPID() int {
	data, err := os.ReadFile(w.cell.qmasterPidFile)
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	return pid
}

// account returns a tool's uid and gid.
func (w *world) account(tool string) (int, int) {
	u, err := user.Lookup("tools." + tool)
	must(w.t, err)
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return uid, gid
}

func (w *world) home(tool string) string { return filepath.Join(w.cell.homes, tool) }

// manifest writes the tool's service.manifest as the tool, the way the
// webservice command does.
func (w *world) manifest(tool, web string) {
	w.manifestWithRelease(tool, web, w.cell.release)
}

// manifestWithRelease writes a manifest asking for the release; none when
// release is "" (as manifests written before releases were recorded).
func (w *world) manifestWithRelease(tool, web, release string) {
	path := filepath.Join(w.home(tool), "service.manifest")
	releaseLine := ""
	if release != "" {
		releaseLine = "release: " + release + "\n"
	}
	body := fmt.Sprintf("# This file is used by webservicemonitor to restart your service.\n"+
		"# Do not edit it by hand.\nbackend: gridengine\ndistribution: debian\n%sversion: 4\nweb: %s\n", releaseLine, web)
	must(w.t, os.WriteFile(path, []byte(body), 0o644))
	uid, gid := w.account(tool)
	must(w.t, os.Chown(path, uid, gid))
}

// asTool runs the stand-in webservice as the tool (like a user at a bastion).
func (w *world) asTool(tool string, args ...string) {
	w.t.Helper()
	argv := append([]string{"-u", "tools." + tool, "--", w.ws, "--conf", w.confPath, "--release=" + w.cell.release}, args...)
	cmd := exec.Command("/usr/sbin/runuser", argv...)
	cmd.Dir = w.home(tool)
	out, err := cmd.CombinedOutput()
	if err != nil {
		w.t.Fatalf("webservice %v as %s: %v\n%s", args, tool, err, out)
	}
}

// startTools writes lighttpd manifests and starts each tool's web service
// as the tool, then waits until every one is running and registered.
func (w *world) startTools(tools ...string) {
	w.t.Helper()
	for _, tool := range tools {
		w.manifest(tool, "lighttpd")
		w.asTool(tool, "start")
	}
	for _, tool := range tools {
		w.expectUp(tool)
	}
}

// runCmd runs a command with a deadline, returning stdout, stderr.
func runCmd(timeout time.Duration, name string, args ...string) (string, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var o, e bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &o, &e
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	err := cmd.Run()
	return o.String(), e.String(), err
}

// jobs is the grid's view: every job, through qstat and the project's parser
// (whose real captures sources/qstat tests against).
func (w *world) jobs() []qstat.Job {
	w.t.Helper()
	jobs, err := w.tryJobs()
	if err != nil {
		w.t.Fatal(err)
	}
	return jobs
}

// tryJobs is jobs for a goroutine: the error is returned, not fatal.
func (w *world) tryJobs() ([]qstat.Job, error) {
	out, errOut, err := runCmd(20*time.Second, "/usr/bin/qstat", "-u", "*", "-xml")
	if err != nil {
		return nil, fmt.Errorf("qstat: %v: %s", err, errOut)
	}
	jobs, err := qstat.Parse(strings.NewReader(out), time.Local)
	if err != nil {
		return nil, fmt.Errorf("parsing qstat: %v", err)
	}
	return jobs, nil
}

// countJobs counts the tool's web jobs among jobs.
func countJobs(jobs []qstat.Job, tool string) int {
	n := 0
	for _, j := range jobs {
		if j.Owner == "tools."+tool && strings.HasSuffix(j.Name, "-"+tool) {
			n++
		}
	}
	return n
}

// jobsOf returns the tool's web jobs (named <web>-<tool>, owned by its account).
func (w *world) jobsOf(tool string) []qstat.Job {
	var out []qstat.Job
	for _, j := range w.jobs() {
		if j.Owner == "tools."+tool && strings.HasSuffix(j.Name, "-"+tool) {
			out = append(out, j)
		}
	}
	return out
}

// job returns the tool's only job, failing when there is not exactly one.
func (w *world) job(tool string) qstat.Job {
	w.t.Helper()
	jobs := w.jobsOf(tool)
	if len(jobs) != 1 {
		w.t.Fatalf("%s has %d jobs on the grid, want 1: %+v", tool, len(jobs), jobs)
	}
	return jobs[0]
}

func (w *world) eventually(timeout time.Duration, what string, f func() (bool, string)) {
	w.t.Helper()
	rig.WaitFor(w.t, timeout, what, f)
}

// expectUp asserts the grid and the proxy: one job of the tool, running,
// registered with the front proxy, and answering HTTP on the registered port.
func (w *world) expectUp(tool string) qstat.Job {
	w.t.Helper()
	var job qstat.Job
	w.eventually(40*time.Second, tool+" running and registered", func() (bool, string) {
		jobs := w.jobsOf(tool)
		if len(jobs) != 1 || !strings.Contains(jobs[0].State, "r") || strings.ContainsAny(jobs[0].State, "Eds") {
			return false, fmt.Sprintf("jobs %+v", jobs)
		}
		job = jobs[0]
		reg, ok := w.proxy.Registered()[tool]
		if !ok {
			return false, fmt.Sprintf("job %d %s, not registered", job.Number, job.State)
		}
		body, err := httpGet("http://" + reg.Backend + "/")
		want := fmt.Sprintf("job %d", job.Number)
		if err != nil || !strings.Contains(body, want) {
			return false, fmt.Sprintf("registered backend %s answers %q, %v; want %q", reg.Backend, body, err, want)
		}
		return true, ""
	})
	return job
}

func httpGet(url string) (string, error) {
	_, body, err := rig.Get(url)
	return string(body), err
}

// invocations reads the stand-in webservice's log.
func (w *world) invocations() []invocation {
	w.t.Helper()
	f, err := os.Open(w.conf.Invocations)
	must(w.t, err)
	defer f.Close()
	var out []invocation
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var inv invocation
		if err := json.Unmarshal(sc.Bytes(), &inv); err != nil {
			w.t.Fatalf("invocation log line %q: %v", sc.Text(), err)
		}
		out = append(out, inv)
	}
	return out
}

// restarts returns the restart invocations per tool.
func (w *world) restarts() map[string][]invocation {
	out := map[string][]invocation{}
	for _, inv := range w.invocations() {
		if inv.Command == "restart" && inv.Event == "invoked" {
			out[inv.Tool] = append(out[inv.Tool], inv)
		}
	}
	return out
}

// result is one run of the supervisor.
type result struct {
	stdout, stderr string
	code           int
	took           time.Duration
}

// logLines returns the JSON log lines with the given message prefix.
func (r result) logLines(prefix string) []map[string]any {
	return logLines(r.stderr, prefix)
}

func logLines(text, prefix string) []map[string]any {
	var out []map[string]any
	for _, line := range strings.Split(text, "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) != nil {
			continue
		}
		if msg, _ := m["message"].(string); strings.HasPrefix(msg, prefix) {
			out = append(out, m)
		}
	}
	return out
}

func (w *world) run(extra ...string) result {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var o, e bytes.Buffer
	cmd := exec.CommandContext(ctx, w.monitor, append(append([]string{}, w.base...), extra...)...)
	cmd.Stdout, cmd.Stderr = &o, &e
	began := time.Now()
	err := cmd.Run()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		w.t.Fatalf("running the supervisor: %v", err)
	}
	return result{o.String(), e.String(), cmd.ProcessState.ExitCode(), time.Since(began)}
}

// once runs one acting cycle.
func (w *world) once(extra ...string) result {
	w.t.Helper()
	r := w.run(append([]string{"--once"}, extra...)...)
	if r.code == 3 {
		w.t.Fatalf("--once: state file error:\n%s", r.stderr)
	}
	return r
}

type auditTool struct {
	Tool       string  `json:"tool"`
	Web        string  `json:"web"`
	Job        int     `json:"job"`
	GridState  string  `json:"grid_state"`
	Registered *bool   `json:"registered"`
	Action     string  `json:"action"`
	Code       string  `json:"code"`
	Reason     string  `json:"reason"`
	Attempts   int     `json:"attempts"`
	GivenUp    bool    `json:"given_up"`
	Next       *string `json:"next_restart"`
}

type audit struct {
	Sources map[string]struct {
		Status string  `json:"status"`
		Error  *string `json:"error"`
	} `json:"sources"`
	Valve struct {
		Tripped bool   `json:"tripped"`
		Wanting int    `json:"wanting"`
		Limit   int    `json:"limit"`
		Reason  string `json:"reason"`
	} `json:"valve"`
	Summary map[string]int `json:"summary"`
	Tools   []auditTool    `json:"tools"`
	code    int
	took    time.Duration
}

func (a audit) tool(t *testing.T, name string) auditTool {
	t.Helper()
	for _, x := range a.Tools {
		if x.Tool == name {
			return x
		}
	}
	t.Fatalf("tool %s missing from the audit: %+v", name, a.Tools)
	return auditTool{}
}

func (a audit) sourceError(name string) string {
	s, ok := a.Sources[name]
	if !ok || s.Error == nil {
		return ""
	}
	return *s.Error
}

// audit runs --dry-run --output json.
func (w *world) audit(extra ...string) audit {
	w.t.Helper()
	r := w.run(append([]string{"--dry-run", "--output", "json"}, extra...)...)
	var a audit
	if err := json.Unmarshal([]byte(r.stdout), &a); err != nil {
		w.t.Fatalf("audit output is not JSON (exit %d): %v\n%s\nstderr: %s", r.code, err, r.stdout, r.stderr)
	}
	a.code, a.took = r.code, r.took
	return a
}

// expect checks a tool's decision in an audit.
func (w *world) expect(a audit, tool, action, code string) auditTool {
	w.t.Helper()
	d := a.tool(w.t, tool)
	if d.Action != action || (code != "" && d.Code != code) {
		w.t.Errorf("%s: %s/%s (%s), want %s/%s", tool, d.Action, d.Code, d.Reason, action, code)
	}
	return d
}

// daemon is a running supervisor daemon.
type daemon struct {
	w    *world
	cmd  *exec.Cmd
	log  string // its stderr, a file
	done chan struct{}
}

func (w *world) startDaemon(extra ...string) *daemon {
	w.t.Helper()
	f, err := os.CreateTemp(w.dir, "daemon-*.log")
	must(w.t, err)
	cmd := exec.Command(w.monitor, append(append([]string{}, w.base...), extra...)...)
	cmd.Stdout, cmd.Stderr = f, f
	// Killed with the test binary even if that dies (a -timeout panic)
	// before its cleanups run.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	must(w.t, cmd.Start())
	f.Close()
	d := &daemon{w: w, cmd: cmd, log: f.Name(), done: make(chan struct{})}
	go func() { cmd.Wait(); close(d.done) }()
	w.t.Cleanup(func() { d.kill() })
	return d
}

func (d *daemon) text() string {
	data, _ := os.ReadFile(d.log)
	return string(data)
}

// cycles returns the daemon's "cycle finished" lines so far.
func (d *daemon) cycles() []map[string]any { return logLines(d.text(), "cycle finished") }

func (d *daemon) kill() {
	select {
	case <-d.done:
		return
	default:
	}
	d.cmd.Process.Signal(syscall.SIGKILL)
	<-d.done
}

// stop sends SIGTERM and waits for a clean exit.
func (d *daemon) stop() {
	d.w.t.Helper()
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(30 * time.Second):
		d.w.t.Errorf("the daemon did not stop within 30s of SIGTERM")
		d.kill()
	}
}

func (d *daemon) waitCycles(n int, timeout time.Duration) {
	d.w.t.Helper()
	d.w.eventually(timeout, fmt.Sprintf("%d daemon cycles", n), func() (bool, string) {
		c := len(d.cycles())
		return c >= n, fmt.Sprintf("%d cycles; log tail: %s", c, tail(d.text(), 600))
	})
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func fileHash(t *testing.T, path string) [32]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	must(t, err)
	return sha256.Sum256(data)
}

// processes lists the live processes (not zombies) whose real uid is uid or
// whose command line contains needle.
func processes(uid int, needle string) []string {
	var out []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		cl := strings.ReplaceAll(string(cmdline), "\x00", " ")
		status, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "status"))
		puid, zombie := -1, false
		for _, line := range strings.Split(string(status), "\n") {
			f := strings.Fields(line)
			switch {
			case len(f) >= 2 && f[0] == "Uid:":
				puid, _ = strconv.Atoi(f[1])
			case len(f) >= 2 && f[0] == "State:":
				zombie = f[1] == "Z" || f[1] == "X" // dead, waiting to be reaped
			}
		}
		if zombie {
			continue
		}
		if (uid >= 0 && puid == uid) || (needle != "" && strings.Contains(cl, needle)) {
			out = append(out, fmt.Sprintf("%d(uid %d): %s", pid, puid, cl))
		}
	}
	return out
}

// history reads a tool's restart attempts from the state file, read-only,
// with the state package (as an admin's tool would).
func (w *world) history(tool string) []state.Attempt {
	w.t.Helper()
	st, err := state.Open(w.state, state.Options{ReadOnly: true, LockTimeout: 5 * time.Second})
	if err != nil {
		w.t.Fatalf("opening the state file: %v", err)
	}
	defer st.Close()
	h, err := st.Histories()
	if err != nil {
		w.t.Fatalf("reading the state file: %v", err)
	}
	rec, _ := h.Get(tool)
	return rec.Attempts
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(data)
}
