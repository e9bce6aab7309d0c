package monitor

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
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
// Parallel at once, each in its own process group under Timeout.
type Restarter struct {
	Template   []string      // argv with placeholders
	Parallel   int           // restarts running at once, at least 1
	Timeout    time.Duration // per restart, positive; the whole process group is killed after it
	StderrTail int           // bytes of output kept as the failure reason (at least minOutputTail)
	Now        func() time.Time
}

// Result is how one restart went.
type Result struct {
	Tool     string
	Outcome  state.Outcome
	Detail   string // exit status and stderr tail, or "" on success
	Duration time.Duration
}

// OutcomeNotStarted is the result of a restart whose command never
// started (a shutdown came first, or its attempt could not be recorded):
// it is not an attempt, is never stored, and its tool is told nothing.
const OutcomeNotStarted state.Outcome = "not-started"

// Started reports whether the restart's command started.
func (r Result) Started() bool { return r.Outcome != OutcomeNotStarted }

// Argv expands the template for one decision.
func (r *Restarter) Argv(d Decision) []string {
	repl := strings.NewReplacer(
		"{account}", d.Account, "{tool}", d.Tool, "{web}", d.Web,
		"{release}", d.Release, "{home}", d.Home)
	argv := make([]string, len(r.Template))
	for i, a := range r.Template {
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

func (r *Restarter) run(ctx context.Context, d Decision) Result {
	argv := r.Argv(d)
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

	began := r.Now()
	err := cmd.Run()
	res := Result{Tool: d.Tool, Duration: r.Now().Sub(began)}
	out := strings.TrimSpace(tail.String())
	switch {
	case err == nil:
		res.Outcome = state.OutcomeSucceeded
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		res.Outcome = state.OutcomeTimedOut
		res.Detail = fmt.Sprintf("%s did not finish within %s and was killed with its process group", argv[0], r.Timeout)
	case ctx.Err() != nil:
		res.Outcome = state.OutcomeCancelled
		res.Detail = "supervisor shutting down; restart killed"
	default:
		res.Outcome = state.OutcomeFailed
		res.Detail = fmt.Sprintf("%s failed: %v", argv[0], err)
		if out != "" {
			res.Detail += ": " + out
		}
	}
	// The group may outlive the leader (a child that ignored the parent's
	// exit); make sure nothing of this restart is left behind.
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	return res
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
