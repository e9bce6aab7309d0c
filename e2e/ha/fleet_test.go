//go:build e2e

package ha

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	shellquote "github.com/kballard/go-shellquote"

	"webservicemonitor/e2e/internal/rig"
	"webservicemonitor/internal/demo"
	"webservicemonitor/state"
)

// The demo platform's cycle (its configuration's interval) and the budget
// the scenarios count against (restart-budget's default).
const (
	demoInterval = 2 * time.Second
	demoBudget   = 3
)

// fleet is a group of built daemons, one per host name, sharing one etcd
// prefix on a 3-member cluster and the demo platform. Every host's restart
// command is a recorder that appends `start <unixnano> <host> <tool>`
// before the real restart and `end <unixnano> <host> <tool> <exit>` after
// it to one log (O_APPEND, one write per line), so that the scenarios can
// count who ran what, and in which order, across hosts.
type fleet struct {
	t        *testing.T
	root     string
	world    *demo.World
	cluster  *rig.EtcdCluster
	prefix   string
	recorder string
	dir      string // the fleet's own files: the exports
	hosts    []*fleetHost
}

// fleetHost is one daemon: its own state file, listener and name, and the
// command line it is started (and started again) with.
type fleetHost struct {
	name, addr string
	dir        string // its state file's
	argv       []string
	proc       *rig.Proc
	runs       int // how many times it was started: names its logs
}

// fleetOptions shape a fleet.
type fleetOptions struct {
	hosts []string
	slow  time.Duration // the recorder waits this long before the restart
	flags []string      // given to every host
}

// newFleet starts the cluster, the demo platform and the hosts, each
// serving /healthz.
func newFleet(t *testing.T, o fleetOptions) *fleet {
	t.Helper()
	f := &fleet{t: t, cluster: rig.StartEtcdCluster(t, 3), prefix: "/wsm-e2e-" + t.Name() + "/"}
	f.root, f.world = demoPlatform(t)
	f.dir = t.TempDir()
	f.recorder = filepath.Join(f.dir, "restarts")
	for _, name := range o.hosts {
		h := f.newHost(name, o)
		f.hosts = append(f.hosts, h)
		f.start(h)
	}
	return f
}

// newHost writes the host's recorder and its command line.
func (f *fleet) newHost(name string, o fleetOptions) *fleetHost {
	f.t.Helper()
	dir := f.t.TempDir()
	script := filepath.Join(dir, "restart.sh")
	rec := shellquote.Join(f.recorder)
	body := fmt.Sprintf(`#!/bin/sh
tool=$1
shift
printf 'start %%s %[1]s %%s\n' "$(date +%%s%%N)" "$tool" >> %[2]s
sleep %[3]s
%[4]s "$@"
rc=$?
printf 'end %%s %[1]s %%s %%s\n' "$(date +%%s%%N)" "$tool" "$rc" >> %[2]s
exit $rc
`, name, rec, strconv.FormatFloat(o.slow.Seconds(), 'f', 3, 64), shellquote.Join(filepath.Join(f.root, "bin", "demogrid")))
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		f.t.Fatal(err)
	}
	restart := shellquote.Join(script, "{tool}", "webservice", "--grid", f.world.Grid.Dir,
		"--tool", "{tool}", "--web", "{web}", "--release", "{release}", "restart")
	h := &fleetHost{name: name, addr: rig.FreePort(f.t), dir: dir}
	h.argv = append([]string{filepath.Join(f.root, "bin", "webservicemonitor"),
		"--listen", h.addr, "--restart-command", restart}, f.adminFlags(name, dir)...)
	h.argv = append(h.argv, o.flags...)
	return h
}

// adminFlags are what every command of the host named takes: the demo's
// configuration, the shared etcd prefix, its own name and state file.
func (f *fleet) adminFlags(name, dir string) []string {
	return []string{"--config", f.world.ConfigFile, "--log-format", "json",
		"--etcd-endpoints", strings.Join(f.cluster.Endpoints(), ","), "--etcd-prefix", f.prefix,
		"--leader-ttl", ttl.String(), "--host-name", name, "--state-file", filepath.Join(dir, "state.db")}
}

// admin runs the built daemon's command line args with h's flags, as an
// admin on that host would; its combined output.
func (f *fleet) admin(h *fleetHost, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	argv := append(f.adminFlags(h.name, h.dir), args...)
	out, err := exec.CommandContext(ctx, filepath.Join(f.root, "bin", "webservicemonitor"), argv...).CombinedOutput()
	return string(out), err
}

// start starts h (again, with the same flags, after a kill) and waits
// until it serves /healthz.
func (f *fleet) start(h *fleetHost) {
	f.t.Helper()
	f.launch(h)
	f.serving(h)
}

// serving waits until h serves /healthz.
func (f *fleet) serving(h *fleetHost) {
	f.t.Helper()
	rig.WaitFor(f.t, 30*time.Second, h.name+" serving /healthz", func() (bool, string) {
		if h.proc.Exited() {
			f.t.Fatalf("%s exited: %s", h.name, rig.Tail(h.proc.Log, 20))
		}
		return rig.Ready("http://" + h.addr + "/healthz")()
	})
}

// launch starts h without waiting for it.
func (f *fleet) launch(h *fleetHost) {
	h.runs++
	h.proc = rig.Start(f.t, fmt.Sprintf("%s-%d", h.name, h.runs), h.argv...)
}

// host is the host named.
func (f *fleet) host(name string) *fleetHost {
	for _, h := range f.hosts {
		if h.name == name {
			return h
		}
	}
	f.t.Fatalf("no host %s", name)
	return nil
}

// gauge reads h's webservicemonitor_leader; -1 when it cannot be read.
func (h *fleetHost) gauge() int {
	if h.proc == nil || h.proc.Exited() {
		return -1
	}
	if v, ok := h.metric("webservicemonitor_leader"); ok {
		return int(v)
	}
	return -1
}

// leaders are the hosts whose gauge reads 1 now.
func (f *fleet) leaders() []*fleetHost {
	var out []*fleetHost
	for _, h := range f.hosts {
		if h.gauge() == 1 {
			out = append(out, h)
		}
	}
	return out
}

// waitLeader waits until exactly one host reports leading, and returns it.
func (f *fleet) waitLeader(timeout time.Duration) *fleetHost {
	f.t.Helper()
	var leader *fleetHost
	rig.WaitFor(f.t, timeout, "one host reporting webservicemonitor_leader 1", func() (bool, string) {
		l := f.leaders()
		if len(l) != 1 {
			return false, fmt.Sprintf("%d hosts leading", len(l))
		}
		leader = l[0]
		return true, ""
	})
	return leader
}

// waitGaugeOf waits until h's gauge reads want.
func (f *fleet) waitGaugeOf(h *fleetHost, want int, timeout time.Duration) {
	f.t.Helper()
	rig.WaitFor(f.t, timeout, fmt.Sprintf("%s's webservicemonitor_leader %d", h.name, want), func() (bool, string) {
		g := h.gauge()
		return g == want, fmt.Sprintf("gauge %d", g)
	})
}

// others are the hosts but h.
func (f *fleet) others(h *fleetHost) []*fleetHost {
	var out []*fleetHost
	for _, o := range f.hosts {
		if o != h {
			out = append(out, o)
		}
	}
	return out
}

// stopped waits until h's daemon is stopped (SIGSTOP delivered).
func (f *fleet) stopped(h *fleetHost) {
	f.t.Helper()
	stat := fmt.Sprintf("/proc/%d/stat", h.proc.Cmd.Process.Pid)
	rig.WaitFor(f.t, 10*time.Second, h.name+" stopped", func() (bool, string) {
		b, err := os.ReadFile(stat)
		if err != nil {
			return false, err.Error()
		}
		// pid (comm) state ...: the state follows the last ')'.
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		return i > 0 && len(s) > i+2 && s[i+2] == 'T', s
	})
}

// takeDown removes the tool's own job from the grid: it is down.
func (f *fleet) takeDown(tool string) {
	f.t.Helper()
	if err := f.world.Grid.Update(func(g *demo.Grid) error {
		g.Jobs = slices.DeleteFunc(g.Jobs, func(j demo.Job) bool { return j.Owner == "tools."+tool })
		return nil
	}); err != nil {
		f.t.Fatal(err)
	}
}

// history reads the shared history from etcd as an admin would, with
// the built daemon's state export on the first host's flags (it reads at
// one revision and needs no leadership).
func (f *fleet) history() (state.Dump, error) {
	out := filepath.Join(f.dir, "export.json")
	if msg, err := f.admin(f.hosts[0], "state", "export", "--output", out); err != nil {
		return state.Dump{}, fmt.Errorf("state export: %v: %s", err, msg)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		return state.Dump{}, err
	}
	var file struct {
		Tools map[string]state.ToolRecord `json:"tools"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		return state.Dump{}, fmt.Errorf("reading state export's %s: %w", out, err)
	}
	var d state.Dump
	for tool, r := range file.Tools {
		d.Records = append(d.Records, state.ToolHistory{Tool: tool, Record: r})
	}
	slices.SortFunc(d.Records, func(a, b state.ToolHistory) int { return strings.Compare(a.Tool, b.Tool) })
	return d, nil
}

// mustHistory is history, failing the test when it does not open.
func (f *fleet) mustHistory() state.Dump {
	f.t.Helper()
	d, err := f.history()
	if err != nil {
		f.t.Fatalf("the history in etcd does not open: %v", err)
	}
	return d
}

// attempts are the tool's attempts in d.
func attempts(d state.Dump, tool string) []state.Attempt {
	r, _ := d.Records.Get(tool)
	return r.Attempts
}

// recEvent is one line of the recorder's log.
type recEvent struct {
	end  bool
	at   time.Time
	host string
	tool string
	exit int
}

// events reads the recorder's log, in the order written.
func (f *fleet) events() []recEvent {
	f.t.Helper()
	evs, err := readEvents(f.recorder)
	if err != nil {
		f.t.Fatal(err)
	}
	return evs
}

// readEvents parses the recorder's complete lines: a line being written
// as it is read is left for the next read.
func readEvents(path string) ([]recEvent, error) {
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		b = b[:i]
	} else {
		b = nil
	}
	var out []recEvent
	for _, l := range strings.Split(string(b), "\n") {
		fs := strings.Fields(l)
		if len(fs) < 4 {
			continue
		}
		ns, err := strconv.ParseInt(fs[1], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("recorder line %q: %w", l, err)
		}
		e := recEvent{end: fs[0] == "end", at: time.Unix(0, ns), host: fs[2], tool: fs[3]}
		if e.end && len(fs) == 5 {
			e.exit, _ = strconv.Atoi(fs[4])
		}
		out = append(out, e)
	}
	return out, nil
}

// starts are the recorder's starts that match.
func starts(evs []recEvent, match func(recEvent) bool) []recEvent {
	var out []recEvent
	for _, e := range evs {
		if !e.end && match(e) {
			out = append(out, e)
		}
	}
	return out
}

// perTool counts starts by tool.
func perTool(evs []recEvent) map[string]int {
	n := map[string]int{}
	for _, e := range starts(evs, func(recEvent) bool { return true }) {
		n[e.tool]++
	}
	return n
}

// overBudget names each window in which times (sorted) hold more than
// budget events: the (budget+1)-th after one came less than window later.
func overBudget(what string, times []time.Time, budget int, window time.Duration) []string {
	sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
	var out []string
	for i := 0; i+budget < len(times); i++ {
		if gap := times[i+budget].Sub(times[i]); gap < window {
			out = append(out, fmt.Sprintf("%s: %d restarts within %s (from %s)", what, budget+1, gap.Round(time.Millisecond), times[i].Format("15:04:05.000")))
		}
	}
	return out
}

// interleaved names each start of a tool by one host that came while
// another host's restart of it was running, or less than gap after it
// ended. A restart with no end line yet is still running.
func interleaved(evs []recEvent, gap time.Duration) []string {
	type run struct {
		recEvent
		done time.Time // zero: no end line
	}
	var runs []*run
	open := map[string][]*run{} // by host and tool, oldest first
	for _, e := range evs {
		k := e.host + " " + e.tool
		if !e.end {
			r := &run{recEvent: e}
			runs = append(runs, r)
			open[k] = append(open[k], r)
			continue
		}
		if q := open[k]; len(q) > 0 {
			q[0].done, open[k] = e.at, q[1:]
		}
	}
	var out []string
	for i, b := range runs {
		for _, a := range runs[:i] {
			if a.tool != b.tool || a.host == b.host || b.at.Before(a.at) {
				continue
			}
			if a.done.IsZero() || b.at.Before(a.done.Add(gap)) {
				out = append(out, fmt.Sprintf("%s: %s started at %s, %s's restart started at %s ended at %s",
					b.tool, b.host, b.at.Format("15:04:05.000"), a.host, a.at.Format("15:04:05.000"), a.done.Format("15:04:05.000")))
			}
		}
	}
	return out
}

// kill sends SIGKILL to h's daemon and waits until it is gone; its
// restarts already running go on (they run in their own process groups,
// as on a host where only the daemon died).
func (h *fleetHost) kill() { h.proc.Kill(syscall.SIGKILL) }

// logHas says whether the log of h's current run holds text.
func (h *fleetHost) logHas(text string) bool {
	b, err := os.ReadFile(h.proc.Log)
	return err == nil && strings.Contains(string(b), text)
}

// logLine is the first line of h's current log holding text, or "".
func (h *fleetHost) logLine(text string) string {
	b, err := os.ReadFile(h.proc.Log)
	if err != nil {
		return ""
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, text) {
			return l
		}
	}
	return ""
}

// logCount is how many lines of h's current log hold text.
func (h *fleetHost) logCount(text string) int {
	b, err := os.ReadFile(h.proc.Log)
	if err != nil {
		return 0
	}
	return strings.Count(string(b), text)
}

// metric reads the first sample of h's /metrics named name (labels or
// not) whose line holds every one of labels (e.g. `change="lost"`).
func (h *fleetHost) metric(name string, labels ...string) (float64, bool) {
	_, body, err := rig.Get("http://" + h.addr + "/metrics")
	if err != nil {
		return 0, false
	}
	for _, l := range strings.Split(string(body), "\n") {
		rest, ok := strings.CutPrefix(l, name)
		if !ok || rest == "" || (rest[0] != ' ' && rest[0] != '{') || !containsAll(rest, labels) {
			continue
		}
		fs := strings.Fields(rest)
		if v, err := strconv.ParseFloat(fs[len(fs)-1], 64); err == nil {
			return v, true
		}
	}
	return 0, false
}

func containsAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}
