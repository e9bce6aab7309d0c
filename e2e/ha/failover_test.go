//go:build e2e

package ha

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"webservicemonitor/e2e/internal/rig"
	"webservicemonitor/state"
)

// takeoverSlack is what a loaded machine may add to a takeover's bound of
// leader-ttl + one interval: a campaign, a cycle, a process scheduled late.
const takeoverSlack = 30 * time.Second

// TestKillLeaderMidBudget kills the acting daemon (SIGKILL) once the
// demo's broken tool (echo, whose every restart fails) has used 2 of its 3
// restarts: the other host acts within leader-ttl + interval (+ slack),
// and echo gets at most one more restart across both hosts, in the
// recorder's log and in etcd's history alike.
func TestKillLeaderMidBudget(t *testing.T) {
	f := newFleet(t, fleetOptions{hosts: []string{"cron-a", "cron-b"}})
	var second recEvent
	waitEvents(t, f, 120*time.Second, "echo's 2nd restart", func(evs []recEvent) bool {
		s := starts(evs, func(e recEvent) bool { return e.tool == "echo" })
		if len(s) >= 2 {
			second = s[1]
		}
		return len(s) >= 2
	})
	leader := f.host(second.host)
	standby := f.others(leader)[0]
	killedAt := time.Now()
	leader.kill()
	f.takeDown("alpha") // something for the next leader to act on
	var acted time.Duration
	waitEvents(t, f, ttl+demoInterval+takeoverSlack, standby.name+" acting", func(evs []recEvent) bool {
		s := starts(evs, func(e recEvent) bool { return e.host == standby.name && e.at.After(killedAt) })
		if len(s) > 0 {
			acted = s[0].at.Sub(killedAt)
		}
		return len(s) > 0
	})
	t.Logf("%s killed with echo at 2 restarts; %s acted %s later (bound leader-ttl %s + interval %s)", leader.name, standby.name, acted.Round(time.Millisecond), ttl, demoInterval)
	f.waitGaugeOf(standby, 1, takeoverSlack)

	// echo's budget is spent once etcd holds 3 attempts; then 3 more
	// cycles, past any backoff, in which nothing more may start.
	var echo []state.Attempt
	waitHistory(t, f, 90*time.Second, "echo's 3rd attempt in etcd", func(d state.Dump) bool {
		echo = attempts(d, "echo")
		return len(echo) >= demoBudget
	})
	time.Sleep(3*demoInterval + 8*time.Second)
	evs := f.events()
	after := starts(evs, func(e recEvent) bool { return e.tool == "echo" && e.at.After(killedAt) })
	echo = attempts(f.mustHistory(), "echo")
	t.Logf("echo: %d recorder starts in all (%d after the kill), %d attempts in etcd: %s", perTool(evs)["echo"], len(after), len(echo), describeAttempts(echo))
	if len(after) > 1 || perTool(evs)["echo"] > demoBudget {
		t.Errorf("echo got %d more restarts after the kill (at most 1), %d in all (budget %d)", len(after), perTool(evs)["echo"], demoBudget)
	}
	if n := counted(echo); n > demoBudget || n < perTool(evs)["echo"] {
		t.Errorf("etcd holds %d counted attempts of echo, recorder %d starts: want recorder <= etcd <= %d", n, perTool(evs)["echo"], demoBudget)
	}
	if s := starts(evs, func(e recEvent) bool { return e.host == leader.name && e.at.After(killedAt) }); len(s) > 0 {
		t.Errorf("the killed host %s started %v after its kill", leader.name, s)
	}
}

// TestPausedLeader freezes the acting daemon (SIGSTOP) past its lease,
// lets the other take over, then wakes it (SIGCONT) with a tool down: the
// old leader starts nothing and records nothing after the freeze, says it
// lost the leadership, and its leader gauge reads 0.
func TestPausedLeader(t *testing.T) {
	f := newFleet(t, fleetOptions{hosts: []string{"cron-a", "cron-b"}})
	old := f.waitLeader(60 * time.Second)
	waitEvents(t, f, 60*time.Second, "bravo restarted", func(evs []recEvent) bool {
		return len(starts(evs, func(e recEvent) bool { return e.tool == "bravo" })) > 0
	})
	if old.logHas("lost the leadership") {
		t.Fatalf("%s lost the leadership before the freeze", old.name)
	}
	standby := f.others(old)[0]
	old.proc.Signal(syscall.SIGSTOP)
	f.stopped(old)
	stoppedAt := time.Now()
	f.takeDown("alpha")
	f.waitGaugeOf(standby, 1, ttl+demoInterval+takeoverSlack)
	t.Logf("%s took over %s after %s froze", standby.name, time.Since(stoppedAt).Round(time.Millisecond), old.name)
	waitEvents(t, f, 60*time.Second, standby.name+" restarting alpha", func(evs []recEvent) bool {
		return len(starts(evs, func(e recEvent) bool { return e.host == standby.name && e.tool == "alpha" })) > 0
	})
	f.takeDown("delta") // down when the old leader wakes: a temptation
	old.proc.Signal(syscall.SIGCONT)
	wokeAt := time.Now()
	f.waitGaugeOf(old, 0, 30*time.Second)
	waitEvents(t, f, 30*time.Second, "a logged loss of the leadership", func([]recEvent) bool { return old.logHas("lost the leadership") })
	t.Logf("%s frozen at %s, woken at %s, then logged: %s", old.name, stoppedAt.UTC().Format("15:04:05.000"), wokeAt.UTC().Format("15:04:05.000"), old.logLine("lost the leadership"))
	time.Sleep(3*demoInterval + time.Second)
	if g := old.gauge(); g != 0 {
		t.Errorf("%s's leader gauge %d %s after it woke, want 0", old.name, g, time.Since(wokeAt).Round(time.Second))
	}
	if lost, _ := old.metric("webservicemonitor_leader_changes_total", `change="lost"`); lost < 1 {
		t.Errorf("%s's webservicemonitor_leader_changes_total{change=\"lost\"} reads %v after it woke, want at least 1", old.name, lost)
	}
	evs := f.events()
	if s := starts(evs, func(e recEvent) bool { return e.host == old.name && e.at.After(stoppedAt) }); len(s) > 0 {
		t.Errorf("the frozen leader %s started %v after its freeze", old.name, s)
	}
	for _, r := range f.mustHistory().Records {
		for _, a := range r.Record.Attempts {
			if a.Host == old.name && a.At.After(stoppedAt) {
				t.Errorf("etcd holds %s's attempt of %s at %s, after its freeze at %s", old.name, r.Tool, a.At, stoppedAt)
			}
		}
	}
	waitEvents(t, f, 60*time.Second, standby.name+" restarting delta", func(evs []recEvent) bool {
		return len(starts(evs, func(e recEvent) bool { return e.host == standby.name && e.tool == "delta" })) > 0
	})
}

// waitEvents waits until cond holds of the recorder's log.
func waitEvents(t *testing.T, f *fleet, timeout time.Duration, what string, cond func([]recEvent) bool) {
	t.Helper()
	rig.WaitFor(t, timeout, what, func() (bool, string) {
		evs := f.events()
		return cond(evs), fmt.Sprint(perTool(evs))
	})
}

// waitHistory waits until cond holds of etcd's history.
func waitHistory(t *testing.T, f *fleet, timeout time.Duration, what string, cond func(state.Dump) bool) {
	t.Helper()
	rig.WaitFor(t, timeout, what, func() (bool, string) {
		d, err := f.history()
		if err != nil {
			return false, err.Error()
		}
		return cond(d), fmt.Sprintf("%d tools", len(d.Records))
	})
}

// counted is how many attempts count against the budget.
func counted(as []state.Attempt) int {
	n := 0
	for _, a := range as {
		if !a.Forgiven {
			n++
		}
	}
	return n
}

func describeAttempts(as []state.Attempt) string {
	var parts []string
	for _, a := range as {
		parts = append(parts, fmt.Sprintf("%s by %s %s", a.At.Format("15:04:05.000"), a.Host, a.Outcome))
	}
	return strings.Join(parts, ", ")
}
