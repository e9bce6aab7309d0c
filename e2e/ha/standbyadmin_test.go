//go:build e2e

package ha

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"webservicemonitor/e2e/internal/rig"
)

// TestAdminFromStandby runs the admin commands with a standby host's
// flags (its name, its own state file, the shared etcd prefix): a pause
// written there holds a tool the leader would otherwise restart, in the
// leader's next cycles; a resume from the other host lets it restart.
func TestAdminFromStandby(t *testing.T) {
	f := newFleet(t, fleetOptions{hosts: []string{"cron-a", "cron-b"}})
	leader := f.waitLeader(60 * time.Second)
	standby := f.others(leader)[0]
	waitEvents(t, f, 60*time.Second, "bravo restarted", func(evs []recEvent) bool {
		return len(starts(evs, func(e recEvent) bool { return e.tool == "bravo" })) > 0
	})

	out, err := f.admin(standby, "pause", "--reason", "e2e: maintenance of alpha", "--for", "1m", "alpha")
	if strings.Contains(out, "not available with etcd-endpoints") {
		t.Skipf("the admin commands do not write to etcd yet (cmd/webservicemonitor unshared): %s", out)
	}
	if err != nil {
		t.Fatalf("pause from %s: %v\n%s", standby.name, err, out)
	}
	t.Logf("pause from %s: %s", standby.name, strings.TrimSpace(out))
	paused := time.Now()
	// The second cycle the leader finishes from now read its history
	// after the pause was written: alpha goes down only then.
	cycles := leader.logCount("cycle finished")
	waitUntilCycles(t, leader, cycles+2)
	f.takeDown("alpha")
	// The leader's next cycles see alpha down and paused: four of them,
	// none may restart it.
	time.Sleep(4 * demoInterval)
	if s := starts(f.events(), func(e recEvent) bool { return e.tool == "alpha" && e.at.After(paused) }); len(s) > 0 {
		t.Fatalf("alpha restarted by %s while paused from %s", s[0].host, standby.name)
	}
	if g := leader.gauge(); g != 1 {
		t.Fatalf("%s no longer leads (gauge %d): the pause was not tested against its cycles", leader.name, g)
	}

	out, err = f.admin(leader, "resume", "--reason", "e2e: alpha's maintenance done", "alpha")
	if err != nil {
		t.Fatalf("resume from %s: %v\n%s", leader.name, err, out)
	}
	t.Logf("resume from %s: %s", leader.name, strings.TrimSpace(out))
	resumed := time.Now()
	waitEvents(t, f, 60*time.Second, "alpha restarted after the resume", func(evs []recEvent) bool {
		return len(starts(evs, func(e recEvent) bool { return e.tool == "alpha" && e.at.After(resumed) })) > 0
	})
	for _, e := range starts(f.events(), func(e recEvent) bool { return e.at.After(paused) }) {
		if e.host != leader.name {
			t.Errorf("%s restarted %s: only the leader %s acts", e.host, e.tool, leader.name)
		}
	}
}

// waitUntilCycles waits until h's log holds n finished cycles.
func waitUntilCycles(t *testing.T, h *fleetHost, n int) {
	t.Helper()
	rig.WaitFor(t, 60*time.Second, fmt.Sprintf("%s's cycle %d", h.name, n), func() (bool, string) {
		c := h.logCount("cycle finished")
		return c >= n, fmt.Sprintf("%d cycles", c)
	})
}
