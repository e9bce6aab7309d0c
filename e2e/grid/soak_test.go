//go:build e2e

package grid

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"webservicemonitor/state"
)

// TestSoakKill9 runs the daemon's acting cycles against the real cell and
// kills it with SIGKILL at random moments, over and over. After every kill
// the state file must open, no tool's history may lose an attempt, and
// throttling must hold: never more restarts in a window than the budget,
// counted both in the state file and in what the webservice actually ran.
//
// WSM_GRID_SOAK_KILLS (default 60, at least 50 count as a pass) and
// WSM_GRID_SOAK_TIME (default 4m) bound it.
func TestSoakKill9(t *testing.T) {
	kills := envInt("WSM_GRID_SOAK_KILLS", 60)
	limit, err := time.ParseDuration(envOr("WSM_GRID_SOAK_TIME", "4m"))
	must(t, err)
	w := newWorld(t)
	const (
		budget = 3
		window = 20 * time.Second
		// An attempt is stamped with its cycle's start; the webservice runs
		// after the sources are collected (a few hundred ms), so spans
		// between invocations may be shorter than the window by that much.
		// restart-parallel above the number of failing tools keeps restarts
		// from queueing for a slot, which would add to it.
		slack    = time.Second
		parallel = 8
	)
	w.startTools("alpha", "bravo")
	for _, tool := range []string{"charlie", "delta", "echo", "foxtrot", "golf"} {
		w.manifest(tool, "lighttpd")
	}
	w.setMode("charlie", "fail") // qsub refuses: every restart fails
	w.setMode("delta", "fail")
	w.setMode("echo", "crash") // restarts succeed, the job dies two seconds later
	w.setMode("foxtrot", "crash")
	args := []string{"--interval", "1s", "--restart-budget", strconv.Itoa(budget), "--restart-window", window.String(),
		"--backoff-initial", "1s", "--backoff-max", "4s", "--registration-grace", "5s", "--restart-parallel", strconv.Itoa(parallel)}

	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 0))
	t.Logf("soak: seed %d, up to %d kills within %s", seed, kills, limit)

	prev := map[string][]time.Time{}
	var violations, cycles, killed, opened, inFlight, maxLeak int
	lastLeak := 0 // attempts recorded minus restarts the webservice started, at the last check
	violate := func(format string, a ...any) {
		violations++
		t.Errorf(format, a...)
	}
	// check opens the state file after a kill (or at the end) and holds it
	// to the invariants.
	check := func(when string) {
		st, err := state.Open(w.state, state.Options{ReadOnly: true, LockTimeout: 5 * time.Second})
		if errors.Is(err, fs.ErrNotExist) && len(prev) == 0 {
			return // killed before its first commit
		}
		if err != nil {
			violate("%s: the state file does not open: %v", when, err)
			return
		}
		hist, err := st.Histories()
		st.Close()
		if err != nil {
			violate("%s: reading the state file: %v", when, err)
			return
		}
		opened++
		for _, th := range hist {
			tool, rec := th.Tool, th.Record
			var at []time.Time
			for _, a := range rec.Attempts {
				at = append(at, a.At)
			}
			// The history never goes backwards: what was there is still there.
			if len(at) < len(prev[tool]) {
				violate("%s: %s has %d attempts, had %d", when, tool, len(at), len(prev[tool]))
			} else {
				for i, p := range prev[tool] {
					if !at[i].Equal(p) {
						violate("%s: %s's attempt %d changed from %s to %s", when, tool, i, p, at[i])
					}
				}
			}
			prev[tool] = at
			if n, from := maxInWindow(at, window); n > budget {
				violate("%s: %s has %d attempts within %s from %s (budget %d)", when, tool, n, window, from.Format(time.TimeOnly), budget)
			}
		}
		// Charge only what ran: an attempt is written just before its
		// command starts, so a kill can leave at most the restarts then
		// starting charged without a run.
		leak := 0
		for tool, at := range prev {
			leak += len(at) - len(w.restarts()[tool])
		}
		if leak-lastLeak > parallel {
			violate("%s: %d more attempts recorded than restarts started since the last check (restart-parallel %d)", when, leak-lastLeak, parallel)
		}
		maxLeak, lastLeak = max(maxLeak, leak-lastLeak), leak
	}
	began := time.Now()
	for killed < kills && time.Since(began) < limit {
		d := w.startDaemon(args...)
		if killed%2 == 0 {
			time.Sleep(time.Duration(200+rng.IntN(2300)) * time.Millisecond)
		} else {
			// Every other kill aims at the most delicate moment: a restart
			// running, its attempt recorded, its outcome not yet.
			for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline) && !restartsRunningUnder(d.cmd.Process.Pid); {
				time.Sleep(20 * time.Millisecond)
			}
			time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond)
		}
		if restartsRunningUnder(d.cmd.Process.Pid) {
			inFlight++ // the kill lands mid-restart
		}
		if err := d.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatalf("kill -9: %v", err)
		}
		<-d.done
		killed++
		cycles += len(d.cycles())
		os.Remove(d.log)

		check(fmt.Sprintf("kill %d", killed))
	}
	d := w.startDaemon(args...)
	d.waitCycles(1, 30*time.Second)
	d.stop()
	cycles += len(d.cycles())
	// Restarts in flight at a kill finish on their own; let them.
	w.eventually(60*time.Second, "no restart command running", func() (bool, string) {
		left := processes(-1, w.confPath+" --backend=gridengine")
		return len(left) == 0, fmt.Sprint(left)
	})
	check("at the end")

	restarts := w.restarts()
	total, maxAttempts, maxRuns := 0, 0, 0
	var tools []string
	for tool := range prev {
		tools = append(tools, tool)
	}
	sort.Strings(tools)
	for _, tool := range tools {
		var at []time.Time
		for _, inv := range restarts[tool] {
			at = append(at, inv.At)
		}
		total += len(at)
		// What the grid saw: the webservice never ran more often than the budget in a window.
		if n, from := maxInWindow(at, window-slack); n > budget {
			violate("%s: the webservice ran %d restarts within %s from %s (budget %d)", tool, n, window-slack, from.Format(time.TimeOnly), budget)
		}
		// Every restart that ran was recorded first.
		if len(at) > len(prev[tool]) {
			violate("%s: %d restarts ran, %d attempts recorded", tool, len(at), len(prev[tool]))
		}
		n, _ := maxInWindow(prev[tool], window)
		maxAttempts = max(maxAttempts, n)
		m, _ := maxInWindow(at, window-slack)
		maxRuns = max(maxRuns, m)
		t.Logf("soak: %-8s %2d attempts recorded, %2d restarts run, at most %d attempts in a %s window", tool, len(prev[tool]), len(at), n, window)
	}
	for _, tool := range []string{"alpha", "bravo"} {
		if len(restarts[tool]) != 0 {
			violate("%s was up and got restarted %d times", tool, len(restarts[tool]))
		}
	}
	if len(restarts["charlie"]) < budget || len(restarts["echo"]) < budget {
		t.Errorf("the soak restarted too little to prove anything: %d and %d restarts", len(restarts["charlie"]), len(restarts["echo"]))
	}
	if killed < min(kills, 50) {
		t.Errorf("only %d kills within %s", killed, limit)
	}
	summary := fmt.Sprintf("soak: %d SIGKILLs in %s (seed %d; %d of them mid-restart), %d completed cycles, state file opened and checked %d times, %d restarts run, "+
		"at most %d attempts per tool in a %s window and %d restarts run in any %s (budget %d), at most %d attempts charged without a run at one kill, %d violations",
		killed, time.Since(began).Round(time.Second), seed, inFlight, cycles, opened, total, maxAttempts, window, maxRuns, window-slack, budget, maxLeak, violations)
	t.Log(summary)
	fmt.Println(summary)
}

// TestSIGTERMMidWaveChargesOnlyWhatRan stops the daemon one second into a
// wave of 8 restarts that run one at a time: the restart that ran is
// charged, the seven that never started are not, and their tools are told
// nothing.
func TestSIGTERMMidWaveChargesOnlyWhatRan(t *testing.T) {
	w := newWorld(t)
	tools := []string{"hotel", "india", "juliet", "kilo", "lima", "mike", "november", "oscar"}
	for _, tool := range tools {
		w.manifest(tool, "lighttpd")
		w.setMode(tool, "hang") // each restart takes until it is killed
	}
	d := w.startDaemon("--restart-parallel", "1", "--shutdown-grace", "2s")
	w.eventually(60*time.Second, "the first restart of the wave to start", func() (bool, string) {
		n := 0
		for _, inv := range w.restarts() {
			n += len(inv)
		}
		return n > 0, fmt.Sprintf("%d started", n)
	})
	time.Sleep(time.Second)
	d.stop()

	started, charged := 0, 0
	for _, tool := range tools {
		runs, attempts := len(w.restarts()[tool]), len(w.history(tool))
		started += runs
		charged += attempts
		if attempts != runs {
			t.Errorf("%s: %d attempts recorded, %d restarts started", tool, attempts, runs)
		}
		if runs == 0 {
			if log, err := os.ReadFile(filepath.Join(w.home(tool), "service.log")); err == nil && len(log) > 0 {
				t.Errorf("%s never restarted but its service.log says:\n%s", tool, log)
			}
		}
	}
	if started != 1 || charged != 1 {
		t.Errorf("%d restarts started and %d charged, want the one in flight at SIGTERM", started, charged)
	}
	w.eventually(60*time.Second, "no restart command running", func() (bool, string) {
		left := processes(-1, w.confPath+" --backend=gridengine")
		return len(left) == 0, fmt.Sprint(left)
	})
}

// maxInWindow returns the largest number of times (sorted) within any span
// shorter than window, and where that span starts.
func maxInWindow(times []time.Time, window time.Duration) (int, time.Time) {
	best, from := 0, time.Time{}
	j := 0
	for i := range times {
		for times[i].Sub(times[j]) >= window {
			j++
		}
		if n := i - j + 1; n > best {
			best, from = n, times[j]
		}
	}
	return best, from
}

// restartsRunningUnder reports whether the daemon with that pid has a
// restart command (runuser) running as its child.
func restartsRunningUnder(pid int) bool {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may hold spaces, so cut at the last ')'.
		i := strings.LastIndexByte(string(stat), ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(stat)[i+1:])
		if len(f) > 1 && f[1] == strconv.Itoa(pid) && strings.Contains(string(stat[:i]), "(runuser") {
			return true
		}
	}
	return false
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}
