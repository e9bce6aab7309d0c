//go:build e2e

package grid

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"webservicemonitor/e2e/grid/frontproxy"
	"webservicemonitor/state"
)

// Scenario 1: a tool's job is deleted; the next cycle resubmits it, and it
// runs and registers.
func TestDeletedJobIsResubmitted(t *testing.T) {
	w := newWorld(t)
	w.startTools("alpha", "bravo")
	if r := w.once(); r.code != 0 {
		t.Fatalf("with everything up: exit %d\n%s", r.code, r.stderr)
	}
	old := w.job("alpha")
	bravo := w.job("bravo")

	runCmd(20*time.Second, "/usr/bin/qdel", fmt.Sprint(old.Number))
	w.eventually(20*time.Second, "alpha's job gone", func() (bool, string) {
		j := w.jobsOf("alpha")
		return len(j) == 0, fmt.Sprintf("%+v", j)
	})
	w.expect(w.audit(), "alpha", "restart", "no-job")

	w.once()
	if got := w.restarts(); len(got["alpha"]) != 1 || len(got) != 1 {
		t.Fatalf("restarts = %v, want alpha once", got)
	}
	job := w.expectUp("alpha")
	if job.Number == old.Number {
		t.Errorf("alpha still has job %d", job.Number)
	}
	if b := w.job("bravo"); b.Number != bravo.Number {
		t.Errorf("bravo's job changed from %d to %d", bravo.Number, b.Number)
	}
	// The restart counts once alpha is seen up, by the next cycle.
	if log := readFile(t, filepath.Join(w.home("alpha"), "service.log")); strings.Contains(log, "restarted") ||
		!strings.Contains(log, "restart of the lighttpd web service submitted, waiting for it to be seen up: no lighttpd-alpha job on the grid") {
		t.Errorf("alpha's service.log before it was seen up: %q", log)
	}
	if r := w.once(); r.code != 0 || len(w.restarts()["alpha"]) != 1 {
		t.Errorf("next cycle: exit %d, restarts %v\n%s", r.code, w.restarts(), r.stderr)
	}
	if log := readFile(t, filepath.Join(w.home("alpha"), "service.log")); !strings.Contains(log, "restarted the lighttpd web service: seen up") ||
		!strings.Contains(log, "the restart was asked because no lighttpd-alpha job on the grid") {
		t.Errorf("alpha's service.log: %q", log)
	}
	if h := w.history("alpha"); len(h) != 1 || h[0].Outcome != state.OutcomeSucceeded {
		t.Errorf("alpha's history: %+v", h)
	}
}

// Scenario 2: a job stuck in Eqw (its output file cannot be opened) is
// restarted; the old monitor counted it as up forever.
func TestErrorStateJobIsRestarted(t *testing.T) {
	w := newWorld(t)
	w.manifest("charlie", "lighttpd")
	cmd := fmt.Sprintf("cd %s && /usr/bin/qsub -b y -N lighttpd-charlie -q webgrid-lighttpd -l release=%s -o /nonexistent/lighttpd.out /bin/sleep 3600",
		w.home("charlie"), w.cell.release)
	if _, errOut, err := runCmd(20*time.Second, "/usr/sbin/runuser", "-u", "tools.charlie", "--", "/bin/sh", "-c", cmd); err != nil {
		t.Fatalf("qsub: %v: %s", err, errOut)
	}
	var stuck int
	w.eventually(30*time.Second, "charlie's job in Eqw", func() (bool, string) {
		j := w.jobsOf("charlie")
		if len(j) == 1 && j[0].State == "Eqw" {
			stuck = j[0].Number
			return true, ""
		}
		return false, fmt.Sprintf("%+v", j)
	})
	d := w.expect(w.audit(), "charlie", "restart", "job-error")
	if d.GridState != "Eqw" || d.Job != stuck {
		t.Errorf("audit: grid state %q job %d, want Eqw %d", d.GridState, d.Job, stuck)
	}

	before, _, _ := runCmd(20*time.Second, "/usr/bin/qstat", "-u", "*")
	t.Logf("qstat before the restart:\n%s", before)
	w.once()
	if got := w.restarts(); len(got["charlie"]) != 1 {
		t.Fatalf("restarts = %v, want charlie once", got)
	}
	if job := w.expectUp("charlie"); job.Number == stuck {
		t.Errorf("charlie still has the stuck job %d", stuck)
	}
	after, _, _ := runCmd(20*time.Second, "/usr/bin/qstat", "-u", "*")
	t.Logf("qstat after the restart:\n%s", after)
	// The platform's webservice submits beside a job that is not running:
	// the supervisor cleared the stuck one first.
	if jobs := w.jobsOf("charlie"); len(jobs) != 1 {
		t.Errorf("charlie has %d jobs after its restart, want 1: %+v", len(jobs), jobs)
	}
	a := w.audit()
	w.expect(a, "charlie", "none", "healthy")
	if log := readFile(t, filepath.Join(w.home("charlie"), "service.log")); !strings.Contains(log, fmt.Sprintf("clearing job %d (Eqw) first", stuck)) {
		t.Errorf("charlie's service.log does not say the stuck job was cleared: %q", log)
	}
}

// Scenario 3 (seed 000): a job runs but its proxy registration vanished —
// started without --register-proxy, or lost by the registry — and is
// restarted once its registration grace is over, then registered again.
func TestUnregisteredJobIsRestarted(t *testing.T) {
	w := newWorld(t)
	w.startTools("bravo", "delta")
	w.manifest("alpha", "lighttpd")
	w.asTool("alpha", "start", "--no-register-proxy")
	unregistered := w.job("alpha")
	lost := w.job("delta")
	w.proxy.Forget("delta")
	bravo := w.job("bravo")

	a := w.audit("--registration-grace", "1h", "--up-timeout", "2h")
	w.expect(a, "alpha", "wait", "registering")
	w.expect(a, "delta", "wait", "registering")
	a = w.audit("--registration-grace", "0s")
	w.expect(a, "alpha", "restart", "unregistered")
	w.expect(a, "delta", "restart", "unregistered")
	w.expect(a, "bravo", "none", "healthy")

	w.once("--registration-grace", "0s")
	got := w.restarts()
	if len(got["alpha"]) != 1 || len(got["delta"]) != 1 || len(got) != 2 {
		t.Fatalf("restarts = %v, want alpha and delta once", got)
	}
	if j := w.expectUp("alpha"); j.Number == unregistered.Number {
		t.Errorf("alpha kept job %d", j.Number)
	}
	if j := w.expectUp("delta"); j.Number == lost.Number {
		t.Errorf("delta kept job %d", j.Number)
	}
	if j := w.expectUp("bravo"); j.Number != bravo.Number {
		t.Errorf("bravo's job changed from %d to %d", bravo.Number, j.Number)
	}
	if r := w.once("--registration-grace", "0s"); r.code != 0 {
		t.Errorf("after the restarts: exit %d\n%s", r.code, r.stderr)
	}
}

// Scenario 5: the qmaster stopped (qstat exits 1, prints nothing) and hung
// (SIGSTOP: qstat blocks for minutes). The grid source fails within its
// deadline, nothing is restarted, the source's page fires in a real
// Alertmanager (once, kept across both outages) and resolves when the grid
// is back, and the daemon keeps its schedule.
func TestQmasterStoppedAndHung(t *testing.T) {
	w := newWorld(t)
	am, hook := w.alerting()
	w.startTools("alpha")
	w.manifest("bravo", "lighttpd") // no job: would be restarted if the grid were trusted
	alpha := w.job("alpha")
	t.Cleanup(func() {
		if pid := w.qmasterPID(); pid > 0 {
			syscall.Kill(pid, syscall.SIGCONT)
		}
		if _, _, err := runCmd(10*time.Second, "/usr/bin/qstat", "-u", "*", "-xml"); err != nil {
			w.cellScript("up")
		}
	})

	t.Log("stopping the qmaster")
	// Stopped.
	w.cellScript("stop-qmaster")
	stdout, stderr, err := runCmd(30*time.Second, "/usr/bin/qstat", "-u", "*", "-xml")
	if code := exitCode(err); code != 1 || stdout != "" || stderr == "" {
		t.Fatalf("qstat with the qmaster stopped: exit %d, stdout %q, stderr %q; want 1, nothing, a complaint", code, stdout, stderr)
	}
	t.Log("auditing with the qmaster stopped")
	a := w.audit()
	if a.code != 2 || !strings.Contains(a.sourceError("grid"), "exit status 1") {
		t.Errorf("audit: exit %d, grid error %q", a.code, a.sourceError("grid"))
	}
	w.expect(a, "bravo", "wait", "grid-unknown")
	if r := w.once(); r.code != 2 {
		t.Errorf("--once: exit %d, want 2\n%s", r.code, r.stderr)
	}
	// One failed cycle is not yet a page (--source-alert-after 2).
	if alerts, err := am.Alerts(); err != nil || len(alerts) != 0 {
		t.Errorf("after one failed cycle Alertmanager holds %+v (%v), want nothing", alerts, err)
	}
	t.Log("daemon with the qmaster stopped")
	d := w.startDaemon("--interval", "1s")
	began := time.Now()
	d.waitCycles(5, 30*time.Second)
	elapsed := time.Since(began)
	// The source's page, and no other: nothing was judged on the grid's
	// account. Its text is the source's error, as the log gives it.
	page := w.page(am, "WebserviceMonitorSourceFailing", 30*time.Second)
	if want := map[string]string{"alertname": "WebserviceMonitorSourceFailing", "source": "grid", "severity": "page"}; fmt.Sprint(page.Labels) != fmt.Sprint(want) {
		t.Errorf("the source's page has labels %v, want exactly %v", page.Labels, want)
	}
	if !strings.Contains(page.Annotations["description"], "exit status 1") {
		t.Errorf("the source's page does not give qstat's failure: %q", page.Annotations["description"])
	}
	w.eventually(30*time.Second, "the receiver to be paged for the grid", func() (bool, string) {
		seen := hook.Seen("source", "grid")
		return slices.Equal(seen, []string{"firing"}), fmt.Sprint(seen)
	})
	d.stop()
	// qstat fails at once: the cycles keep the 1s interval.
	if elapsed > 9*time.Second {
		t.Errorf("5 cycles took %s at a 1s interval", elapsed)
	}
	checkGridFailed(t, d, "exit status 1")
	if got := w.restarts(); len(got) != 0 {
		t.Fatalf("restarted with the qmaster stopped: %v", got)
	}

	t.Log("starting the qmaster")
	// Hung.
	w.cellScript("start-qmaster")
	if j := w.job("alpha"); j.Number != alpha.Number {
		t.Fatalf("alpha's job changed across the qmaster restart: %d -> %d", alpha.Number, j.Number)
	}
	t.Log("hanging the qmaster")
	pid := w.qmasterPID()
	must(t, syscall.Kill(pid, syscall.SIGSTOP))
	began = time.Now()
	if _, _, err := runCmd(3*time.Second, "/usr/bin/qstat", "-u", "*", "-xml"); err == nil || time.Since(began) < 3*time.Second {
		t.Fatalf("qstat against a stopped qmaster answered after %s: %v", time.Since(began), err)
	}
	t.Log("daemon with the qmaster hung")
	const qstatTimeout = 2 * time.Second
	d = w.startDaemon("--interval", "1s", "--qstat-timeout", qstatTimeout.String())
	began = time.Now()
	d.waitCycles(4, 30*time.Second)
	elapsed = time.Since(began)
	d.stop()
	// Each cycle waits out the qstat deadline and the next starts at the
	// following tick: the schedule slips by the deadline, never by the
	// minutes qstat would block.
	if elapsed > 4*(qstatTimeout+time.Second)+3*time.Second {
		t.Errorf("4 cycles took %s with a %s qstat deadline", elapsed, qstatTimeout)
	}
	checkGridFailed(t, d, "qstat did not answer within 2s")
	// The same page, still firing from its first start, now saying why
	// the grid fails this time; not a second page.
	w.eventually(30*time.Second, "the source's page to give the qstat deadline", func() (bool, string) {
		alerts, err := am.Alerts()
		if err != nil {
			return false, err.Error()
		}
		if len(alerts) != 1 || alerts[0].Fingerprint != page.Fingerprint || !alerts[0].StartsAt.Equal(page.StartsAt) || alerts[0].Status.State != "active" {
			return false, fmt.Sprintf("%+v, want only %s from %s", alerts, page.Fingerprint, page.StartsAt)
		}
		return strings.Contains(alerts[0].Annotations["description"], "did not answer within 2s"), alerts[0].Annotations["description"]
	})
	a = w.audit("--qstat-timeout", qstatTimeout.String())
	if a.code != 2 || a.took > qstatTimeout+3*time.Second {
		t.Errorf("audit with the qmaster hung: exit %d after %s", a.code, a.took)
	}
	if got := w.restarts(); len(got) != 0 {
		t.Fatalf("restarted with the qmaster hung: %v", got)
	}
	if left := processes(-1, "qstat -u * -xml"); len(left) != 0 {
		t.Errorf("qstat processes left behind: %v", left)
	}
	t.Log("resuming the qmaster")
	must(t, syscall.Kill(pid, syscall.SIGCONT))
	if j := w.expectUp("alpha"); j.Number != alpha.Number {
		t.Errorf("alpha's job changed: %d -> %d", alpha.Number, j.Number)
	}
	t.Log("acting with the grid back")
	// Once the grid answers again, the down tool is restarted.
	w.once()
	if got := w.restarts(); len(got["bravo"]) != 1 || len(got) != 1 {
		t.Errorf("after the qmaster came back: restarts %v, want bravo once", got)
	}
	w.expectUp("bravo")
	// The grid answers: its page resolves, and it was notified once.
	w.noAlerts(am, 30*time.Second)
	w.eventually(30*time.Second, "the receiver to hear the source's page resolved", func() (bool, string) {
		seen := hook.Seen("alertname", "WebserviceMonitorSourceFailing")
		return slices.Equal(seen, []string{"firing", "resolved"}), fmt.Sprint(seen)
	})
	if n := len(hook.Notified()); n != 2 {
		t.Errorf("the receiver was notified of %d alerts, want the source's page firing then resolved: %+v", n, hook.Notified())
	}
}

// checkGridFailed asserts that every cycle of the daemon logged the grid
// source's failure with the given cause and finished within a second of the
// qstat deadline used (10s unless the daemon was given another).
func checkGridFailed(t *testing.T, d *daemon, cause string) {
	t.Helper()
	cycles := d.cycles()
	var failed int
	for _, l := range logLines(d.text(), "source failed") {
		if l["source"] == "grid" && strings.Contains(fmt.Sprint(l["error"]), cause) {
			failed++
		}
	}
	if failed < len(cycles) {
		t.Errorf("%d cycles, %d logged the grid failing with %q; log:\n%s", len(cycles), failed, cause, tail(d.text(), 2000))
	}
	for _, c := range cycles {
		// Durations are logged with their unit ("1.5s").
		took, err := time.ParseDuration(fmt.Sprint(c["took"]))
		if err != nil {
			t.Errorf("a cycle's duration %v is not a duration: %v", c["took"], err)
		} else if took > 3500*time.Millisecond {
			t.Errorf("a cycle took %s", took)
		}
	}
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -1
}

// Scenario 7: a tool whose restart always fails (qsub refuses the job) gets
// its attempts spaced by the backoff, up to the window's budget, and is then
// given up — and that holds across a SIGKILL of the daemon mid-way, because
// the history is in the state file.
func TestFailingRestartGivesUpAcrossKill9(t *testing.T) {
	w := newWorld(t)
	w.startTools("alpha")
	w.manifest("echo", "lighttpd")
	w.setMode("echo", "fail")
	policy := []string{"--restart-budget", "3", "--restart-window", "10m", "--backoff-initial", "2s", "--backoff-max", "8s"}

	d := w.startDaemon(append([]string{"--interval", "1s"}, policy...)...)
	w.eventually(60*time.Second, "echo's second restart", func() (bool, string) {
		n := len(w.restarts()["echo"])
		return n >= 2, fmt.Sprintf("%d restarts", n)
	})
	d.kill()
	// Whatever was in flight, the state file holds both attempts.
	a := w.audit(policy...)
	if e := a.tool(t, "echo"); e.Attempts != 2 || (e.Action != "hold" && e.Action != "restart") {
		t.Fatalf("after kill -9: echo %s/%s with %d attempts, want 2 attempts", e.Action, e.Code, e.Attempts)
	}

	d = w.startDaemon(append([]string{"--interval", "1s"}, policy...)...)
	w.eventually(60*time.Second, "echo's third restart", func() (bool, string) {
		n := len(w.restarts()["echo"])
		return n >= 3, fmt.Sprintf("%d restarts", n)
	})
	// Give the daemon time to (wrongly) try again.
	time.Sleep(10 * time.Second)
	d.stop()

	runs := w.restarts()["echo"]
	if len(runs) != 3 {
		t.Fatalf("echo restarted %d times, want the budget of 3", len(runs))
	}
	// Backoff: 2s then 4s, each with up to 25 %% jitter either way.
	for i, min := range []time.Duration{1500 * time.Millisecond, 3 * time.Second} {
		if gap := runs[i+1].At.Sub(runs[i].At); gap < min {
			t.Errorf("restart %d came %s after restart %d, want at least %s", i+2, gap, i+1, min)
		}
	}
	for _, inv := range w.invocations() {
		if inv.Tool == "echo" && inv.Event == "failed" && !strings.Contains(inv.Detail, "qsub") {
			t.Errorf("echo's restart failed for another reason: %s", inv.Detail)
		}
	}
	a = w.audit(policy...)
	e := w.expect(a, "echo", "give-up", "budget-exhausted")
	if e.Attempts != 3 || !e.GivenUp || a.code != 1 {
		t.Errorf("echo: %d attempts, given up %v, audit exit %d; want 3, true, 1", e.Attempts, e.GivenUp, a.code)
	}
	if n := len(w.jobsOf("echo")); n != 0 {
		t.Errorf("echo has %d jobs", n)
	}
	log := readFile(t, filepath.Join(w.home("echo"), "service.log"))
	if strings.Count(log, "gave up restarting") != 1 || strings.Count(log, "restart of the lighttpd web service failed") < 2 {
		t.Errorf("echo's service.log:\n%s", log)
	}
	if gaveUp := logLines(d.text(), "no lighttpd-echo job on the grid"); len(gaveUp) == 0 || gaveUp[len(gaveUp)-1]["level"] != "warn" {
		t.Errorf("the daemon did not log the give-up as a warning")
	}
	if got := w.restarts(); len(got) != 1 {
		t.Errorf("restarts %v, want only echo", got)
	}
	w.expectUp("alpha")
}

// Scenario 8: a webservice that hangs is killed at the restart timeout with
// its whole process group (runuser, the webservice, its child); nothing of
// it is left in the process table.
func TestHangingRestartIsKilledWithItsGroup(t *testing.T) {
	w := newWorld(t)
	w.manifest("foxtrot", "lighttpd")
	w.setMode("foxtrot", "hang")
	uid, _ := w.account("foxtrot")

	const timeout = 3 * time.Second
	r := w.once("--restart-timeout", timeout.String())
	if r.took > timeout+8*time.Second {
		t.Errorf("--once took %s with a %s restart timeout", r.took, timeout)
	}
	var hung []invocation
	for _, inv := range w.invocations() {
		if inv.Tool == "foxtrot" && inv.Event == "hanging" {
			hung = append(hung, inv)
		}
	}
	if len(hung) != 1 {
		t.Fatalf("the webservice did not hang as configured: %+v", w.invocations())
	}
	// The restart command runs under runuser here (under sudo on the
	// platform): its failure is told in the name of the program run.
	if lines := r.logLines("webservice did not finish within 3s and was killed with its process group"); len(lines) != 1 {
		t.Errorf("no timeout line in the log:\n%s", r.stderr)
	}
	// SIGKILL is immediate; give the kernel and init a moment to reap.
	w.eventually(5*time.Second, "no process of the hung restart", func() (bool, string) {
		left := processes(uid, w.confPath)
		return len(left) == 0, fmt.Sprint(left)
	})
	if h := w.history("foxtrot"); len(h) != 1 || h[0].Outcome != "timed-out" {
		t.Errorf("foxtrot's recorded attempts: %+v, want one timed-out", h)
	}
	if log := readFile(t, filepath.Join(w.home("foxtrot"), "service.log")); !strings.Contains(log, "timed-out") {
		t.Errorf("foxtrot's service.log: %q", log)
	}
}

// Scenario 4: the proxy fails over to an empty registry, so every running
// tool looks unregistered at once. The safety valve holds the mass restart
// (one log line says why), nothing is restarted, no service.log hears of
// it, and one page — the valve's, not one per tool — reaches a real
// Alertmanager; restarts resume when the list is back, and the page
// resolves.
func TestSafetyValveHoldsOnProxyFailover(t *testing.T) {
	w := newWorld(t)
	am, hook := w.alerting()
	tools := []string{"alpha", "bravo", "charlie", "delta", "echo", "foxtrot"}
	w.startTools(tools...)
	valve := []string{"--valve-min", "2", "--valve-fraction", "0.1", "--registration-grace", "0s"}
	if r := w.once(valve...); r.code != 0 {
		t.Fatalf("with everything up: exit %d\n%s", r.code, r.stderr)
	}
	before := map[string]int{}
	for _, tool := range tools {
		before[tool] = w.job(tool).Number
	}

	w.proxy.SetMode(frontproxy.ModeEmpty)
	a := w.audit(valve...)
	if !a.Valve.Tripped || a.Valve.Wanting != len(tools) || a.Valve.Limit != 2 || !strings.HasPrefix(a.Valve.Reason, "safety valve: 6 of 6 tools need a restart at once (limit 2)") {
		t.Errorf("audit valve: %+v", a.Valve)
	}
	for _, tool := range tools {
		w.expect(a, tool, "hold", "valve")
	}
	r := w.once(valve...)
	if lines := r.logLines("safety valve: 6 of 6 tools"); len(lines) != 1 || lines[0]["level"] != "error" {
		t.Errorf("want one error line for the valve, got %d:\n%s", len(lines), r.stderr)
	}
	page := w.page(am, "WebserviceMonitorSafetyValve", 10*time.Second)
	if want := map[string]string{"alertname": "WebserviceMonitorSafetyValve", "severity": "page"}; fmt.Sprint(page.Labels) != fmt.Sprint(want) {
		t.Errorf("the valve's page has labels %v, want exactly %v", page.Labels, want)
	}
	if d := page.Annotations["description"]; d != a.Valve.Reason {
		t.Errorf("the valve's page says %q, want the valve's reason %q", d, a.Valve.Reason)
	}
	r = w.once(valve...)
	// Held again: the same page, from the same start, still the only one.
	if again := w.page(am, "WebserviceMonitorSafetyValve", 10*time.Second); again.Fingerprint != page.Fingerprint || !again.StartsAt.Equal(page.StartsAt) {
		t.Errorf("the second held cycle's page is %s from %s, want %s from %s", again.Fingerprint, again.StartsAt, page.Fingerprint, page.StartsAt)
	}
	// Paged while it holds (Alertmanager waits a second before notifying).
	w.eventually(30*time.Second, "the receiver to be paged for the valve", func() (bool, string) {
		seen := hook.Seen("alertname", "WebserviceMonitorSafetyValve")
		return slices.Equal(seen, []string{"firing"}), fmt.Sprint(seen)
	})
	if got := w.restarts(); len(got) != 0 {
		t.Fatalf("restarted during the failover: %v", got)
	}
	for _, tool := range tools {
		if j := w.job(tool); j.Number != before[tool] || j.State != "r" {
			t.Errorf("%s: job %d %s, want %d r", tool, j.Number, j.State, before[tool])
		}
		if log := readFile(t, filepath.Join(w.home(tool), "service.log")); log != "" {
			t.Errorf("%s's service.log heard of the valve: %q", tool, log)
		}
	}

	// The list is back: nothing to do, and the valve's page resolves; then
	// one real outage is restarted.
	w.proxy.SetMode(frontproxy.ModeNormal)
	if r := w.once(valve...); r.code != 0 || len(w.restarts()) != 0 {
		t.Errorf("list back: exit %d, restarts %v\n%s", r.code, w.restarts(), r.stderr)
	}
	w.noAlerts(am, 10*time.Second)
	runCmd(20*time.Second, "/usr/bin/qdel", fmt.Sprint(before["charlie"]))
	w.eventually(20*time.Second, "charlie's job gone", func() (bool, string) { return len(w.jobsOf("charlie")) == 0, "" })
	w.once(valve...)
	if got := w.restarts(); len(got) != 1 || len(got["charlie"]) != 1 {
		t.Errorf("restarts %v, want charlie once", got)
	}
	w.expectUp("charlie")
	// One page in all: the valve's, notified firing once, then resolved.
	w.noAlerts(am, 10*time.Second)
	w.eventually(30*time.Second, "the receiver to hear the valve's page resolved", func() (bool, string) {
		seen := hook.Seen("alertname", "WebserviceMonitorSafetyValve")
		return slices.Equal(seen, []string{"firing", "resolved"}), fmt.Sprint(seen)
	})
	if n := len(hook.Notified()); n != 2 {
		t.Errorf("the receiver was notified of %d alerts, want the valve's page firing then resolved: %+v", n, hook.Notified())
	}
}

// Scenario 6: the proxy's /list fails — 500, garbage, an empty body, a hang —
// and nothing is restarted on its account; the hang costs at most the proxy
// deadline.
func TestProxyListFailuresRestartNothing(t *testing.T) {
	w := newWorld(t)
	w.startTools("alpha", "bravo")
	before := map[string]int{"alpha": w.job("alpha").Number, "bravo": w.job("bravo").Number}
	const proxyTimeout = 2 * time.Second
	args := []string{"--proxy-timeout", proxyTimeout.String(), "--registration-grace", "0s"}
	for _, tt := range []struct {
		mode  frontproxy.Mode
		cause string
	}{
		{frontproxy.ModeError, "HTTP status 500"},
		{frontproxy.ModeGarbage, ""},
		{frontproxy.ModeEmptyBody, ""},
		{frontproxy.ModeHang, "deadline"},
	} {
		t.Run(string(tt.mode), func(t *testing.T) {
			w.t = t
			w.proxy.SetMode(tt.mode)
			a := w.audit(args...)
			if a.code != 2 || a.sourceError("proxy") == "" || !strings.Contains(a.sourceError("proxy"), tt.cause) {
				t.Errorf("audit: exit %d, proxy error %q (want one mentioning %q)", a.code, a.sourceError("proxy"), tt.cause)
			}
			for tool := range before {
				w.expect(a, tool, "wait", "proxy-unknown")
			}
			r := w.once(args...)
			if r.code != 2 {
				t.Errorf("--once: exit %d, want 2", r.code)
			}
			if r.took > proxyTimeout+5*time.Second {
				t.Errorf("--once took %s with a %s proxy deadline", r.took, proxyTimeout)
			}
			if got := w.restarts(); len(got) != 0 {
				t.Fatalf("restarted with the proxy list failing: %v", got)
			}
			for tool, n := range before {
				if j := w.job(tool); j.Number != n {
					t.Errorf("%s's job changed: %d -> %d", tool, n, j.Number)
				}
			}
		})
	}
	w.t = t
	w.proxy.SetMode(frontproxy.ModeNormal)
	if r := w.once(args...); r.code != 0 || len(w.restarts()) != 0 {
		t.Errorf("proxy back: exit %d, restarts %v", r.code, w.restarts())
	}
}

// Scenario 9: adversarial homes on the real cell. Each bad manifest is
// skipped with its reason in the audit and in the tool's service.log, and no
// command is ever run for it; a good tool beside them is restarted.
func TestAdversarialHomesAreSkipped(t *testing.T) {
	w := newWorld(t)
	w.manifest("alpha", "lighttpd")
	alphaUID, alphaGID := w.account("alpha")
	manifest := func(tool string) string { return filepath.Join(w.home(tool), "service.manifest") }
	chown := func(tool, path string) {
		uid, gid := w.account(tool)
		must(t, os.Lchown(path, uid, gid))
	}
	// bravo: a symlink to another tool's manifest.
	must(t, os.Symlink(manifest("alpha"), manifest("bravo")))
	chown("bravo", manifest("bravo"))
	// charlie: a symlink to a root-only file.
	must(t, os.Symlink("/etc/shadow", manifest("charlie")))
	chown("charlie", manifest("charlie"))
	// delta: a good-looking manifest owned by root.
	must(t, os.WriteFile(manifest("delta"), []byte("backend: gridengine\nweb: lighttpd\n"), 0o644))
	// echo: a FIFO (opening it for reading would block forever).
	must(t, syscall.Mkfifo(manifest("echo"), 0o644))
	chown("echo", manifest("echo"))
	// foxtrot: huge.
	must(t, os.WriteFile(manifest("foxtrot"), []byte("web: lighttpd\n"+strings.Repeat("# padding\n", 200000)), 0o644))
	chown("foxtrot", manifest("foxtrot"))
	// golf: not YAML.
	must(t, os.WriteFile(manifest("golf"), []byte("web: [lighttpd\nbackend: {\n"), 0o644))
	chown("golf", manifest("golf"))
	// hotel: owned by another tool's account.
	must(t, os.WriteFile(manifest("hotel"), []byte("backend: gridengine\nweb: lighttpd\n"), 0o644))
	must(t, os.Chown(manifest("hotel"), alphaUID, alphaGID))

	want := map[string]string{
		"bravo": "symlink", "charlie": "symlink", "delta": "wrong-owner", "echo": "not-regular-file",
		"foxtrot": "too-large", "golf": "invalid-yaml", "hotel": "wrong-owner",
	}
	a := w.audit()
	reasons := map[string]string{}
	for tool, code := range want {
		d := w.expect(a, tool, "skip", code)
		reasons[tool] = d.Reason
		if !strings.Contains(d.Reason, manifest(tool)) {
			t.Errorf("%s: the reason does not name the file: %q", tool, d.Reason)
		}
	}
	w.expect(a, "alpha", "restart", "no-job")
	if a.took > 20*time.Second {
		t.Errorf("the audit took %s", a.took)
	}

	r := w.once()
	r2 := w.once()
	if got := w.restarts(); len(got) != 1 || len(got["alpha"]) != 1 {
		t.Errorf("restarts %v, want alpha only", got)
	}
	for _, inv := range w.invocations() {
		if _, bad := want[inv.Tool]; bad {
			t.Errorf("the webservice ran for %s: %+v", inv.Tool, inv)
		}
	}
	w.expectUp("alpha")
	for tool := range want {
		if jobs := w.jobsOf(tool); len(jobs) != 0 {
			t.Errorf("%s has jobs: %+v", tool, jobs)
		}
		log := readFile(t, filepath.Join(w.home(tool), "service.log"))
		if line := "service.manifest ignored: " + reasons[tool]; strings.Count(log, line) != 1 {
			t.Errorf("%s's service.log should say once %q; it holds:\n%s", tool, line, log)
		}
	}
	if !strings.Contains(r.stderr+r2.stderr, reasons["echo"]) {
		t.Errorf("the log does not give echo's reason")
	}
	// Nothing was written through a symlink: alpha's manifest and the
	// root file are as they were.
	if st, err := os.Lstat("/etc/shadow"); err != nil || st.Mode().Perm()&0o004 != 0 {
		t.Errorf("/etc/shadow: %v %v", st, err)
	}
}

// Scenario 10: the --dry-run audit while the daemon runs: a correct table,
// and no writes — state file and service.log unchanged byte for byte.
func TestAuditWhileDaemonRuns(t *testing.T) {
	w := newWorld(t)
	w.startTools("alpha", "charlie")
	w.manifest("bravo", "lighttpd")
	w.setMode("bravo", "fail")
	charlie := w.job("charlie")
	runCmd(20*time.Second, "/usr/bin/qmod", "-sj", fmt.Sprint(charlie.Number))
	w.eventually(20*time.Second, "charlie suspended", func() (bool, string) {
		j := w.jobsOf("charlie")
		return len(j) == 1 && j[0].State == "s", fmt.Sprintf("%+v", j)
	})
	policy := []string{"--restart-budget", "1"}

	// A daemon cycling every second: audits run between its cycles.
	d := w.startDaemon(append([]string{"--interval", "1s"}, policy...)...)
	d.waitCycles(2, 60*time.Second)
	for i := 0; i < 5; i++ {
		a := w.audit(policy...)
		if a.code != 1 || a.Sources["state"].Status != "ok" {
			t.Errorf("audit %d while the daemon cycles: exit %d, state %+v", i, a.code, a.Sources["state"])
		}
	}
	d.stop()

	// A daemon between cycles (a long interval): nothing may change.
	d = w.startDaemon(append([]string{"--interval", "1h", "--up-timeout", "2h"}, policy...)...)
	d.waitCycles(1, 60*time.Second)
	files := []string{w.state}
	for _, tool := range []string{"alpha", "bravo", "charlie"} {
		if p := filepath.Join(w.home(tool), "service.log"); readFile(t, p) != "" {
			files = append(files, p)
		}
	}
	if len(files) < 2 {
		t.Fatalf("no service.log was written: %v", files)
	}
	before := map[string][32]byte{}
	for _, f := range files {
		before[f] = fileHash(t, f)
	}
	table := w.run(append([]string{"--dry-run"}, policy...)...)
	a := w.audit(policy...)
	for _, f := range files {
		if fileHash(t, f) != before[f] {
			t.Errorf("the audit changed %s", f)
		}
	}
	d.stop()

	if table.code != 1 || a.code != 1 {
		t.Errorf("audit exit statuses %d (table) and %d (json), want 1", table.code, a.code)
	}
	w.expect(a, "alpha", "none", "healthy")
	w.expect(a, "bravo", "give-up", "budget-exhausted")
	w.expect(a, "charlie", "wait", "suspended")
	rows := map[string][]string{}
	for _, line := range strings.Split(table.stdout, "\n") {
		if f := strings.Fields(line); len(f) > 5 {
			rows[f[0]] = f
		}
	}
	for tool, want := range map[string][]string{
		"alpha":   {"lighttpd", "r", fmt.Sprintf("(%d)", w.job("alpha").Number), "registered", "none"},
		"bravo":   {"lighttpd", "-", "-", "give-up", "1"},
		"charlie": {"lighttpd", "s", fmt.Sprintf("(%d)", charlie.Number), "-", "wait"}, // registration is not looked at for a suspended job
	} {
		got := rows[tool]
		if len(got) < len(want)+1 || strings.Join(got[1:len(want)+1], " ") != strings.Join(want, " ") {
			t.Errorf("table row of %s: %q, want it to start %q\n%s", tool, got, want, table.stdout)
		}
	}
}
