package monitor

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"webservicemonitor/sources/manifest"
	"webservicemonitor/state"
)

func script(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "webservice")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// noCharge is a cycle's attempt recording that always succeeds.
func noCharge(Decision) error { return nil }

func decisionFor(tool string) Decision {
	return Decision{Tool: tool, Manifest: &manifest.Manifest{Tool: tool, Web: "lighttpd", Account: "tools." + tool, Release: "buster", Home: "/data/project/" + tool}}
}

func TestRestarterArgv(t *testing.T) {
	r := &Restarter{Template: []string{"sudo", "-i", "-u", "{account}", "/usr/bin/webservice", "--backend=gridengine", "--release={release}", "restart", "{web}-{tool}@{home}"}, Now: time.Now}
	got := strings.Join(r.Argv(decisionFor("my tool")), "|")
	want := "sudo|-i|-u|tools.my tool|/usr/bin/webservice|--backend=gridengine|--release=buster|restart|lighttpd-my tool@/data/project/my tool"
	if got != want {
		t.Errorf("argv = %s\nwant   %s", got, want)
	}
}

func TestRestarterOutcomes(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		timeout time.Duration
		want    state.Outcome
		detail  string
	}{
		{"success awaits being seen up", "exit 0\n", time.Second, state.OutcomePendingVerification, ""},
		{"failure names the program and keeps the stderr tail", "echo 'qsub: Unable to run job' >&2; exit 3\n", time.Second, state.OutcomeFailed, "webservice exited with status 3: qsub: Unable to run job"},
		{"hang is killed at the timeout", "sleep 30\n", 300 * time.Millisecond, state.OutcomeTimedOut, "did not finish within 300ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Restarter{Template: []string{script(t, tt.body)}, Parallel: 1, Timeout: tt.timeout, Now: time.Now}
			begin := time.Now()
			res := r.Restart(context.Background(), context.Background(), []Decision{decisionFor("a")}, noCharge, nil)[0]
			if res.Outcome != tt.want || !strings.Contains(res.Detail, tt.detail) {
				t.Errorf("result %+v, want %s with %q", res, tt.want, tt.detail)
			}
			if time.Since(begin) > 10*time.Second {
				t.Errorf("took %s", time.Since(begin))
			}
		})
	}
}

// A hung webservice with children (sudo, qsub) must leave nothing behind.
func TestRestarterKillsTheWholeProcessGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "child.pid")
	body := "sleep 60 &\necho $! > " + pidFile + "\nwait\n"
	r := &Restarter{Template: []string{script(t, body)}, Timeout: 500 * time.Millisecond, Now: time.Now}
	res := r.Restart(context.Background(), context.Background(), []Decision{decisionFor("a")}, noCharge, nil)[0]
	if res.Outcome != state.OutcomeTimedOut {
		t.Fatalf("outcome %s: %s", res.Outcome, res.Detail)
	}
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	deadline := time.Now().Add(5 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if stat, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); strings.Contains(string(stat), ") Z ") {
			break // a zombie waiting for init to reap it: dead
		}
		if time.Now().After(deadline) {
			t.Fatalf("child %d of the restart is still alive", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The bound is checked without a clock: each restart marks itself running
// and waits for the test's go-ahead, so the test sees the restarts that can
// run at once, however loaded the machine is.
func TestRestarterBoundsParallelism(t *testing.T) {
	dir := t.TempDir()
	gate := filepath.Join(dir, "go")
	// Each restart records how many are running alongside it, then waits.
	body := "mkdir " + dir + "/running.$$; ls " + dir + " | grep -c running >> " + dir + "/seen\n" +
		"while [ ! -e " + gate + " ]; do sleep 0.01; done\nrmdir " + dir + "/running.$$\n"
	r := &Restarter{Template: []string{script(t, body)}, Parallel: 3, Timeout: time.Hour, Now: time.Now}
	var ds []Decision
	for i := range 9 {
		ds = append(ds, decisionFor("t"+strconv.Itoa(i)))
	}
	finished := make(chan []Result)
	go func() { finished <- r.Restart(context.Background(), context.Background(), ds, noCharge, nil) }()

	// Three start and hold; no fourth may start until one ends.
	for running(t, dir) < 3 {
		time.Sleep(10 * time.Millisecond)
	}
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, res := range <-finished {
		if res.Outcome != state.OutcomePendingVerification {
			t.Fatalf("%+v", res)
		}
	}
	seen, _ := os.ReadFile(filepath.Join(dir, "seen"))
	counts := strings.Fields(string(seen))
	peak := 0
	for _, f := range counts {
		n, _ := strconv.Atoi(f)
		peak = max(peak, n)
	}
	if len(counts) != 9 || peak != 3 {
		t.Errorf("%d restarts ran, at most %d at once; want 9, 3 at once with Parallel=3", len(counts), peak)
	}
}

// running counts the restarts marked running in dir.
func running(t *testing.T, dir string) int {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "running.") {
			n++
		}
	}
	return n
}

func TestRestarterShutdown(t *testing.T) {
	r := &Restarter{Template: []string{script(t, "sleep 30\n")}, Parallel: 1, Timeout: time.Minute, Now: time.Now}
	start, stop := context.WithCancel(context.Background())
	kill, killNow := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, func() { stop(); time.AfterFunc(200*time.Millisecond, killNow) })
	results := r.Restart(start, kill, []Decision{decisionFor("a"), decisionFor("b")}, noCharge, nil)
	if results[0].Outcome != state.OutcomeCancelled || results[1].Outcome != OutcomeNotStarted {
		t.Fatalf("results %+v", results)
	}
	if !strings.Contains(results[1].Detail, "not started") || results[1].Started() {
		t.Errorf("second restart should never have started: %+v", results[1])
	}
}

// A restart whose attempt could not be recorded does not start: a
// supervisor killed while it ran would not count it.
func TestRestarterStartsOnlyWhatWasCharged(t *testing.T) {
	dir := t.TempDir()
	r := &Restarter{Template: []string{script(t, "touch "+dir+"/ran.$1\n"), "{tool}"}, Parallel: 1, Timeout: time.Minute, Now: time.Now}
	charged := 0
	charge := func(d Decision) error {
		if d.Tool == "b" {
			return errors.New("state file locked")
		}
		charged++
		return nil
	}
	results := r.Restart(context.Background(), context.Background(), []Decision{decisionFor("a"), decisionFor("b")}, charge, nil)
	if results[0].Outcome != state.OutcomePendingVerification || results[1].Outcome != OutcomeNotStarted || charged != 1 {
		t.Fatalf("results %+v, %d charged", results, charged)
	}
	if !strings.Contains(results[1].Detail, "state file locked") {
		t.Errorf("detail %q does not say why", results[1].Detail)
	}
	if _, err := os.Stat(filepath.Join(dir, "ran.b")); err == nil {
		t.Error("the uncharged restart ran")
	}
}

var _ RestartRunner = (*Restarter)(nil)

// What the restart printed reaches alerts and logs: the tool's login
// profile must not be able to put terminal escapes, bidi overrides or
// extra lines there.
func TestRestarterSanitisesWhatTheCommandPrinted(t *testing.T) {
	body := `printf '\033[2J\033]0;pwned\007URGENT\n\342\200\256 curl | sudo bash\n'; exit 1` + "\n"
	r := &Restarter{Template: []string{script(t, body)}, Parallel: 1, Timeout: time.Minute, Now: time.Now}
	res := r.Restart(context.Background(), context.Background(), []Decision{decisionFor("a")}, noCharge, nil)[0]
	if !strings.HasSuffix(res.Detail, ": URGENT curl | sudo bash") {
		t.Errorf("detail %q", res.Detail)
	}
	for _, bad := range []string{"\x1b", "\a", "\u202e", "\n"} {
		if strings.Contains(res.Detail, bad) {
			t.Errorf("detail %q holds %q", res.Detail, bad)
		}
	}
}

// A failure is told in the name of the program sudo ran, not sudo's.
func TestProgramName(t *testing.T) {
	tests := []struct {
		argv []string
		out  string
		want string
	}{
		{[]string{"sudo", "-i", "-u", "tools.a", "/usr/bin/webservice", "--release=buster", "restart"}, "", "webservice"},
		{[]string{"/usr/bin/sudo", "-niu", "tools.a", "/usr/bin/webservice", "restart"}, "", "webservice"},
		{[]string{"sudo", "-u", "tools.a", "-g", "tools.a", "--", "qdel", "42"}, "", "qdel"},
		{[]string{"sudo", "--user=tools.a", "-H", "FOO=bar", "/usr/bin/qdel", "42"}, "", "qdel"},
		{[]string{"sudo", "--user", "tools.a", "/usr/bin/qdel", "42"}, "", "qdel"},
		{[]string{"sudo", "-i", "-u", "tools.a", "/usr/bin/webservice"}, "sudo: unknown user tools.a", "sudo"},
		{[]string{"/usr/sbin/runuser", "-u", "tools.a", "--", "/usr/bin/webservice"}, "", "webservice"},
		{[]string{"/usr/sbin/runuser", "-u", "tools.a", "/usr/bin/webservice"}, "runuser: user tools.a does not exist", "runuser"},
		{[]string{"/usr/bin/webservice", "restart"}, "", "webservice"},
		{[]string{"sudo", "-i"}, "", "sudo"},
	}
	for _, tt := range tests {
		if got := programName(tt.argv, tt.out); got != tt.want {
			t.Errorf("programName(%q, %q) = %q, want %q", tt.argv, tt.out, got, tt.want)
		}
	}
}

// Stuck jobs go before the restart command runs; a clear that fails is the
// attempt's failure, and the restart is not run.
func TestRestarterClearsStuckJobsFirst(t *testing.T) {
	dir := t.TempDir()
	qdel := script(t, "echo \"$1\" >>"+dir+"/cleared\n[ \"$1\" != 13 ] || { echo 'denied: job \"13\" does not exist' >&2; exit 1; }\n")
	restart := script(t, "touch "+dir+"/restarted.$1\n")
	r := &Restarter{Template: []string{restart, "{tool}"}, ClearTemplate: []string{qdel, "{job}", "{account}"},
		Parallel: 2, Timeout: time.Minute, Now: time.Now}
	ok, bad := decisionFor("a"), decisionFor("b")
	ok.Clear = []StuckJob{{Number: 11, State: "Eqw"}, {Number: 12, State: "dr"}}
	bad.Clear = []StuckJob{{Number: 13, State: "Eqw"}, {Number: 14, State: "Eqw"}}
	results := r.Restart(context.Background(), context.Background(), []Decision{ok, bad}, noCharge, nil)

	if res := results[0]; res.Outcome != state.OutcomePendingVerification || len(res.Cleared) != 2 {
		t.Errorf("a: %+v, want pending verification after clearing 11 and 12", res)
	}
	if res := results[1]; res.Outcome != state.OutcomeFailed || !res.ClearFailed ||
		!strings.Contains(res.Detail, `clearing job 13 (Eqw): webservice exited with status 1: denied: job "13" does not exist; the restart was not run`) {
		t.Errorf("b: %+v", res)
	}
	if _, err := os.Stat(filepath.Join(dir, "restarted.b")); err == nil {
		t.Error("b was restarted although its stuck job could not be cleared")
	}
	if _, err := os.Stat(filepath.Join(dir, "restarted.a")); err != nil {
		t.Errorf("a was not restarted: %v", err)
	}
	cleared, _ := os.ReadFile(filepath.Join(dir, "cleared"))
	if got := strings.Fields(string(cleared)); !slices.Equal(sorted(got), []string{"11", "12", "13"}) {
		t.Errorf("clear commands ran for %v, want 11, 12, 13 (and never 14)", got)
	}

	strays := decisionFor("c")
	strays.Clear = []StuckJob{{Number: 21, State: "Eqw"}, {Number: 13, State: "Eqw"}}
	got := r.ClearStrays(context.Background(), context.Background(), []Decision{strays})
	if len(got) != 2 || got[0].Detail != "" || !strings.Contains(got[1].Detail, "status 1") {
		t.Errorf("strays: %+v", got)
	}
}

func sorted(s []string) []string { slices.Sort(s); return s }
