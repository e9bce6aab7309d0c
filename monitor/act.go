package monitor

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"webservicemonitor/internal/sanitize"
	"webservicemonitor/state"
)

// KillGrace is how long a killed restart's process group may take to be
// reaped before its output pipes are abandoned (exec.Cmd's WaitDelay).
const KillGrace = 5 * time.Second

// minOutputTail is the least of a restart's output kept as its failure's
// detail.
const minOutputTail = 512

// Restarter runs the restart command for the tools a plan asks for, at most
// Parallel at once, each in its own process group under Timeout; and the
// clear command for the stuck jobs a tool must lose first.
type Restarter struct {
	Template      []string      // argv with placeholders
	ClearTemplate []string      // argv removing one job, with {job}, {account}, {tool}
	Parallel      int           // restarts running at once, at least 1
	Timeout       time.Duration // per command, positive; the whole process group is killed after it
	StderrTail    int           // bytes of output kept as the failure reason (at least minOutputTail)
	Now           func() time.Time
}

// Result is how one restart went.
type Result struct {
	Tool     string
	Outcome  state.Outcome
	Detail   string // exit status and stderr tail, or "" on success
	Duration time.Duration
	Cleared  []StuckJob // the stuck jobs removed before the restart command ran
	// ClearFailed says that a stuck job could not be removed, so the
	// restart command was not run (Outcome says how the clear ended).
	ClearFailed bool
}

// OutcomeNotStarted is the result of a restart whose command never
// started (a shutdown came first, or its attempt could not be recorded):
// it is not an attempt, is never stored, and its tool is told nothing.
const OutcomeNotStarted state.Outcome = "not-started"

// Started reports whether the restart's command started.
func (r Result) Started() bool { return r.Outcome != OutcomeNotStarted }

// Argv expands the template for one decision.
func (r *Restarter) Argv(d Decision) []string {
	return expand(r.Template, strings.NewReplacer(
		"{account}", d.Account, "{tool}", d.Tool, "{web}", d.Web,
		"{release}", d.Release, "{home}", d.Home))
}

// ClearArgv expands the clear template for one job of the decision's tool.
func (r *Restarter) ClearArgv(d Decision, job StuckJob) []string {
	return expand(r.ClearTemplate, strings.NewReplacer(
		"{job}", strconv.Itoa(job.Number), "{account}", d.Account, "{tool}", d.Tool))
}

func expand(template []string, repl *strings.Replacer) []string {
	argv := make([]string, len(template))
	for i, a := range template {
		argv[i] = repl.Replace(a)
	}
	return argv
}

// Restart runs the restarts, at most Parallel at once. Each waits for a
// free slot, then starting is called (the cycle records the attempt) and
// its command starts only if that succeeded. Once start is done (shutdown
// requested) no new restart starts, while kill, when done, ends the ones in
// flight. done, when set, is called as each started restart ends. Results
// come back in the order of ds.
func (r *Restarter) Restart(start, kill context.Context, ds []Decision, starting func(Decision) error, done func(Result)) []Result {
	results := make([]Result, len(ds))
	slots := make(chan struct{}, max(r.Parallel, 1))
	var wg sync.WaitGroup
	for i, d := range ds {
		select {
		case slots <- struct{}{}:
		case <-start.Done():
		}
		if err := r.mayStart(start, d, starting); err != nil {
			results[i] = Result{Tool: d.Tool, Outcome: OutcomeNotStarted, Detail: err.Error()}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			results[i] = r.run(kill, d)
			if done != nil {
				done(results[i])
			}
		}()
	}
	wg.Wait()
	return results
}

// ClearResult is how the removal of one stuck job went.
type ClearResult struct {
	Tool   string
	Job    StuckJob
	Detail string // why it failed; "" when it was removed
}

// ClearStrays removes the stuck jobs of up tools, a tool at a time, at
// most Parallel at once. Once start is done no new removal begins.
func (r *Restarter) ClearStrays(start, kill context.Context, ds []Decision) []ClearResult {
	results := make([][]ClearResult, len(ds))
	forEachAtMost(start, max(r.Parallel, 1), len(ds), func(i int) {
		d := ds[i]
		for _, job := range d.Clear {
			res := ClearResult{Tool: d.Tool, Job: job}
			if c := r.command(kill, r.ClearArgv(d, job)); c.outcome != state.OutcomeSucceeded {
				res.Detail = c.detail
			}
			results[i] = append(results[i], res)
		}
	})
	var out []ClearResult
	for _, rs := range results {
		out = append(out, rs...)
	}
	return out
}

// forEachAtMost calls f(i) for i in [0, n), at most limit at once; once
// start is done, no further call begins.
func forEachAtMost(start context.Context, limit, n int, f func(i int)) {
	slots := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for i := range n {
		select {
		case slots <- struct{}{}:
		case <-start.Done():
		}
		if start.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			f(i)
		}()
	}
	wg.Wait()
}

// mayStart says why a restart must not start, if it must not.
func (r *Restarter) mayStart(start context.Context, d Decision, starting func(Decision) error) error {
	if start.Err() != nil {
		return errors.New("supervisor shutting down; restart not started")
	}
	if err := starting(d); err != nil {
		return fmt.Errorf("restart not started: %w", err)
	}
	return nil
}

// run clears the tool's stuck jobs, then runs its restart command. A
// clear that fails is the attempt's failure: the restart is not run, or it
// would submit one more job beside the stuck one.
func (r *Restarter) run(ctx context.Context, d Decision) Result {
	began := r.Now()
	res := Result{Tool: d.Tool}
	for _, job := range d.Clear {
		c := r.command(ctx, r.ClearArgv(d, job))
		if c.outcome != state.OutcomeSucceeded {
			res.Outcome, res.ClearFailed = c.outcome, true
			res.Detail = "clearing job " + strconv.Itoa(job.Number) + " (" + job.State + "): " + c.detail + "; the restart was not run"
			res.Duration = r.Now().Sub(began)
			return res
		}
		res.Cleared = append(res.Cleared, job)
	}
	c := r.command(ctx, r.Argv(d))
	res.Outcome, res.Detail, res.Duration = c.outcome, c.detail, r.Now().Sub(began)
	if res.Outcome == state.OutcomeSucceeded {
		// The command exiting 0 says only that the job was submitted.
		res.Outcome = state.OutcomePendingVerification
	}
	return res
}

// ran is how one command ended.
type ran struct {
	outcome state.Outcome // succeeded, failed, timed-out or cancelled
	detail  string        // "" when it succeeded
}

// command runs argv in its own process group under the restart timeout.
func (r *Restarter) command(ctx context.Context, argv []string) ran {
	ctx, cancel := context.WithTimeout(ctx, r.Timeout)
	defer cancel()

	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// A hung webservice may have children (sudo, qsub); kill the whole group.
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = KillGrace
	tail := &tailBuffer{max: max(r.StderrTail, minOutputTail)}
	cmd.Stderr = tail
	cmd.Stdout = tail

	err := cmd.Run()
	out := strings.TrimSpace(tail.String())
	name := programName(argv, out)
	var res ran
	switch {
	case err == nil:
		res.outcome = state.OutcomeSucceeded
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		res.outcome = state.OutcomeTimedOut
		res.detail = fmt.Sprintf("%s did not finish within %s and was killed with its process group", name, r.Timeout)
	case ctx.Err() != nil:
		res.outcome = state.OutcomeCancelled
		res.detail = "supervisor shutting down; " + name + " killed"
	default:
		res.outcome = state.OutcomeFailed
		res.detail = failure(name, err, out)
	}
	// The group may outlive the leader (a child that ignored the parent's
	// exit); make sure nothing of this restart is left behind.
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	return res
}

// failure says how a command that ran failed, in its own name: "webservice
// exited with status 2: <what it printed>".
func failure(name string, err error, out string) string {
	var exit *exec.ExitError
	detail := name + " failed: " + err.Error()
	if errors.As(err, &exit) && exit.ExitCode() >= 0 {
		detail = name + " exited with status " + strconv.Itoa(exit.ExitCode())
	} else if errors.As(err, &exit) {
		detail = name + " was killed: " + exit.String()
	}
	if out != "" {
		detail += ": " + out
	}
	return detail
}

// programName is the program a failure is told in the name of: the one
// sudo (or runuser) runs — both pass their child's exit status through —
// unless what was printed says that the wrapper itself refused.
func programName(argv []string, out string) string {
	wrapper := filepath.Base(argv[0])
	withValue, ok := wrapperOptionsWithValue(wrapper)
	if !ok || strings.HasPrefix(out, wrapper+":") {
		return wrapper
	}
	if prog := wrapped(argv[1:], withValue); prog != "" {
		return filepath.Base(prog)
	}
	return wrapper
}

// wrapperOptionsWithValue are the short options of a program that runs
// another as some user, sudo(8) or runuser(1), that take a value; false
// for any other program.
func wrapperOptionsWithValue(program string) (string, bool) {
	switch program {
	case "sudo":
		return "CDghpRrTtUu", true
	case "runuser":
		return "ugGsw", true
	}
	return "", false
}

// wrapped is the command in a wrapper's arguments: the first one that is
// not an option or an option's value.
func wrapped(args []string, shortWithValue string) string {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			if i+1 < len(args) {
				return args[i+1]
			}
			return ""
		case strings.HasPrefix(a, "--"):
			if !strings.Contains(a, "=") && longTakesValue(a) {
				i++
			}
		case strings.HasPrefix(a, "-") && len(a) > 1:
			// Short options cluster (-niu); the last one may take the
			// next argument as its value, or the rest of the cluster.
			for k := 1; k < len(a); k++ {
				if strings.IndexByte(shortWithValue, a[k]) >= 0 {
					if k == len(a)-1 {
						i++
					}
					break
				}
			}
		case strings.Contains(a, "=") && !strings.HasPrefix(a, "/"):
			// VAR=value environment settings precede the command.
		default:
			return a
		}
	}
	return ""
}

func longTakesValue(option string) bool {
	switch option {
	case "--close-from", "--chdir", "--group", "--host", "--prompt", "--chroot", "--role",
		"--command-timeout", "--type", "--other-user", "--user", "--supp-group", "--shell", "--whitelist-environment":
		return true
	}
	return false
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.max:]...)
	}
	return len(p), nil
}

// String is the tail as one line for people: the command runs under
// `sudo -i`, so the tool's login profile controls what it prints (escape
// sequences, bidi overrides, fake urgent notices), and this text reaches
// alerts, logs and service.log.
func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return sanitize.Text(string(t.buf), t.max)
}
