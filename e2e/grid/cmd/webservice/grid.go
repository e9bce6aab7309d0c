package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"webservicemonitor/sources/qstat"
)

func (r *run) dispatch() (int, error) {
	web := r.webType()
	name := web + "-" + r.tool
	ctx, cancel := context.WithTimeout(context.Background(), 2*r.wait+realWaitFor+30*time.Second)
	defer cancel()
	switch r.command {
	case "stop":
		return 0, r.stop(ctx, name)
	case "start":
		return r.start(ctx, name, web)
	case "restart":
		if r.conf.Modes[r.tool] == "hang" {
			r.hang()
		}
		return r.restart(ctx, name, web)
	}
	return 0, fmt.Errorf("unknown command %q", r.command)
}

// webType is TYPE, else web: from ~/service.manifest, else lighttpd, as the
// real command chooses it.
func (r *run) webType() string {
	if r.wsType != "" {
		return r.wsType
	}
	data, err := os.ReadFile(filepath.Join(r.home, "service.manifest"))
	if err != nil {
		return defaultWebType
	}
	var m struct {
		Web string `yaml:"web"`
	}
	if yaml.Unmarshal(data, &m) != nil || m.Web == "" {
		return defaultWebType
	}
	return m.Web
}

// restart does what the real gridengine backend does: only a job whose
// state has an "r" counts as running and is replaced; anything else is
// "pending", and a new job is submitted beside it.
func (r *run) restart(ctx context.Context, name, web string) (int, error) {
	jobs, err := r.jobsNamed(ctx, name)
	if err != nil {
		return 0, err
	}
	switch {
	case len(jobs) == 0:
		r.log("not-running", 0, "no job "+name)
	case !strings.Contains(strings.ToLower(jobs[0].State), "r"):
		r.log("not-running", jobs[0].Number, fmt.Sprintf("job %d in state %s taken for pending: submitting beside it", jobs[0].Number, jobs[0].State))
	default:
		if err := r.deleteByName(ctx, name, jobs); err != nil {
			return 0, err
		}
		// The real wait_for gives up after 15 s and submits anyway.
		_ = r.waitFor(ctx, name, "gone", realWaitFor, func(jobs []qstat.Job) bool { return len(jobs) == 0 })
	}
	return r.submit(ctx, name, web)
}

func (r *run) start(ctx context.Context, name, web string) (int, error) {
	jobs, err := r.jobsNamed(ctx, name)
	if err != nil {
		return 0, err
	}
	if len(jobs) > 0 {
		return 0, fmt.Errorf("Your job is already running (job %d, %s)", jobs[0].Number, jobs[0].State)
	}
	job, err := r.submit(ctx, name, web)
	if err != nil {
		return job, err
	}
	// Like the real start: wait a while, and exit 0 whether it runs or not.
	_ = r.waitFor(ctx, name, "running", r.wait, func(jobs []qstat.Job) bool {
		return len(jobs) > 0 && strings.Contains(jobs[0].State, "r")
	})
	return job, nil
}

func (r *run) stop(ctx context.Context, name string) error {
	jobs, err := r.jobsNamed(ctx, name)
	if err != nil {
		return err
	}
	if len(jobs) == 0 {
		fmt.Println("Your webservice is not running")
		return nil
	}
	if err := r.deleteByName(ctx, name, jobs); err != nil {
		return err
	}
	_ = r.waitFor(ctx, name, "gone", realWaitFor, func(jobs []qstat.Job) bool { return len(jobs) == 0 })
	return nil
}

// deleteByName runs qdel <name>, which deletes every job of that name.
func (r *run) deleteByName(ctx context.Context, name string, jobs []qstat.Job) error {
	out, err := r.grid(ctx, "qdel", name)
	if err != nil && !strings.Contains(out, "does not exist") {
		return fmt.Errorf("qdel %s: %v: %s", name, err, out)
	}
	for _, j := range jobs {
		r.log("deleted", j.Number, "state "+j.State)
	}
	return nil
}

// submit runs qsub the way the real backend does; the job number comes
// from -terse (the real one does not print it; the tests want it).
func (r *run) submit(ctx context.Context, name, web string) (int, error) {
	argv := []string{"-terse", "-b", "y", "-N", name, "-q", webTypes[web],
		"-l", "h_vmem=4G,release=" + r.release, "-i", "/dev/null",
		"-o", filepath.Join(r.home, "access.log"), "-e", filepath.Join(r.home, "error.log"),
		"-v", "WSM_FRONTPROXY=" + r.conf.Register}
	argv = append(argv, r.misbehaviour()...)
	argv = append(argv, r.conf.Self, "--conf", r.confPath, "runner", "--tool", r.tool, "--web", web)
	if r.noRegister() {
		argv = append(argv, "--no-register-proxy")
	}
	out, err := r.grid(ctx, "qsub", argv...)
	if err != nil {
		return 0, fmt.Errorf("qsub %s: %v: %s", name, err, out)
	}
	var job int
	fmt.Sscanf(strings.TrimSpace(out), "%d", &job)
	r.log("submitted", job, "qsub "+strings.Join(argv, " "))
	return job, nil
}

// misbehaviour is what the tool's mode adds to qsub's arguments (later
// options override earlier ones).
func (r *run) misbehaviour() []string {
	switch r.conf.Modes[r.tool] {
	case "fail":
		// A request the grid refuses: qsub itself fails, as it does for a
		// tool over its quota or a broken submit host.
		return []string{"-l", "wsm_unknown_resource=1"}
	case "queued":
		// An architecture no host has: the job stays qw for ever (the
		// scheduler says why in qstat -j).
		return []string{"-l", "arch=wsm-none"}
	case "eqw":
		// An output path that cannot be opened: the shepherd fails and
		// SGE puts the job in Eqw with "can't open output file ...".
		return []string{"-o", filepath.Join(r.home, "wsm-missing", "access.log")}
	}
	return nil
}

func (r *run) noRegister() bool {
	for _, a := range r.args {
		if a == "--no-register-proxy" {
			return true
		}
	}
	return false
}

// jobsNamed returns the caller's jobs named name, in qstat -xml's order
// (running jobs first), as the real backend's XPath finds them.
func (r *run) jobsNamed(ctx context.Context, name string) ([]qstat.Job, error) {
	out, err := r.grid(ctx, "qstat", "-xml")
	if err != nil {
		return nil, fmt.Errorf("qstat: %v: %s", err, out)
	}
	all, err := qstat.Parse(strings.NewReader(out), time.Local)
	if err != nil {
		return nil, fmt.Errorf("parsing qstat: %w", err)
	}
	var mine []qstat.Job
	for _, j := range all {
		if j.Name == name {
			mine = append(mine, j)
		}
	}
	return mine, nil
}

// waitFor polls the caller's jobs named name until done says so or limit
// passes.
func (r *run) waitFor(ctx context.Context, name, what string, limit time.Duration, done func([]qstat.Job) bool) error {
	deadline := time.Now().Add(limit)
	for {
		jobs, err := r.jobsNamed(ctx, name)
		if err != nil {
			return err
		}
		if done(jobs) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("job %s not %s after %s", name, what, limit)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (r *run) grid(ctx context.Context, prog string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, filepath.Join("/usr/bin", prog), args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// gridReleases reads the "release" complex values of the web queues.
func (r *run) gridReleases(ctx context.Context) []string {
	var out []string
	for _, q := range []string{"webgrid-lighttpd", "webgrid-generic"} {
		conf, err := r.grid(ctx, "qconf", "-sq", q)
		if err != nil {
			continue
		}
		out = appendReleases(out, conf)
	}
	if len(out) == 0 {
		return []string{defaultRelease}
	}
	return out
}

// appendReleases adds the release=X entries of a queue's complex_values
// (qconf continues long lines with a backslash).
func appendReleases(out []string, queueConf string) []string {
	queueConf = strings.ReplaceAll(queueConf, "\\\n", " ")
	sc := bufio.NewScanner(strings.NewReader(queueConf))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || f[0] != "complex_values" {
			continue
		}
		for _, kv := range strings.Split(strings.Join(f[1:], ""), ",") {
			if v, ok := strings.CutPrefix(kv, "release="); ok && !slices.Contains(out, v) {
				out = append(out, v)
			}
		}
	}
	return out
}

// hang plays a webservice stuck on a hung NFS or qmaster: a child that
// sleeps (so a kill of the leader alone would leave an orphan) and a leader
// that never returns.
func (r *run) hang() {
	child := exec.Command("/bin/sleep", "3600")
	if err := child.Start(); err == nil {
		r.log("hanging", 0, fmt.Sprintf("child pid %d", child.Process.Pid))
	}
	select {}
}
