//go:build e2e

package ha

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"webservicemonitor/e2e/internal/rig"
	"webservicemonitor/internal/demo"
	"webservicemonitor/state"
)

// admin runs the built binary as an admin would on one host: the demo's
// configuration, this host's name and state file, the history in etcd
// when etcd holds the cluster's flags.
type admin struct {
	t     *testing.T
	bin   string
	flags []string
}

// run is one command: its stdout, stderr and exit status.
func (a admin) run(args ...string) (string, string, int) {
	a.t.Helper()
	cmd := exec.Command(a.bin, append(append([]string{}, a.flags...), args...)...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if _, exited := err.(*exec.ExitError); err != nil && !exited {
		a.t.Fatalf("running %v: %v", args, err)
	}
	return out.String(), errOut.String(), cmd.ProcessState.ExitCode()
}

// must runs a command that must succeed.
func (a admin) must(args ...string) string {
	a.t.Helper()
	out, errOut, code := a.run(args...)
	if code != 0 {
		a.t.Fatalf("%v: exit %d\n%s%s", args, code, out, errOut)
	}
	return out
}

// commandsRig is the demo platform and the etcd cluster the commands run
// against.
type commandsRig struct {
	root    string
	world   *demo.World
	cluster *rig.EtcdCluster
	prefix  string
}

func newCommandsRig(t *testing.T) *commandsRig {
	t.Helper()
	cluster := rig.StartEtcdCluster(t, 3)
	root, world := demoPlatform(t)
	return &commandsRig{root: root, world: world, cluster: cluster, prefix: "/wsm-e2e-" + t.Name() + "/"}
}

// single is a host without etcd, with its own state file.
func (r *commandsRig) single(t *testing.T, stateFile string) admin {
	return admin{t: t, bin: filepath.Join(r.root, "bin", "webservicemonitor"),
		flags: []string{"--config", r.world.ConfigFile, "--state-file", stateFile, "--state-lock-wait", "1s"}}
}

// host is one of the hosts sharing the history in etcd.
func (r *commandsRig) host(t *testing.T, name string) admin {
	a := r.single(t, filepath.Join(t.TempDir(), "state.db"))
	a.flags = append(a.flags, "--etcd-endpoints", strings.Join(r.cluster.Endpoints(), ","), "--etcd-prefix", r.prefix,
		"--leader-ttl", "3s", "--host-name", name)
	return a
}

// seededStateFile is a single host's state file with a history: records,
// actions with a gap in their numbering, a firing alert, the last cycle.
func seededStateFile(t *testing.T) string {
	t.Helper()
	at := time.Now().UTC().Truncate(time.Second)
	d := state.Dump{
		Records: state.Records{
			{Tool: "alpha", Record: state.ToolRecord{BackoffStep: 1, Attempts: []state.Attempt{
				{At: at.Add(-20 * time.Minute), Outcome: state.OutcomeFailed, Reason: "no grid job", Detail: "exit 1", Duration: 1500 * time.Millisecond},
			}}},
			{Tool: "echo", Record: state.ToolRecord{BackoffStep: 2, Attempts: []state.Attempt{
				{At: at.Add(-10 * time.Minute), Outcome: state.OutcomeNotUp, Reason: "no grid job", Forgiven: true},
				{At: at.Add(-5 * time.Minute), Outcome: state.OutcomeNotUp, Reason: "no grid job"},
			}}},
		},
		LastCycle:  at,
		Actions:    []state.Action{{ID: 4, Kind: state.ActionForget, Tools: []string{"echo"}, Who: "alice", At: at, Ended: at, EndedBecause: "done", Seen: at}},
		ActionsSeq: 6,
		Alerts: map[string]state.AlertRecord{
			"given-up/echo": {Labels: map[string]string{"alertname": "WebserviceMonitorGivenUp", "tool": "echo"}, StartsAt: at},
		},
	}
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := state.Open(path, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Import(d, false); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestStateCommands: a single host's history moves into etcd and back out
// through the built binary's state export and state import, exactly; an
// import over a history needs --replace; status and the admin commands use
// etcd from any host.
func TestStateCommands(t *testing.T) {
	r := newCommandsRig(t)
	dir := t.TempDir()
	file := func(name string) string { return filepath.Join(dir, name) }
	from := r.single(t, seededStateFile(t))
	from.must("state", "export", "--output", file("from-state-file.json"))

	cronA := r.host(t, "cron-a")
	if out := cronA.must("state", "import", file("from-state-file.json")); !strings.Contains(out, "imported 2 tools' records, 1 admin actions (last ID given 6), 1 firing alerts") {
		t.Errorf("import into etcd says %q", out)
	}
	out, errOut, code := cronA.run("state", "import", file("from-state-file.json"))
	if code != 3 || !strings.Contains(errOut, "--replace") {
		t.Errorf("import over a history without --replace: exit %d\n%s%s", code, out, errOut)
	}
	cronA.must("state", "import", "--replace", file("from-state-file.json"))

	cronB := r.host(t, "cron-b")
	cronB.must("state", "export", "--output", file("from-etcd.json"))
	back := r.single(t, filepath.Join(t.TempDir(), "state.db"))
	back.must("state", "import", file("from-etcd.json"))
	back.must("state", "export", "--output", file("back.json"))
	first := readFile(t, file("from-state-file.json"))
	for _, name := range []string{"from-etcd.json", "back.json"} {
		if got := readFile(t, file(name)); got != first {
			t.Errorf("%s differs from the state file's export:\n%s\nwant:\n%s", name, got, first)
		}
	}

	// No daemon: nobody leads; an action from one host is in the other's status.
	if out := cronB.must("pause", "--for", "10m", "--reason", "e2e maintenance", "alpha"); !strings.HasPrefix(out, "action 7 recorded in etcd "+r.prefix+" (no leader now") {
		t.Errorf("pause from cron-b says %q", out)
	}
	text, _, _ := r.host(t, "cron-c").run("status", "alpha")
	if !strings.HasPrefix(text, "no leader: ") || !strings.Contains(text, "paused by") {
		t.Errorf("status from cron-c:\n%s", text)
	}
	st := statusOf(t, r.host(t, "cron-c"), "alpha")
	if st.Leader != nil || len(st.Tools) != 1 || !hasAction(st.Tools[0].Actions, 7, "pause") {
		t.Errorf("status JSON from cron-c: %+v", st)
	}
}

// TestCommandsWithADaemon: with a daemon leading, status on other hosts
// names it, an admin action from another host is acted on by it, and an
// import is refused (a leader's cycles must not interleave with it) until
// the daemon is stopped.
func TestCommandsWithADaemon(t *testing.T) {
	r := newCommandsRig(t)
	dir := t.TempDir()
	r.single(t, seededStateFile(t)).must("state", "export", "--output", filepath.Join(dir, "h.json"))
	daemon := r.startDaemon(t, "cron-a")
	cronB, cronC := r.host(t, "cron-b"), r.host(t, "cron-c")
	rig.WaitFor(t, 30*time.Second, "cron-a leading in status", func() (bool, string) {
		st := statusOf(t, cronC)
		return st.Leader != nil && st.Leader.Host == "cron-a", ""
	})
	text := cronC.must("status", "alpha")
	if line, _, _ := strings.Cut(text, "\n"); !strings.HasPrefix(line, "leader: cron-a (pid ") || !strings.Contains(line, " since ") {
		t.Errorf("status's first line %q", line)
	}

	if out := cronB.must("pause", "--for", "10m", "--reason", "from a standby", "alpha"); !strings.Contains(out, "(leader: cron-a)") {
		t.Errorf("pause from cron-b says %q", out)
	}
	rig.WaitFor(t, 30*time.Second, "the leader acting on cron-b's pause", func() (bool, string) {
		st := statusOf(t, cronC, "alpha")
		for _, a := range st.Tools[0].Actions {
			if a.Kind == "pause" && a.Reason == "from a standby" && !a.Seen.IsZero() {
				return true, ""
			}
		}
		return false, "not seen yet"
	})

	out, errOut, code := cronB.run("state", "import", "--replace", filepath.Join(dir, "h.json"))
	if code != 3 || !strings.Contains(errOut, "cron-a holds the leadership") || !strings.Contains(errOut, "stop the daemons (or wait)") {
		t.Errorf("import while cron-a leads: exit %d\n%s%s", code, out, errOut)
	}
	daemon.Kill(syscall.SIGTERM)
	cronB.must("state", "import", "--replace", filepath.Join(dir, "h.json"))
	if st := statusOf(t, cronC); st.Leader != nil {
		t.Errorf("the import kept the leadership: %+v", st.Leader)
	}
}

// startDaemon runs the daemon of host name on the cluster.
func (r *commandsRig) startDaemon(t *testing.T, name string) *rig.Proc {
	h := r.host(t, name)
	argv := append([]string{h.bin}, h.flags...)
	argv = append(argv, "--log-format", "json", "--listen", rig.FreePort(t))
	return rig.Start(t, name, argv...)
}

// statusJSON is what these tests read of status --output json.
type statusJSON struct {
	Leader *struct {
		Host  string    `json:"host"`
		PID   int       `json:"pid"`
		Since time.Time `json:"since"`
	} `json:"leader"`
	Tools []struct {
		Tool    string         `json:"tool"`
		Actions []state.Action `json:"admin_actions"`
	} `json:"tools"`
}

func statusOf(t *testing.T, a admin, tools ...string) statusJSON {
	t.Helper()
	out, errOut, code := a.run(append([]string{"status", "--output", "json"}, tools...)...)
	var st statusJSON
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status: exit %d, %v\n%s%s", code, err, out, errOut)
	}
	return st
}

func hasAction(actions []state.Action, id uint64, kind state.ActionKind) bool {
	for _, a := range actions {
		if a.ID == id && a.Kind == kind {
			return true
		}
	}
	return false
}

// TestCheckConfigWithEtcd: check-config asks each member for its release
// and warns about one that does not answer; when none does it warns,
// naming the endpoints, and passes (the unit's ExecStartPre: a daemon must
// start during an etcd outage, to stand by and page), while status and the
// admin commands fail, recording nothing.
func TestCheckConfigWithEtcd(t *testing.T) {
	r := newCommandsRig(t)
	out := r.host(t, "cron-a").must("check-config")
	for _, ep := range r.cluster.Endpoints() {
		if !strings.Contains(out, "etcd member "+ep+": etcd 3.") {
			t.Errorf("check-config does not give %s's release:\n%s", ep, out)
		}
	}
	if !strings.Contains(out, "etcd prefix "+r.prefix+": no leader") || !strings.Contains(out, "configuration OK") {
		t.Errorf("check-config:\n%s", out)
	}
	gone := "http://" + rig.FreePort(t)
	partly := r.host(t, "cron-a")
	partly.flags = append(partly.flags, "--etcd-endpoints", strings.Join(append(r.cluster.Endpoints(), gone), ","))
	if out, errOut, code := partly.run("check-config"); code != 0 || !strings.Contains(errOut, "warning: etcd member "+gone+" did not answer") {
		t.Errorf("check-config with one member gone: exit %d\n%s%s", code, out, errOut)
	}
	none := r.host(t, "cron-a")
	none.flags = append(none.flags, "--etcd-endpoints", gone)
	if out, errOut, code := none.run("check-config"); code != 0 || !strings.Contains(errOut, "warning: etcd-endpoints: no member answered ("+gone) {
		t.Errorf("check-config with no member: exit %d\n%s%s", code, out, errOut)
	}
	if out, errOut, code := none.run("status"); code != 3 || !strings.Contains(errOut, "etcd "+gone) || !strings.Contains(errOut, "did not answer") {
		t.Errorf("status with no member: exit %d\n%s%s", code, out, errOut)
	}
	if out, errOut, code := none.run("pause", "--for", "1m", "--reason", "r"); code != 3 || !strings.Contains(errOut, "nothing was recorded") {
		t.Errorf("pause with no member: exit %d\n%s%s", code, out, errOut)
	}
}
