//go:build e2e

package ha

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"webservicemonitor/internal/demo"
	"webservicemonitor/state"
)

// The soak's pacing: a short budget window, so that tools are restarted
// again and again in a few minutes; a first backoff longer than one
// interval plus a restart, so that a single host never restarts a tool
// within one interval of its last restart's end either (the interleaving
// check holds the hosts to that).
const (
	soakWindow  = 30 * time.Second
	soakBackoff = 3 * demoInterval
)

// soakTools are the tools the soak takes down (echo's restarts fail by
// themselves).
var soakTools = []string{"alpha", "bravo", "charlie", "delta", "juliet"}

// TestSoak kills the acting daemon (SIGKILL) at random moments,
// WSM_HA_SOAK_KILLS times (default 30), starting it again each time with
// the same flags, while tools go down and are restarted by a recorder
// slow enough that kills often land mid-restart. After each kill: the
// history in etcd opens, no attempt seen before has disappeared, no tool
// had more than its budget in any window (etcd's attempts and the
// recorder's starts), and no host started a tool while another host's
// restart of it ran or less than one interval after it ended.
func TestSoak(t *testing.T) {
	kills := 30
	if v := os.Getenv("WSM_HA_SOAK_KILLS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			t.Fatalf("WSM_HA_SOAK_KILLS=%q: want a count", v)
		}
		kills = n
	}
	f := newFleet(t, fleetOptions{hosts: []string{"cron-a", "cron-b", "cron-c"}, slow: time.Second,
		flags: []string{"--restart-window", soakWindow.String(), "--backoff-initial", soakBackoff.String(),
			"--backoff-max", (2 * soakBackoff).String(), "--history-retention", "2h"}})
	f.waitLeader(60 * time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	chaos := make(chan struct{})
	go func() { defer close(chaos); f.takeToolsDown(ctx) }()
	defer func() { cancel(); <-chaos }()

	s := &soak{f: f, seen: map[string]bool{}}
	for i := range kills {
		s.killOnce(i)
		if s.check(fmt.Sprintf("after kill %d", i+1)) {
			break
		}
	}
	cancel()
	<-chaos
	time.Sleep(soakBackoff) // every restart running ends, its end line written
	s.check("at the end")
	s.report()
}

// soak is the soak's bookkeeping.
type soak struct {
	f          *fleet
	seen       map[string]bool // every attempt seen in etcd: tool, time, host
	failovers  []time.Duration
	midRestart int // kills that landed while the killed host's restart ran
}

// killOnce waits a random moment, kills the current leader, starts it
// again and waits until a host leads.
func (s *soak) killOnce(i int) {
	f := s.f
	f.t.Helper()
	time.Sleep(rand.N(2 * demoInterval))
	leader := f.waitLeader(ttl + demoInterval + takeoverSlack)
	killedAt := time.Now()
	leader.kill()
	if running(f.events(), leader.name, killedAt) {
		s.midRestart++
	}
	f.launch(leader)
	var took time.Duration
	// Every host is polled, the one starting again too.
	deadline := killedAt.Add(ttl + demoInterval + takeoverSlack)
	for took == 0 {
		if l := f.leaders(); len(l) > 0 {
			took = time.Since(killedAt)
			break
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("kill %d: no host leads %s after %s was killed", i+1, time.Since(killedAt).Round(time.Millisecond), leader.name)
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.failovers = append(s.failovers, took)
	f.serving(leader) // before the next kill
}

// running says whether host had a restart running at t: a start before t
// without its end line by then.
func running(evs []recEvent, host string, at time.Time) bool {
	open := map[string]int{}
	for _, e := range evs {
		if e.host != host || e.at.After(at) {
			continue
		}
		if e.end {
			open[e.tool]--
		} else {
			open[e.tool]++
		}
	}
	for _, n := range open {
		if n > 0 {
			return true
		}
	}
	return false
}

// check applies the soak's invariants; true when one was broken.
func (s *soak) check(when string) bool {
	f := s.f
	f.t.Helper()
	d, err := f.history()
	if err != nil {
		f.t.Errorf("%s: the history in etcd does not open: %v", when, err)
		return true
	}
	var broken []string
	now := map[string]bool{}
	byTool := map[string][]time.Time{}
	for _, r := range d.Records {
		for _, a := range r.Record.Attempts {
			now[attemptKey(r.Tool, a)] = true
			if !a.Forgiven {
				byTool[r.Tool] = append(byTool[r.Tool], a.At)
			}
		}
	}
	for k := range s.seen {
		if !now[k] {
			broken = append(broken, "attempt disappeared from etcd: "+k)
		}
	}
	for k := range now {
		s.seen[k] = true
	}
	for tool, times := range byTool {
		broken = append(broken, overBudget("etcd "+tool, times, demoBudget, soakWindow)...)
	}
	evs := f.events()
	recorded := map[string][]time.Time{}
	for _, e := range starts(evs, func(recEvent) bool { return true }) {
		recorded[e.tool] = append(recorded[e.tool], e.at)
	}
	for tool, times := range recorded {
		// A start is stamped after its attempt was written: a second of
		// scheduling may separate two starts more narrowly than their attempts.
		broken = append(broken, overBudget("recorder "+tool, times, demoBudget, soakWindow-time.Second)...)
	}
	broken = append(broken, interleaved(evs, demoInterval)...)
	for _, b := range broken {
		f.t.Errorf("%s: %s", when, b)
	}
	return len(broken) > 0
}

func attemptKey(tool string, a state.Attempt) string {
	return fmt.Sprintf("%s %s %s", tool, a.At.Format(time.RFC3339Nano), a.Host)
}

// report logs the soak's figures.
func (s *soak) report() {
	f := s.f
	evs := f.events()
	byHost := map[string]int{}
	for _, e := range starts(evs, func(recEvent) bool { return true }) {
		byHost[e.host]++
	}
	ft := slices.Clone(s.failovers)
	slices.Sort(ft)
	if len(ft) == 0 {
		return
	}
	f.t.Logf("soak: %d kills (%d mid-restart); failover min %s median %s max %s; %d restarts %v by host %v",
		len(ft), s.midRestart, ft[0].Round(time.Millisecond), ft[len(ft)/2].Round(time.Millisecond), ft[len(ft)-1].Round(time.Millisecond),
		len(starts(evs, func(recEvent) bool { return true })), perTool(evs), byHost)
}

// takeToolsDown takes a tool down every interval until ctx is done: one
// of soakTools that is up and whose last restart is more than three
// intervals old (a restart of a tool just restarted is not what the
// interleaving check is about: any single host does that).
func (f *fleet) takeToolsDown(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(demoInterval):
		}
		evs, err := readEvents(f.recorder) // not the test's goroutine: no Fatal
		if err != nil {
			continue
		}
		last := map[string]time.Time{}
		for _, e := range evs {
			last[e.tool] = e.at
		}
		var idle []string
		for _, tool := range soakTools {
			if time.Since(last[tool]) > 3*demoInterval {
				idle = append(idle, tool)
			}
		}
		if len(idle) == 0 {
			continue
		}
		tool := idle[rand.N(len(idle))]
		_ = f.world.Grid.Update(func(g *demo.Grid) error {
			g.Jobs = slices.DeleteFunc(g.Jobs, func(j demo.Job) bool {
				return j.Owner == "tools."+tool && strings.HasSuffix(j.Name, "-"+tool)
			})
			return nil
		})
	}
}
