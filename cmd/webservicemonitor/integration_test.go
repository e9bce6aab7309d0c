package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"webservicemonitor/internal/demo"
	"webservicemonitor/state"
)

// The integration test builds the real binaries and runs them against the
// demo platform: restarts, throttling across a kill -9, the audit's JSON and
// exit statuses.

type auditJSON struct {
	Sources map[string]struct {
		Status string  `json:"status"`
		Error  *string `json:"error"`
	} `json:"sources"`
	Tools []struct {
		Tool       string `json:"tool"`
		Web        string `json:"web"`
		GridState  string `json:"grid_state"`
		Registered *bool  `json:"registered"`
		Action     string `json:"action"`
		Code       string `json:"code"`
		Reason     string `json:"reason"`
		Attempts   int    `json:"attempts"`
		// LastAttempt is the tool's last restart attempt.
		LastAttempt *struct {
			At      time.Time `json:"at"`
			Outcome string    `json:"outcome"`
			Detail  string    `json:"detail"`
		} `json:"last_attempt"`
	} `json:"tools"`
}

// lastAttempt is the audit's last_attempt of the tool: outcome and detail.
func (a auditJSON) lastAttempt(t *testing.T, name string) (outcome, detail string) {
	t.Helper()
	for _, x := range a.Tools {
		if x.Tool == name && x.LastAttempt != nil {
			return x.LastAttempt.Outcome, x.LastAttempt.Detail
		}
	}
	t.Fatalf("tool %s has no last_attempt in the audit", name)
	return
}

func (a auditJSON) tool(t *testing.T, name string) (action, code string, attempts int) {
	t.Helper()
	for _, x := range a.Tools {
		if x.Tool == name {
			return x.Action, x.Code, x.Attempts
		}
	}
	t.Fatalf("tool %s missing from the audit", name)
	return
}

type rig struct {
	t       *testing.T
	bin     string
	world   *demo.World
	options []string
}

func buildBinaries(t *testing.T) (monitorBin, demogridBin string) {
	t.Helper()
	dir := t.TempDir()
	monitorBin, demogridBin = filepath.Join(dir, "webservicemonitor"), filepath.Join(dir, "demogrid")
	for bin, pkg := range map[string]string{monitorBin: "webservicemonitor/cmd/webservicemonitor", demogridBin: "webservicemonitor/cmd/demogrid"} {
		out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("building %s: %v\n%s", pkg, err, out)
		}
	}
	return monitorBin, demogridBin
}

func newRig(t *testing.T) *rig {
	if testing.Short() {
		t.Skip("builds binaries")
	}
	monitorBin, demogridBin := buildBinaries(t)
	world, stop, err := demo.Start(t.TempDir(), demogridBin, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	// No backoff so that each --once may restart again; the budget still holds.
	return &rig{t: t, bin: monitorBin, world: world, options: []string{"--backoff-initial", "0s", "--log-format", "json"}}
}

func (r *rig) run(args ...string) (stdout, stderr string, code int) {
	r.t.Helper()
	cmd := exec.Command(r.bin, append(append([]string{"--config", r.world.ConfigFile}, r.options...), args...)...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			r.t.Fatalf("running %v: %v", args, err)
		}
	}
	return o.String(), e.String(), cmd.ProcessState.ExitCode()
}

func (r *rig) audit(args ...string) (auditJSON, int) {
	r.t.Helper()
	out, errOut, code := r.run(append([]string{"--dry-run", "--output", "json"}, args...)...)
	var a auditJSON
	if err := json.Unmarshal([]byte(out), &a); err != nil {
		r.t.Fatalf("audit output is not JSON: %v\n%s\nstderr: %s", err, out, errOut)
	}
	return a, code
}

func (r *rig) restarts() map[string]int {
	r.t.Helper()
	g, err := r.world.Grid.Load()
	if err != nil {
		r.t.Fatal(err)
	}
	return g.Restarts
}

func fileHash(t *testing.T, path string) [32]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(data)
}

func TestDemoPlatformEndToEnd(t *testing.T) {
	r := newRig(t)

	// Before anything: the audit sees every case and changes nothing.
	a, code := r.audit()
	if code != 1 {
		t.Fatalf("audit exit status %d, want 1", code)
	}
	for name, src := range a.Sources {
		if src.Status != "ok" {
			t.Errorf("source %s: %s", name, *src.Error)
		}
	}
	want := map[string][2]string{
		"alpha": {"none", "healthy"}, "bravo": {"restart", "no-job"}, "charlie": {"restart", "job-error"},
		"delta": {"restart", "unregistered"}, "echo": {"restart", "no-job"}, "foxtrot": {"wait", "pending"},
		"golf": {"skip", "other-backend"}, "hotel": {"skip", ""}, "india": {"skip", "proxy-only"},
		"juliet": {"restart", "no-job"},
	}
	for tool, w := range want {
		action, code, _ := a.tool(t, tool)
		if action != w[0] || (w[1] != "" && code != w[1]) {
			t.Errorf("%s: %s/%s, want %s/%s", tool, action, code, w[0], w[1])
		}
	}
	if _, err := os.Stat(filepath.Join(r.world.Dir, "state.db")); !os.IsNotExist(err) {
		t.Fatalf("the audit created the state file: %v", err)
	}
	if len(r.restarts()) != 0 {
		t.Fatalf("the audit restarted something: %v", r.restarts())
	}

	// One acting cycle restarts the five down tools, in parallel.
	if _, stderr, code := r.run("--once"); code != 1 {
		t.Fatalf("--once exit status %d, want 1 (echo still down)\n%s", code, stderr)
	}
	got := r.restarts()
	for _, tool := range []string{"bravo", "charlie", "delta", "echo", "juliet"} {
		if got[tool] != 1 {
			t.Errorf("%s restarted %d times, want 1", tool, got[tool])
		}
	}
	if len(got) != 5 {
		t.Errorf("restarts = %v, want exactly the five down tools", got)
	}
	a, _ = r.audit()
	for _, tool := range []string{"bravo", "charlie", "delta", "juliet"} {
		if action, code, _ := a.tool(t, tool); action != "none" {
			t.Errorf("%s after its restart: %s/%s, want none", tool, action, code)
		}
	}
	// A restart counts when the tool is seen up: the next cycle sees
	// charlie up (echo's backoff is lengthened so that it is not
	// restarted again here).
	charlieLog := filepath.Join(r.world.Dir, "homes", "charlie", "service.log")
	if log, err := os.ReadFile(charlieLog); err != nil || strings.Contains(string(log), "restarted") ||
		!strings.Contains(string(log), "restart of the lighttpd web service submitted, waiting for it to be seen up: job 902 (lighttpd-charlie) is stuck in error state Eqw; clearing job 902 (Eqw) first") {
		t.Errorf("charlie's service.log before charlie was seen up: %q, %v", log, err)
	}
	// The audit shows the outcome the next acting cycle will record.
	if outcome, _ := a.lastAttempt(t, "charlie"); outcome != "succeeded" {
		t.Errorf("charlie's last attempt, as the audit sees it: %s", outcome)
	}
	r.run("--once", "--backoff-initial", "10m", "--backoff-max", "10m")
	if log, err := os.ReadFile(charlieLog); err != nil ||
		!strings.Contains(string(log), "restarted the lighttpd web service: seen up") ||
		!strings.Contains(string(log), "the restart was asked because job 902 (lighttpd-charlie) is stuck in error state Eqw") {
		t.Errorf("charlie's service.log: %q, %v", log, err)
	}
	a, _ = r.audit()
	if outcome, detail := a.lastAttempt(t, "charlie"); outcome != "succeeded" || !strings.Contains(detail, "seen up") {
		t.Errorf("charlie's last attempt: %s: %s", outcome, detail)
	}
	if outcome, detail := a.lastAttempt(t, "echo"); outcome != "failed" || !strings.Contains(detail, "demogrid exited with status 1: webservice: restarting generic-echo: Unable to run job") {
		t.Errorf("echo's last attempt: %s: %s", outcome, detail)
	}

	// The daemon keeps restarting echo; kill -9 it once echo had its
	// second attempt; the third and last comes from a fresh process that
	// only knows what the state file says.
	daemon := exec.Command(r.bin, append(append([]string{"--config", r.world.ConfigFile}, r.options...), "--interval", "1s")...)
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for r.restarts()["echo"] < 2 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	_ = daemon.Process.Signal(syscall.SIGKILL)
	_ = daemon.Wait()
	if n := r.restarts()["echo"]; n < 2 {
		t.Fatalf("the daemon did not restart echo a second time (%d)", n)
	}
	for i := 0; i < 3; i++ {
		r.run("--once")
	}
	if n := r.restarts()["echo"]; n != 3 {
		t.Fatalf("echo restarted %d times across a kill -9, want the budget of 3", n)
	}
	a, code = r.audit()
	if action, c, attempts := a.tool(t, "echo"); action != "give-up" || c != "budget-exhausted" || attempts != 3 || code != 1 {
		t.Errorf("echo: %s/%s attempts %d exit %d, want give-up/budget-exhausted, 3 attempts, exit 1", action, c, attempts, code)
	}
	echoLog, _ := os.ReadFile(filepath.Join(r.world.Dir, "homes", "echo", "service.log"))
	// The line of the restart in flight at the kill -9 may be missing; the
	// attempt itself was recorded before it ran.
	if n := strings.Count(string(echoLog), "restart of the generic web service failed"); n < 2 || n > 3 ||
		strings.Count(string(echoLog), "gave up restarting") != 1 {
		t.Errorf("echo's service.log:\n%s", echoLog)
	}
	for tool, n := range r.restarts() {
		if tool != "echo" && n != 1 {
			t.Errorf("%s restarted %d times, want 1", tool, n)
		}
	}

	// The audit writes nothing: state file and service.log unchanged.
	stateFile := filepath.Join(r.world.Dir, "state.db")
	echoLogPath := filepath.Join(r.world.Dir, "homes", "echo", "service.log")
	before := [2][32]byte{fileHash(t, stateFile), fileHash(t, echoLogPath)}
	r.audit()
	r.run("--dry-run")
	if after := [2][32]byte{fileHash(t, stateFile), fileHash(t, echoLogPath)}; after != before {
		t.Error("the audit changed the state file or service.log")
	}

	// While another process holds the state file, the audit says so and
	// exits 2; the daemon-side lock names the holder too.
	store, err := state.Open(stateFile, state.Options{LockTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	a, code = r.audit("--state-lock-wait", "200ms")
	store.Close()
	if code != 2 || a.Sources["state"].Status != "error" || !strings.Contains(*a.Sources["state"].Error, "locked by PID") {
		t.Errorf("audit with a locked state: exit %d, state source %+v", code, a.Sources["state"])
	}
}

func TestAuditExitStatuses(t *testing.T) {
	r := newRig(t)

	// Only alpha, which is up: exit 0.
	homes := filepath.Join(t.TempDir(), "homes")
	if err := os.MkdirAll(filepath.Join(homes, "alpha"), 0o755); err != nil {
		t.Fatal(err)
	}
	manifest, _ := os.ReadFile(filepath.Join(r.world.Dir, "homes", "alpha", "service.manifest"))
	if err := os.WriteFile(filepath.Join(homes, "alpha", "service.manifest"), manifest, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, code := r.audit("--homes", homes); code != 0 {
		t.Errorf("all up: exit %d, want 0", code)
	}

	// A failed source: exit 2, the error named, nothing restarted by --once.
	a, code := r.audit("--qstat", "/bin/false")
	if code != 2 || a.Sources["grid"].Status != "error" {
		t.Errorf("qstat failing: exit %d, grid %+v", code, a.Sources["grid"])
	}
	if action, c, _ := a.tool(t, "bravo"); action != "wait" || c != "grid-unknown" {
		t.Errorf("bravo with qstat failing: %s/%s", action, c)
	}
	if _, _, code := r.run("--once", "--qstat", "/bin/false"); code != 2 {
		t.Errorf("--once with qstat failing: exit %d, want 2", code)
	}
	if len(r.restarts()) != 0 {
		t.Errorf("restarted with qstat failing: %v", r.restarts())
	}

	proxyFile := filepath.Join(t.TempDir(), "active-proxy")
	os.WriteFile(proxyFile, []byte("127.0.0.1:1\n"), 0o644)
	a, code = r.audit("--active-proxy-file", proxyFile, "--proxy-timeout", "1s")
	if code != 2 || a.Sources["proxy"].Status != "error" {
		t.Errorf("proxy down: exit %d, proxy %+v", code, a.Sources["proxy"])
	}
	if action, c, _ := a.tool(t, "delta"); action != "wait" || c != "proxy-unknown" {
		t.Errorf("delta with the proxy down: %s/%s", action, c)
	}
}

func TestConfigurationErrors(t *testing.T) {
	r := newRig(t)
	dir := t.TempDir()
	tests := []struct {
		name, file string
		args       []string
		want       string
	}{
		{"unknown key", "homes: /tmp\nhomez: /tmp\n", nil, `unknown key "homez"`},
		{"bad duration", "interval: soon\n", nil, "interval:"},
		{"relative path", "state-file: state.db\n", nil, "state-file:"},
		{"mode in file", "dry-run: true\n", nil, "command-line mode"},
		{"unknown placeholder", "", []string{"--restart-command", "/bin/true {user}"}, "unknown placeholder {user}"},
		{"bad flag value", "", []string{"--min-uid", "many"}, "min-uid:"},
		{"unknown proxy placeholder", "", []string{"--proxy-list-url", "http://{prxy}:8081/list"}, "proxy-list-url: unknown placeholder {prxy}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := []string{"--check-config"}
			if tt.file != "" {
				path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-")+".yaml")
				os.WriteFile(path, []byte(tt.file), 0o644)
				args = append([]string{"--config", path}, args...)
			} else {
				args = append([]string{"--config", r.world.ConfigFile}, args...)
			}
			cmd := exec.Command(r.bin, append(args, tt.args...)...)
			out, _ := cmd.CombinedOutput()
			if cmd.ProcessState.ExitCode() != 2 || !strings.Contains(string(out), tt.want) {
				t.Errorf("exit %d, output %q; want 2 and %q", cmd.ProcessState.ExitCode(), out, tt.want)
			}
		})
	}
	if out, _, code := r.run("--check-config"); code != 0 || !strings.Contains(out, "configuration OK") {
		t.Errorf("good config: exit %d, %q", code, out)
	}
	// A qstat that is not there yet (a host being set up) is a warning.
	if out, errOut, code := r.run("--check-config", "--qstat", "/nonexistent/qstat -xml"); code != 0 ||
		!strings.Contains(out, "configuration OK") || !strings.Contains(errOut, "warning: qstat:") {
		t.Errorf("missing qstat: exit %d, %q, %q; want 0 with a warning", code, out, errOut)
	}
	out, err := exec.Command(r.bin, "--version").Output()
	if err != nil || !strings.Contains(string(out), "webservicemonitor") || !strings.Contains(string(out), "go1.") {
		t.Errorf("--version: %q %v", out, err)
	}
}
