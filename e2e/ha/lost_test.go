//go:build e2e

package ha

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"webservicemonitor/e2e/internal/rig"
)

// TestHistoryGone: the history in etcd deleted under the daemons (an
// operator's mistake, a cluster rebuilt empty) is not taken for a new one,
// which would give every tool a fresh budget: the hosts that saw it
// restart nothing and report the state source failing, saying the history
// is gone; an export restored with state import --replace (daemons
// stopped) brings it back, budgets included.
func TestHistoryGone(t *testing.T) {
	f := newFleet(t, fleetOptions{hosts: []string{"cron-a", "cron-b"}})
	leader := f.waitLeader(60 * time.Second)
	rig.WaitFor(t, 90*time.Second, "echo's 3 restarts (its budget)", func() (bool, string) {
		n := perTool(f.events())
		return n["echo"] >= demoBudget, fmt.Sprint(n)
	})
	for _, h := range f.hosts { // each host has read (and marked) the history since
		waitUntilCycles(t, h, h.logCount("cycle finished")+2)
	}
	saved := filepath.Join(t.TempDir(), "history.json")
	if out, err := f.admin(leader, "state", "export", "--output", saved); err != nil {
		t.Fatalf("state export: %v: %s", err, out)
	}

	wipe(t, f)
	before := len(f.events())
	f.takeDown("alpha")
	for _, h := range f.hosts {
		rig.WaitFor(t, 60*time.Second, h.name+" refusing the history that is gone", func() (bool, string) {
			return h.logHas("restart history lost: the history in etcd at " + f.prefix + " is gone"), ""
		})
	}
	waitUntilCycles(t, leader, leader.logCount("cycle finished")+3)
	if evs := f.events()[before:]; len(evs) > 0 {
		t.Fatalf("restarts after the history was wiped: %+v", evs)
	}
	if v, ok := leader.metric("webservicemonitor_source_consecutive_failures", `source="state"`); !ok || v < 3 {
		t.Errorf("leader's state source consecutive failures %v (read %v), want at least 3", v, ok)
	}
	t.Logf("%s: %s", leader.name, leader.logLine("is gone"))
	audit, err := f.admin(f.others(leader)[0], "--dry-run")
	if code := exitCode(err); code != 2 || !strings.Contains(audit, "is gone") {
		t.Errorf("--dry-run on a standby after the wipe: exit %d, want 2 saying the history is gone:\n%s", code, audit)
	}
	check, err := f.admin(leader, "check-config")
	if code := exitCode(err); code != 3 || !strings.Contains(check, "is gone") {
		t.Errorf("check-config after the wipe: exit %d, want 3 saying the history is gone (the unit's ExecStartPre):\n%s", code, check)
	}

	for _, h := range f.hosts {
		h.proc.Kill(syscall.SIGTERM)
	}
	if out, err := f.admin(leader, "state", "import", "--replace", saved); err != nil {
		t.Fatalf("state import --replace: %v: %s", err, out)
	}
	for _, h := range f.hosts {
		f.start(h)
	}
	rig.WaitFor(t, 60*time.Second, "alpha restarted once the history is back", func() (bool, string) {
		n := perTool(f.events()[before:])
		return n["alpha"] >= 1, fmt.Sprint(n)
	})
	if n := perTool(f.events()); n["echo"] != demoBudget {
		t.Errorf("echo restarted %d times in all, its budget %d: the restored history did not hold it", n["echo"], demoBudget)
	}
}

// wipe deletes the fleet's history in etcd, the election aside.
func wipe(t *testing.T, f *fleet) {
	t.Helper()
	cli := client(t, f.cluster.Endpoints(), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, under := range []string{"tools/", "actions", "alerts/", "meta/"} {
		if _, err := cli.Delete(ctx, f.prefix+under, clientv3.WithPrefix()); err != nil {
			t.Fatalf("deleting %s%s: %v", f.prefix, under, err)
		}
	}
}

// exitCode is a command's exit status from its error (0: none).
func exitCode(err error) int {
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}
