package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"webservicemonitor/internal/demo"
	"webservicemonitor/state"
)

// The admin commands on the built binary against the demo platform, each
// run while a daemon cycles: what the next cycles do about it, what the
// audit, the log, status and the tools' service.log say. Cycles are told
// apart by the daemon's "cycle finished" lines; nothing here bounds how
// long anything takes (waitFor's limit only ends a hung test).

// logLine is one line of the daemon's JSON log.
type logLine map[string]any

func (l logLine) str(key string) string {
	s, _ := l[key].(string)
	return s
}

func (l logLine) num(key string) int {
	n, _ := l[key].(float64)
	return int(n)
}

// runningDaemon is the built binary running as the daemon.
type runningDaemon struct {
	t      *testing.T
	cmd    *exec.Cmd
	log    *lockedBuffer
	exited chan error
}

// startDaemon runs the daemon on the demo with the rig's options and args;
// it is stopped (SIGTERM, so that no restart outlives the test) at the
// end of the test.
func (r *rig) startDaemon(args ...string) *runningDaemon {
	r.t.Helper()
	d := &runningDaemon{t: r.t, log: &lockedBuffer{}, exited: make(chan error, 1)}
	d.cmd = exec.Command(r.bin, append(append([]string{"--config", r.world.ConfigFile}, r.options...), args...)...)
	d.cmd.Stderr = d.log
	if err := d.cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	go func() { d.exited <- d.cmd.Wait() }()
	r.t.Cleanup(d.stop)
	return d
}

func (d *runningDaemon) stop() {
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
	case <-time.After(60 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.exited
	}
	if d.t.Failed() {
		d.t.Logf("daemon log:\n%s", d.log.String())
	}
}

// cycles is the daemon's log cut into its finished cycles, each ending
// with its "cycle finished" line (what came between cycles, such as a
// SIGHUP, goes with the cycle after it).
func (d *runningDaemon) cycles() [][]logLine {
	var out [][]logLine
	var cur []logLine
	for _, text := range strings.Split(d.log.String(), "\n") {
		var l logLine
		if json.Unmarshal([]byte(text), &l) != nil {
			continue // the line being written, or not JSON
		}
		cur = append(cur, l)
		if l.str("message") == "cycle finished" {
			out = append(out, cur)
			cur = nil
		}
	}
	return out
}

// waitCycles waits until n cycles have finished, and returns them.
func (d *runningDaemon) waitCycles(n int) [][]logLine {
	d.t.Helper()
	var cs [][]logLine
	waitFor(d.t, fmt.Sprintf("%d cycles of the daemon", n), func() bool {
		d.alive()
		cs = d.cycles()
		return len(cs) >= n
	})
	return cs
}

// waitMore waits for n more cycles than have finished now.
func (d *runningDaemon) waitMore(n int) [][]logLine {
	d.t.Helper()
	return d.waitCycles(len(d.cycles()) + n)
}

// actedOn waits for the cycle that acted on admin action id first and
// returns its index in cycles().
func (d *runningDaemon) actedOn(id int) int {
	d.t.Helper()
	return d.waitLine(fmt.Sprintf("the daemon acting on action %d", id), func(l logLine) bool {
		return l.num("action") == id && strings.HasPrefix(l.str("message"), "acting on admin action: ")
	})
}

// waitLine waits for a finished cycle with a line that match accepts, and
// returns the first such cycle's index.
func (d *runningDaemon) waitLine(what string, match func(logLine) bool) int {
	d.t.Helper()
	found := -1
	waitFor(d.t, what, func() bool {
		d.alive()
		for i, c := range d.cycles() {
			if slices.ContainsFunc(c, match) {
				found = i
				return true
			}
		}
		return false
	})
	return found
}

func (d *runningDaemon) alive() {
	d.t.Helper()
	select {
	case err := <-d.exited:
		d.exited <- err
		d.t.Fatalf("the daemon exited (%v):\n%s", err, d.log.String())
	default:
	}
}

// restartedIn lists the tools the cycle decided to restart.
func restartedIn(cycle []logLine) []string {
	var tools []string
	for _, l := range cycle {
		if l.str("tool") != "" && l.str("action") == "restart" {
			tools = append(tools, l.str("tool"))
		}
	}
	slices.Sort(tools)
	return tools
}

// decisionIn is the tool's decision line in the cycle, nil when the cycle
// did not log one.
func decisionIn(cycle []logLine, tool string) logLine {
	for _, l := range cycle {
		if l.str("tool") == tool && l.str("action") != "" {
			return l
		}
	}
	return nil
}

var actionRecorded = regexp.MustCompile(`action (\d+) recorded in `)

// admin runs an admin command as who (SUDO_USER), which must succeed, and
// returns the recorded action's ID and what the command printed.
func (r *rig) admin(who string, args ...string) (int, string) {
	r.t.Helper()
	stdout, stderr, code := r.runAs(who, args...)
	m := actionRecorded.FindStringSubmatch(stdout)
	if code != 0 || m == nil {
		r.t.Fatalf("%v: exit %d\nstdout: %s\nstderr: %s", args, code, stdout, stderr)
	}
	id, _ := strconv.Atoi(m[1])
	return id, stdout
}

// runAs runs the binary on the demo as who (SUDO_USER).
func (r *rig) runAs(who string, args ...string) (stdout, stderr string, code int) {
	r.t.Helper()
	cmd := exec.Command(r.bin, append(append([]string{"--config", r.world.ConfigFile}, r.options...), args...)...)
	cmd.Env = append(os.Environ(), "SUDO_USER="+who)
	var o, e strings.Builder
	cmd.Stdout, cmd.Stderr = &o, &e
	if err := cmd.Run(); err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			r.t.Fatalf("running %v: %v", args, err)
		}
	}
	return o.String(), e.String(), cmd.ProcessState.ExitCode()
}

// kill takes the tools' web jobs off the grid (and so off the proxy), as
// a node reboot does.
func (r *rig) kill(tools ...string) {
	r.t.Helper()
	err := r.world.Grid.Update(func(g *demo.Grid) error {
		g.Jobs = slices.DeleteFunc(g.Jobs, func(j demo.Job) bool {
			return slices.ContainsFunc(tools, func(tool string) bool { return j.Owner == "tools."+tool })
		})
		return nil
	})
	if err != nil {
		r.t.Fatal(err)
	}
}

// waitUp waits until the audit sees every one of the tools up.
func (r *rig) waitUp(tools ...string) {
	r.t.Helper()
	waitFor(r.t, fmt.Sprintf("%v seen up", tools), func() bool {
		a, _ := r.audit()
		for _, tool := range tools {
			if action, _, _ := a.tool(r.t, tool); action != "none" {
				return false
			}
		}
		return true
	})
}

// serviceLog is the tool's service.log in the demo's homes.
func (r *rig) serviceLog(tool string) string {
	r.t.Helper()
	data, err := os.ReadFile(filepath.Join(r.world.Dir, "homes", tool, "service.log"))
	if err != nil && !os.IsNotExist(err) {
		r.t.Fatal(err)
	}
	return string(data)
}

// statusJSON is `status --output json`.
type statusJSON struct {
	Tools []struct {
		Tool     string `json:"tool"`
		Action   string `json:"action"`
		Code     string `json:"code"`
		Reason   string `json:"reason"`
		Attempts []struct {
			At       time.Time `json:"at"`
			Outcome  string    `json:"outcome"`
			Reason   string    `json:"reason"`
			Forgiven bool      `json:"forgiven"`
		} `json:"attempts"`
		Actions []adminActionJSON `json:"admin_actions"`
	} `json:"tools"`
}

// status runs `status --output json` for the tools.
func (r *rig) status(tools ...string) statusJSON {
	r.t.Helper()
	out, errOut, code := r.run(append([]string{"status", "--output", "json"}, tools...)...)
	var s statusJSON
	if err := json.Unmarshal([]byte(out), &s); err != nil || code != 0 {
		r.t.Fatalf("status %v: exit %d, %v\n%s\nstderr: %s", tools, code, err, out, errOut)
	}
	if len(s.Tools) != len(tools) {
		r.t.Fatalf("status %v: %d tools in %s", tools, len(s.Tools), out)
	}
	return s
}

// adminActionJSON is an admin action as status shows it.
type adminActionJSON struct {
	ID           int       `json:"id"`
	Kind         string    `json:"kind"`
	Tools        []string  `json:"tools"`
	Who          string    `json:"who"`
	At           time.Time `json:"at"`
	Until        time.Time `json:"until"`
	Reason       string    `json:"reason"`
	Ended        time.Time `json:"ended"`
	EndedBecause string    `json:"ended_because"`
	Sentence     string    `json:"sentence"`
}

// pausesJSON is the audit's pauses array.
type pausesJSON struct {
	Pauses []struct {
		ID     int       `json:"id"`
		Tools  []string  `json:"tools"`
		Who    string    `json:"who"`
		At     time.Time `json:"at"`
		Until  time.Time `json:"until"`
		Reason string    `json:"reason"`
	} `json:"pauses"`
}

func (r *rig) pauses() pausesJSON {
	r.t.Helper()
	out, _, _ := r.run("--dry-run", "--output", "json")
	var p pausesJSON
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		r.t.Fatalf("audit: %v\n%s", err, out)
	}
	return p
}

// reasonOf is the tool's reason in the audit.
func reasonOf(t *testing.T, a auditJSON, tool string) string {
	t.Helper()
	for _, x := range a.Tools {
		if x.Tool == tool {
			return x.Reason
		}
	}
	t.Fatalf("tool %s missing from the audit", tool)
	return ""
}

// changedCounts lists the tools whose restart count differs between two
// snapshots.
func changedCounts(before, after map[string]int) []string {
	var changed []string
	for tool := range after {
		if after[tool] != before[tool] {
			changed = append(changed, tool)
		}
	}
	slices.Sort(changed)
	return changed
}

// TestAdminPausePlatform: a platform-wide pause holds every restart while
// the daemon keeps cycling and says who paused, since and until when, and
// why; a resume ends it and the next cycle restarts.
func TestAdminPausePlatform(t *testing.T) {
	r := newRig(t)
	d := r.startDaemon("--interval", "2s", "--restart-budget", "5")
	waitFor(t, "the first restarts", func() bool { return r.restarts()["juliet"] == 1 })
	r.waitUp("alpha", "bravo")

	id, _ := r.admin("alice", "pause", "--reason", "grid maintenance", "--for", "10m")
	k := d.actedOn(id)
	before := r.restarts()
	r.kill("alpha", "bravo")
	cs := d.waitCycles(k + 4) // two cycles at least saw the jobs gone
	if changed := changedCounts(before, r.restarts()); len(changed) > 0 {
		t.Errorf("restarted while the platform was paused: %v (before %v, after %v)", changed, before, r.restarts())
	}
	last := cs[len(cs)-1]
	if l := decisionIn(last, "alpha"); l == nil || l.str("code") != "paused" || !strings.Contains(l.str("message"), "not restarted: paused by alice") {
		t.Errorf("alpha's log line in a paused cycle: %v", l)
	}
	wantPause := "restarts of every tool paused by alice since "
	if !slices.ContainsFunc(last, func(l logLine) bool {
		m := l.str("message")
		return strings.HasPrefix(m, wantPause) && strings.Contains(m, " until ") && strings.Contains(m, `"grid maintenance"`) && l.str("who") == "alice"
	}) {
		t.Errorf("no log line of the pause in a paused cycle: %v", last)
	}
	checkPauseAudit(t, r, id)
	checkPauseStatus(t, r, id, "alpha")

	id, _ = r.admin("bob", "resume", "--reason", "maintenance over")
	k = d.actedOn(id)
	cs = d.waitCycles(k + 1)
	if got := restartedIn(cs[k]); !slices.Contains(got, "alpha") || !slices.Contains(got, "bravo") {
		t.Errorf("the cycle that saw the resume restarted %v, want alpha and bravo", got)
	}
	if n := r.restarts(); n["alpha"] != 1 || n["bravo"] != 2 {
		t.Errorf("restarts after the resume: %v, want alpha 1 and bravo 2", n)
	}
	s := r.status("alpha")
	for _, a := range s.Tools[0].Actions {
		if a.Kind == "pause" && !strings.Contains(a.EndedBecause, "resumed by bob") {
			t.Errorf("the pause after the resume: ended %v because %q", a.Ended, a.EndedBecause)
		}
	}
}

// checkPauseAudit checks what the audit says of the platform-wide pause.
func checkPauseAudit(t *testing.T, r *rig, id int) {
	t.Helper()
	p := r.pauses()
	if len(p.Pauses) != 1 || p.Pauses[0].ID != id || p.Pauses[0].Who != "alice" || p.Pauses[0].Reason != "grid maintenance" ||
		len(p.Pauses[0].Tools) != 0 || p.Pauses[0].Until.Sub(p.Pauses[0].At) != 10*time.Minute {
		t.Errorf("the audit's pauses: %+v", p.Pauses)
	}
	a, _ := r.audit()
	for _, tool := range []string{"alpha", "bravo"} {
		action, code, _ := a.tool(t, tool)
		reason := reasonOf(t, a, tool)
		if action != "hold" || code != "paused" || !strings.Contains(reason, "not restarted: paused by alice at ") ||
			!strings.Contains(reason, " until ") || !strings.Contains(reason, `"grid maintenance"`) {
			t.Errorf("%s in the audit: %s/%s: %s", tool, action, code, reason)
		}
	}
}

// checkPauseStatus checks the state file's record of the pause, as status
// shows it for the tool.
func checkPauseStatus(t *testing.T, r *rig, id int, tool string) {
	t.Helper()
	s := r.status(tool)
	i := slices.IndexFunc(s.Tools[0].Actions, func(a adminActionJSON) bool {
		return a.ID == id
	})
	if i < 0 {
		t.Fatalf("status of %s has no action %d: %+v", tool, id, s.Tools[0].Actions)
	}
	a := s.Tools[0].Actions[i]
	if a.Kind != "pause" || a.Who != "alice" || a.Reason == "" || a.At.IsZero() || !a.Until.After(a.At) || !a.Ended.IsZero() ||
		!strings.Contains(a.Sentence, "paused by alice") {
		t.Errorf("status of %s, the pause: %+v", tool, a)
	}
	if s.Tools[0].Code != "paused" {
		t.Errorf("status of %s: %s/%s: %s", tool, s.Tools[0].Action, s.Tools[0].Code, s.Tools[0].Reason)
	}
}

// TestAdminPauseTools: a pause of named tools holds only theirs; a resume
// of the tool lifts it; a pause ends by itself at its declared end.
func TestAdminPauseTools(t *testing.T) {
	r := newRig(t)
	d := r.startDaemon("--interval", "2s", "--restart-budget", "5")
	waitFor(t, "the first restarts", func() bool { return r.restarts()["juliet"] == 1 })
	r.waitUp("alpha", "charlie")

	id, _ := r.admin("alice", "pause", "--reason", "database migration", "--for", "10m", "alpha")
	k := d.actedOn(id)
	r.kill("alpha", "charlie")
	d.waitCycles(k + 4)
	waitFor(t, "charlie restarted", func() bool { return r.restarts()["charlie"] == 2 })
	if n := r.restarts()["alpha"]; n != 0 {
		t.Errorf("alpha, paused, restarted %d times", n)
	}
	if log := r.serviceLog("alpha"); strings.Count(log, "admin action: restarts of alpha paused by alice") != 1 ||
		!strings.Contains(log, `"database migration"`) {
		t.Errorf("alpha's service.log:\n%s", log)
	}
	if p := r.pauses(); len(p.Pauses) != 1 || !slices.Equal(p.Pauses[0].Tools, []string{"alpha"}) {
		t.Errorf("the audit's pauses: %+v", p.Pauses)
	}
	checkPauseStatus(t, r, id, "alpha")
	if s := r.status("charlie"); slices.ContainsFunc(s.Tools[0].Actions, func(a adminActionJSON) bool {
		return a.ID == id
	}) {
		t.Errorf("charlie's status shows alpha's pause: %+v", s.Tools[0].Actions)
	}

	id, _ = r.admin("alice", "resume", "alpha")
	k = d.actedOn(id)
	if got := restartedIn(d.waitCycles(k + 1)[k]); !slices.Contains(got, "alpha") || slices.Contains(got, "charlie") {
		t.Errorf("the cycle that saw alpha resumed restarted %v, want alpha (and not charlie, up)", got)
	}

	// A pause ends by itself: the cycle after its end restarts alpha.
	r.waitUp("alpha")
	id, _ = r.admin("alice", "pause", "--reason", "short", "--for", "3s", "alpha")
	r.kill("alpha")
	end := d.waitLine("the pause's end", func(l logLine) bool {
		return l.num("action") == id && l.str("message") == "admin action ended: its declared end passed"
	})
	waitFor(t, "alpha restarted after the pause", func() bool { return r.restarts()["alpha"] == 2 })
	if !slices.ContainsFunc(r.status("alpha").Tools[0].Actions, func(a adminActionJSON) bool {
		return a.ID == id && a.EndedBecause == "its declared end passed" && a.Ended.Equal(a.Until)
	}) {
		t.Errorf("status of alpha after its pause ended: %+v", r.status("alpha").Tools[0].Actions)
	}
	for _, c := range d.cycles()[:end] {
		if slices.Contains(restartedIn(c), "alpha") && slices.ContainsFunc(c, func(l logLine) bool { return l.num("action") == id }) {
			t.Errorf("alpha restarted in a cycle that applied its pause")
		}
	}
}

// TestAdminForget: a given-up tool, forgotten, is restarted by the next
// cycle; its past attempts are kept, marked forgiven; its service.log says
// who cleared it, once.
func TestAdminForget(t *testing.T) {
	r := newRig(t)
	d := r.startDaemon("--interval", "2s", "--restart-budget", "2", "--backoff-initial", "2s")
	gaveUp := d.waitLine("echo given up", func(l logLine) bool {
		return l.str("tool") == "echo" && l.str("action") == "give-up"
	})
	d.waitCycles(gaveUp + 2)
	if n := r.restarts()["echo"]; n != 2 {
		t.Fatalf("echo restarted %d times before it was given up, want the budget of 2", n)
	}

	id, out := r.admin("alice", "forget", "--reason", "quota raised", "echo", "zulu")
	if !strings.Contains(out, "note: tool zulu has no restart history: nothing to forget") {
		t.Errorf("forget of a tool without history: %s", out)
	}
	k := d.actedOn(id)
	cycle := d.waitCycles(k + 1)[k]
	if l := decisionIn(cycle, "echo"); l == nil || l.str("action") != "restart" || !strings.Contains(l.str("message"), "restart 1 of 2 in ") {
		t.Errorf("echo in the cycle that saw the forget: %v, want its restart 1 of 2 (a budget started again)", l)
	}
	if n := r.restarts()["echo"]; n < 3 {
		t.Errorf("echo restarted %d times after the forget, want 3 or more", n)
	}

	s := r.status("echo")
	attempts := s.Tools[0].Attempts
	if len(attempts) < 3 || !attempts[0].Forgiven || !attempts[1].Forgiven || attempts[2].Forgiven {
		t.Errorf("echo's attempts after the forget: %+v", attempts)
	}
	var adminLines []string
	for _, line := range strings.Split(r.serviceLog("echo"), "\n") {
		if strings.Contains(line, "admin action: ") {
			adminLines = append(adminLines, line)
		}
	}
	if len(adminLines) != 1 || !strings.Contains(adminLines[0], "cleared") ||
		!strings.Contains(adminLines[0], "on request by alice") || !strings.Contains(adminLines[0], `"quota raised"`) {
		t.Errorf("echo's service.log admin lines: %q", adminLines)
	}
}

// TestAdminRetry: a tool held by backoff, retried, is restarted by the
// next cycle once (counted as an attempt); a retry of a tool whose
// manifest is refused is not carried out, and says so.
func TestAdminRetry(t *testing.T) {
	r := newRig(t)
	d := r.startDaemon("--interval", "2s", "--backoff-initial", "10m", "--backoff-max", "10m")
	held := d.waitLine("echo held by backoff", func(l logLine) bool {
		return l.str("tool") == "echo" && l.str("code") == "backoff"
	})
	d.waitCycles(held + 1)

	id, _ := r.admin("alice", "retry", "--reason", "quota raised", "echo")
	k := d.actedOn(id)
	cs := d.waitCycles(k + 3)
	if got := restartedIn(cs[k]); !slices.Equal(got, []string{"echo"}) {
		t.Errorf("the cycle that saw the retry restarted %v, want echo", got)
	}
	if l := decisionIn(cs[k], "echo"); l == nil || !strings.Contains(l.str("message"), "restart asked by alice") {
		t.Errorf("echo's log line in that cycle: %v", l)
	}
	for _, c := range cs[k+1:] {
		if got := restartedIn(c); len(got) > 0 {
			t.Errorf("a cycle after the retry restarted %v, want nothing (echo back in backoff)", got)
		}
	}
	if n := r.restarts()["echo"]; n != 2 {
		t.Errorf("echo restarted %d times, want 2 (one retried)", n)
	}
	if s := r.status("echo"); len(s.Tools[0].Attempts) != 2 {
		t.Errorf("echo's attempts after the retry: %+v", s.Tools[0].Attempts)
	}

	id, _ = r.admin("alice", "retry", "--reason", "manifest fixed?", "hotel")
	d.waitCycles(d.actedOn(id) + 1)
	a, _ := r.audit()
	action, _, _ := a.tool(t, "hotel")
	if reason := reasonOf(t, a, "hotel"); action != "skip" || !strings.Contains(reason, "restart asked by alice") || !strings.Contains(reason, "not carried out") {
		t.Errorf("hotel after its retry: %s: %s", action, reason)
	}
}

// TestAdminRetryWithARefusedTool: one retry naming a backed-off tool and a
// tool whose manifest is refused restarts the first once, not every cycle:
// the refused tool keeps the retry open, which must not let the other
// through its backoff and budget again and again.
func TestAdminRetryWithARefusedTool(t *testing.T) {
	r := newRig(t)
	d := r.startDaemon("--interval", "2s", "--backoff-initial", "10m", "--backoff-max", "10m")
	held := d.waitLine("echo held by backoff", func(l logLine) bool {
		return l.str("tool") == "echo" && l.str("code") == "backoff"
	})
	d.waitCycles(held + 1)

	id, _ := r.admin("alice", "retry", "--reason", "quota raised", "echo", "hotel")
	k := d.actedOn(id)
	d.waitCycles(k + 4)
	if n := r.restarts()["echo"]; n != 2 {
		t.Errorf("echo restarted %d times after one retry naming it (with hotel), want 2: the retry restarts it every cycle while it stays open", n)
	}
}

// TestAdminValveRelease: a tripped valve restarts nothing; released with
// --at-most 1, the next cycles restart one tool each until the valve holds
// nothing (what is left is within its limit of 1, and restarted as usual),
// and the release ends so.
func TestAdminValveRelease(t *testing.T) {
	r := newRig(t)
	d := r.startDaemon("--interval", "2s", "--valve-min", "1", "--valve-fraction", "0", "--backoff-initial", "10m", "--backoff-max", "10m")
	cs := d.waitCycles(2)
	for i, c := range cs {
		if got := restartedIn(c); len(got) > 0 || !slices.ContainsFunc(c, func(l logLine) bool { return strings.HasPrefix(l.str("message"), "safety valve: 5 of ") }) {
			t.Errorf("cycle %d with the valve tripped: restarted %v", i, got)
		}
	}
	if n := r.restarts(); len(n) > 0 {
		t.Fatalf("restarted with the valve tripped: %v", n)
	}

	id, _ := r.admin("alice", "valve", "release", "--at-most", "1", "--reason", "outage over")
	k := d.actedOn(id)
	end := d.waitLine("the release's end", func(l logLine) bool {
		return l.num("action") == id && releaseEnded(strings.TrimPrefix(l.str("message"), "admin action ended: "))
	})
	cs = d.waitCycles(end + 1)
	var order []string
	for i, c := range cs[k : end+1] {
		got := restartedIn(c)
		if len(got) > 1 || c[len(c)-1].num("restart") > 1 {
			t.Errorf("cycle %d after the release restarted %v", k+i, got)
		}
		order = append(order, got...)
	}
	slices.Sort(order)
	if want := []string{"bravo", "charlie", "delta", "echo", "juliet"}; !slices.Equal(order, want) {
		t.Errorf("restarted after the release: %v, want %v", order, want)
	}
	for tool, n := range r.restarts() {
		if n != 1 {
			t.Errorf("%s restarted %d times, want 1", tool, n)
		}
	}
	s := r.status("alpha")
	if !slices.ContainsFunc(s.Tools[0].Actions, func(a adminActionJSON) bool {
		return a.ID == id && a.Kind == "valve-release" && a.Who == "alice" && a.Reason == "outage over" && releaseEnded(a.EndedBecause)
	}) {
		t.Errorf("status: the valve release: %+v", s.Tools[0].Actions)
	}
}

// TestAdminReloadOnHangup: SIGHUP puts a valid configuration in place
// (the next restart counts against its budget), refuses an invalid one
// (logged, exported, the old one kept, the daemon cycling on).
func TestAdminReloadOnHangup(t *testing.T) {
	r := newRig(t)
	port := freePort(t)
	// The interval comes from the file (2s): a flag would win over it.
	d := r.startDaemon("--listen", "127.0.0.1:"+port)
	waitFor(t, "the first restarts", func() bool { return r.restarts()["juliet"] == 1 })
	r.waitUp("alpha", "bravo")
	good, err := os.ReadFile(r.world.ConfigFile)
	if err != nil {
		t.Fatal(err)
	}

	d.reload(t, r, string(good)+"restart-budget: 7\n", "SIGHUP: the new configuration is in use from the next cycle", 1)
	r.kill("alpha")
	restarted := d.waitLine("alpha restarted", func(l logLine) bool { return l.str("tool") == "alpha" && l.str("action") == "restart" })
	if l := decisionIn(d.cycles()[restarted], "alpha"); !strings.Contains(l.str("message"), "restart 1 of 7 in ") {
		t.Errorf("alpha's restart after the reload: %q, want it to count against a budget of 7", l.str("message"))
	}

	bad := strings.Replace(string(good), "\ninterval: 2s\n", "\ninterval: soon\n", 1) + "restart-budget: 9\n"
	d.reload(t, r, bad, "SIGHUP: the new configuration is refused; the old one stays in use", 0)
	d.waitMore(2)
	r.kill("bravo")
	restarted = d.waitLine("bravo restarted", func(l logLine) bool {
		return l.str("tool") == "bravo" && l.str("action") == "restart" && !strings.Contains(l.str("message"), "restart 1 of")
	})
	if l := decisionIn(d.cycles()[restarted], "bravo"); !strings.Contains(l.str("message"), "restart 2 of 7 in ") {
		t.Errorf("bravo's restart after a refused reload: %q, want the budget of 7 still", l.str("message"))
	}

	d.reload(t, r, string(good), "SIGHUP: the new configuration is in use from the next cycle", 1)
	d.waitMore(1)
}

// reload writes the configuration, sends SIGHUP, waits for one more log
// line saying want, and checks the reload metric.
func (d *runningDaemon) reload(t *testing.T, r *rig, config, want string, metric int) {
	t.Helper()
	if err := os.WriteFile(r.world.ConfigFile, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	count := func() int { return strings.Count(d.log.String(), want) }
	before := count()
	if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, want, func() bool { d.alive(); return count() > before })
	port := strings.TrimPrefix(d.cmd.Args[slices.Index(d.cmd.Args, "--listen")+1], "127.0.0.1:")
	if got := scrape(t, port, "webservicemonitor_config_last_reload_successful"); got != strconv.Itoa(metric) {
		t.Errorf("after %q: webservicemonitor_config_last_reload_successful %s, want %d", want, got, metric)
	}
}

// freePort is a loopback port free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// scrape is the value of an unlabelled metric the daemon on port serves.
func scrape(t *testing.T, port, name string) string {
	t.Helper()
	var value string
	waitFor(t, "the metrics listener", func() bool {
		resp, err := http.Get("http://127.0.0.1:" + port + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		value = metricValue(resp.Body, name)
		return true
	})
	return value
}

func metricValue(body io.Reader, name string) string {
	sc := bufio.NewScanner(body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			return v
		}
	}
	return ""
}

// TestAdminStateLocked: an admin command finding the state file locked
// longer than state-lock-wait exits 3 and names the holder's PID.
func TestAdminStateLocked(t *testing.T) {
	r := newRig(t)
	if _, stderr, code := r.run("--once"); code != 1 {
		t.Fatalf("--once: exit %d\n%s", code, stderr)
	}
	store, err := state.Open(filepath.Join(r.world.Dir, "state.db"), state.Options{LockTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	holder := fmt.Sprintf("locked by PID %d", os.Getpid())
	tests := [][]string{
		{"pause", "--reason", "maintenance", "--for", "1h"},
		{"resume"},
		{"forget", "echo"},
		{"retry", "echo"},
		{"valve", "release", "--at-most", "1"},
		{"status"},
	}
	for _, args := range tests {
		t.Run(args[0], func(t *testing.T) {
			stdout, stderr, code := r.runAs("alice", append(args, "--state-lock-wait", "1s")...)
			if code != 3 || !strings.Contains(stderr, holder) {
				t.Errorf("exit %d, stderr %q; want 3 and %q\nstdout: %s", code, stderr, holder, stdout)
			}
		})
	}
}

// TestAdminCommandLineRefusals: an admin command that cannot be carried
// out as asked is refused with exit 2 and a one-line reason, and records
// nothing.
func TestAdminCommandLineRefusals(t *testing.T) {
	r := newRig(t)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"pause without an end", []string{"pause", "--reason", "maintenance"}, "--for"},
		{"pause without a reason", []string{"pause", "--for", "1h"}, "--reason"},
		{"pause longer than pause-max", []string{"pause", "--reason", "maintenance", "--for", "25h"}, "pause-max"},
		{"pause of no time", []string{"pause", "--reason", "maintenance", "--for", "0s"}, "--for"},
		{"forget of nobody", []string{"forget"}, "argument 'tool'"},
		{"forget of a path", []string{"forget", "../etc"}, `"../etc" is not a tool name`},
		{"retry of nobody", []string{"retry"}, "argument 'tool'"},
		{"valve release of none", []string{"valve", "release", "--at-most", "0"}, "at-most"},
		{"valve release without a bound", []string{"valve", "release"}, "at-most"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := r.runAs("alice", tt.args...)
			if code != 2 || !strings.Contains(stderr, tt.want) || strings.Contains(stdout, "recorded") {
				t.Errorf("exit %d, stderr %q, stdout %q; want 2 and %q", code, stderr, stdout, tt.want)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(r.world.Dir, "state.db")); !os.IsNotExist(err) {
		t.Errorf("a refused command created the state file: %v", err)
	}
}

// releaseEnded reports whether why is how a valve release ends: no tool
// wants a restart, or the valve no longer holds any.
func releaseEnded(why string) bool {
	return why == "no tool wants a restart" || strings.HasPrefix(why, "the valve no longer holds restarts")
}
