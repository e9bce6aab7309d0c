//go:build e2e

package ha

import (
	"encoding/json"
	"errors"
	"fmt"
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

	shellquote "github.com/kballard/go-shellquote"

	"webservicemonitor/e2e/internal/rig"
	"webservicemonitor/internal/demo"
)

// host is one daemon of TestDaemons: its process, its metrics address.
type host struct {
	name, addr string
	proc       *rig.Proc
}

// TestDaemons runs two built daemons, as two hosts, against the 3-member
// cluster and the demo platform, with a restart command that records the
// host that ran it: exactly one host restarts anything; the demo's broken
// tool gets its budget of 3 and no more; when the acting daemon is killed
// (SIGKILL) the other takes over and restarts a tool that went down since.
func TestDaemons(t *testing.T) {
	cluster := rig.StartEtcdCluster(t, 3)
	root, world := demoPlatform(t)
	recorder := filepath.Join(t.TempDir(), "restarts")
	hosts := []*host{startHost(t, root, world, cluster, recorder, "cron-a"), startHost(t, root, world, cluster, recorder, "cron-b")}

	// The demo's broken tool (echo) is given up after its budget.
	rig.WaitFor(t, 90*time.Second, "echo's 3 restarts", func() (bool, string) {
		byHost := restarts(t, recorder)
		return byHost["echo"] >= 3, fmt.Sprint(byHost)
	})
	time.Sleep(6 * time.Second) // three more cycles: nothing more may run
	byHost := restarts(t, recorder)
	actors := actingHosts(t, recorder)
	if len(actors) != 1 || byHost["echo"] != 3 || byHost["bravo"] < 1 {
		t.Fatalf("restarts %v by hosts %v: want one host, echo 3 times, bravo restarted", byHost, actors)
	}
	t.Logf("restarts before the kill: %v, all by %v", byHost, actors)
	leader, standby := hosts[0], hosts[1]
	if actors[0] == standby.name {
		leader, standby = standby, leader
	}
	waitGauge(t, leader, 1)
	waitGauge(t, standby, 0)
	waitStandingBy(t, standby, leader.name)

	// alpha goes down with the leader: the standby restarts it on taking
	// over, within the lease (3 s) and one cycle.
	killed := time.Now()
	leader.proc.Kill(syscall.SIGKILL)
	if err := world.Grid.Update(func(g *demo.Grid) error {
		jobs := g.Jobs[:0]
		for _, j := range g.Jobs {
			if j.Owner != "tools.alpha" {
				jobs = append(jobs, j)
			}
		}
		g.Jobs = jobs
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	waitGauge(t, standby, 1)
	led := time.Since(killed)
	rig.WaitFor(t, 60*time.Second, "alpha restarted by "+standby.name, func() (bool, string) {
		return strings.Contains(readFile(t, recorder), standby.name+" alpha\n"), readFile(t, recorder)
	})
	t.Logf("takeover: %s leads %s after the SIGKILL, restarted alpha %s after it", standby.name,
		led.Round(100*time.Millisecond), time.Since(killed).Round(100*time.Millisecond))
	t.Logf("recorder after the takeover:\n%s", readFile(t, recorder))
	if got := restarts(t, recorder)["echo"]; got != 3 {
		t.Errorf("echo restarted %d times across both hosts, budget 3", got)
	}
	onceOnStandby(t, root, world, cluster, recorder)
	auditNamesLeader(t, root, world, cluster, recorder, standby.name)
}

// startHost runs one daemon with its own state file, name and listener; its
// restart command appends "<host> <tool>" to recorder, then restarts.
func startHost(t *testing.T, root string, world *demo.World, cluster *rig.EtcdCluster, recorder, name string, flags ...string) *host {
	t.Helper()
	h := &host{name: name, addr: rig.FreePort(t)}
	argv := append(hostArgv(t, root, world, cluster, recorder, name), "--listen", h.addr)
	h.proc = rig.Start(t, name, append(argv, flags...)...)
	rig.WaitFor(t, 30*time.Second, name+" serving /healthz", rig.Ready("http://"+h.addr+"/healthz"))
	return h
}

// hostArgv is the command line of host name: its own state file and a
// restart command that records it.
func hostArgv(t *testing.T, root string, world *demo.World, cluster *rig.EtcdCluster, recorder, name string) []string {
	t.Helper()
	dir := t.TempDir()
	script := filepath.Join(dir, "restart.sh")
	body := fmt.Sprintf("#!/bin/sh\necho \"%s $1\" >> %s\nshift\nexec %s \"$@\"\n",
		name, shellquote.Join(recorder), shellquote.Join(filepath.Join(root, "bin", "demogrid")))
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	restart := shellquote.Join(script, "{tool}", "webservice", "--grid", world.Grid.Dir,
		"--tool", "{tool}", "--web", "{web}", "--release", "{release}", "restart")
	return []string{filepath.Join(root, "bin", "webservicemonitor"),
		"--config", world.ConfigFile, "--log-format", "json",
		"--etcd-endpoints", strings.Join(cluster.Endpoints(), ","), "--etcd-prefix", "/wsm-e2e-" + t.Name() + "/",
		"--leader-ttl", "3s", "--host-name", name, "--state-file", filepath.Join(dir, "state.db"),
		"--restart-command", restart}
}

// auditNamesLeader runs --dry-run on a third host: it reads the history
// in etcd without campaigning and names the leader.
func auditNamesLeader(t *testing.T, root string, world *demo.World, cluster *rig.EtcdCluster, recorder, leader string) {
	t.Helper()
	argv := append(hostArgv(t, root, world, cluster, recorder, "cron-d"), "--dry-run", "--output", "json")
	out, err := exec.Command(argv[0], argv[1:]...).Output()
	var exit *exec.ExitError
	if err != nil && (!errors.As(err, &exit) || exit.ExitCode() > 1) {
		t.Fatalf("--dry-run: %v\n%s", err, out)
	}
	var audit struct {
		Leader *struct {
			Host string `json:"host"`
		} `json:"leader"`
		Sources map[string]struct {
			Status string `json:"status"`
		} `json:"sources"`
	}
	if err := json.Unmarshal(out, &audit); err != nil {
		t.Fatalf("--dry-run's JSON: %v\n%s", err, out)
	}
	if audit.Leader == nil || audit.Leader.Host != leader || audit.Sources["state"].Status != "ok" {
		t.Errorf("--dry-run names leader %+v with the state source %+v, want %s and ok:\n%s", audit.Leader, audit.Sources["state"], leader, out)
	}
}

// onceOnStandby runs --once as a third host while another leads: it
// waits leader-ttl + 5 s to win, then only reads and reports, says so,
// and exits by its report (not 3).
func onceOnStandby(t *testing.T, root string, world *demo.World, cluster *rig.EtcdCluster, recorder string) {
	t.Helper()
	argv := append(hostArgv(t, root, world, cluster, recorder, "cron-c"), "--once")
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	var exit *exec.ExitError
	if err != nil && (!errors.As(err, &exit) || exit.ExitCode() == 3) {
		t.Errorf("--once on a standby: %v\n%s", err, out)
	}
	for _, want := range []string{"this host is not the leader: it restarts nothing", "standing by, restarting nothing"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("--once on a standby did not log %q:\n%s", want, out)
		}
	}
	if strings.Contains(readFile(t, recorder), "cron-c ") {
		t.Errorf("--once on a standby restarted:\n%s", readFile(t, recorder))
	}
}

// restarts counts the recorder's restarts per tool, whichever host ran them.
func restarts(t *testing.T, recorder string) map[string]int {
	n := map[string]int{}
	for _, l := range strings.Split(strings.TrimSpace(readFile(t, recorder)), "\n") {
		if f := strings.Fields(l); len(f) == 2 {
			n[f[1]]++
		}
	}
	return n
}

// actingHosts are the hosts that ran any restart.
func actingHosts(t *testing.T, recorder string) []string {
	var hosts []string
	for _, l := range strings.Split(strings.TrimSpace(readFile(t, recorder)), "\n") {
		if f := strings.Fields(l); len(f) == 2 && !slices.Contains(hosts, f[0]) {
			hosts = append(hosts, f[0])
		}
	}
	return hosts
}

func readFile(t *testing.T, path string) string {
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(b)
}

// waitStandingBy waits until the standby h shows, in its metrics, the
// history in etcd read (the state source not failing) and the tools
// judged, and says in its log that it stands by for leader.
func waitStandingBy(t *testing.T, h *host, leader string) {
	t.Helper()
	stateOK := regexp.MustCompile(`(?m)^webservicemonitor_source_consecutive_failures\{source="state"\} 0$`)
	toolsUp := regexp.MustCompile(`(?m)^webservicemonitor_tools\{status="up"\} [1-9]`)
	rig.WaitFor(t, 30*time.Second, h.name+"'s metrics of a standby cycle", func() (bool, string) {
		_, body, err := rig.Get("http://" + h.addr + "/metrics")
		if err != nil {
			return false, err.Error()
		}
		return stateOK.Match(body) && toolsUp.Match(body), ""
	})
	line := "standing by, restarting nothing: leader " + leader
	rig.WaitFor(t, 30*time.Second, h.name+" logging "+line, func() (bool, string) {
		return strings.Contains(readFile(t, h.proc.Log), line), ""
	})
}

// waitGauge waits until h's leader gauge reads want.
func waitGauge(t *testing.T, h *host, want int) {
	t.Helper()
	// With or without labels (a host label, say): the sample's value.
	gauge := regexp.MustCompile(`(?m)^webservicemonitor_leader(\{[^}]*\})? ` + strconv.Itoa(want) + `$`)
	rig.WaitFor(t, 30*time.Second, h.name+"'s leader gauge "+strconv.Itoa(want), func() (bool, string) {
		_, body, err := rig.Get("http://" + h.addr + "/metrics")
		if err != nil {
			return false, err.Error()
		}
		return gauge.Match(body), ""
	})
}
