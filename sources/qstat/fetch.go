package qstat

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	stderrKept = 2 << 10
	// tokenShare is the part of MaxOutput one tag or text may take. A
	// token's buffer grows in steps that allocate up to about five times
	// its length in all; an eighth keeps that within MaxOutput.
	tokenShare = 8
	// waitDelay is how long, after a kill, we wait for pipes to close
	// before giving up on processes that escaped the group.
	waitDelay = 2 * time.Second
)

// Source runs qstat and parses what it prints. Its settings have no
// defaults here (the daemon's configuration holds them): a zero Timeout or
// MaxOutput is refused, never read as "the usual".
type Source struct {
	// Argv is the command, run directly (never through a shell), e.g.
	// {"qstat", "-u", "*", "-xml"}. Without "-u *" qstat lists only the
	// caller's own jobs, which looks exactly like an empty grid.
	Argv []string
	// Timeout bounds the whole run; it must be positive.
	Timeout time.Duration
	// MaxOutput caps stdout in bytes, and an eighth of it caps any single
	// tag or text of the document; it must be positive.
	MaxOutput int64
	// Location is the qmaster's time zone for the zone-less times in the
	// output; time.Local when nil.
	Location *time.Location
}

// check refuses settings that cannot mean what they say.
func (s *Source) check() error {
	switch {
	case len(s.Argv) == 0:
		return errors.New("running qstat: no command configured")
	case s.Timeout <= 0:
		return fmt.Errorf("running %s: Timeout is %s; it must be positive", commandLine(s.Argv), s.Timeout)
	case s.MaxOutput <= 0:
		return fmt.Errorf("running %s: MaxOutput is %d bytes; it must be positive", commandLine(s.Argv), s.MaxOutput)
	}
	return nil
}

// Fetch runs the command once and returns every job it lists. A failed,
// hung, silent, oversized or unparsable run is an error, never an empty
// list. On timeout or cancellation the command's whole process group is
// killed, so helpers it spawned do not outlive it.
func (s *Source) Fetch(ctx context.Context) ([]Job, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	what, timeout, limit := commandLine(s.Argv), s.Timeout, s.MaxOutput

	ctx, cancel := context.WithTimeoutCause(ctx, timeout, timeoutError{timeout})
	defer cancel()

	// Our own pipe rather than StdoutPipe: we can put a read deadline on it
	// in case a grandchild that left the process group keeps it open.
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("running %s: creating stdout pipe: %w", what, err)
	}
	defer pr.Close()

	stderr := &tailWriter{max: stderrKept}
	cmd := exec.CommandContext(ctx, s.Argv[0], s.Argv[1:]...)
	cmd.Stdout = pw
	cmd.Stderr = stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return killGroup(cmd.Process.Pid) }
	cmd.WaitDelay = waitDelay
	err = cmd.Start()
	pw.Close() // the child holds its own copy; ours would keep the pipe from reaching EOF
	if err != nil {
		return nil, fmt.Errorf("running %s: %w", what, err)
	}
	stopDeadline := context.AfterFunc(ctx, func() {
		_ = pr.SetReadDeadline(time.Now().Add(waitDelay))
	})
	defer stopDeadline()

	out := &cappedReader{r: pr, left: limit}
	jobs, parseErr := parse(out, s.Location, limit/tokenShare)
	if parseErr != nil {
		// Let qstat finish: its exit status and stderr explain bad output
		// better than the parse error does.
		_, _ = io.Copy(io.Discard, out)
	}
	if out.exceeded {
		_ = killGroup(cmd.Process.Pid)
	}
	waitErr := cmd.Wait()

	switch {
	case parseErr == nil && waitErr == nil:
		return jobs, nil
	case ctx.Err() != nil:
		return nil, fmt.Errorf("running %s: %w%s", what, context.Cause(ctx), stderr.suffix())
	case out.exceeded:
		return nil, fmt.Errorf("running %s: output is larger than the %d-byte limit; refusing to parse a partial grid", what, limit)
	case waitErr != nil:
		return nil, fmt.Errorf("running %s: %w%s", what, waitErr, stderr.suffix())
	default:
		return nil, fmt.Errorf("running %s: %w%s", what, parseErr, stderr.suffix())
	}
}

// timeoutError is why a qstat run was killed at its deadline. It matches
// context.DeadlineExceeded, so that a hung qmaster can be told from a
// failing one (the metrics count them apart) without parsing the message.
type timeoutError struct{ timeout time.Duration }

func (e timeoutError) Error() string        { return fmt.Sprintf("qstat did not answer within %s", e.timeout) }
func (e timeoutError) Is(target error) bool { return target == context.DeadlineExceeded }

// killGroup kills the process group led by pid (Setpgid makes the group id
// the child's pid).
func killGroup(pid int) error {
	err := syscall.Kill(-pid, syscall.SIGKILL)
	if errors.Is(err, syscall.ESRCH) {
		return os.ErrProcessDone
	}
	return err
}

var errOutputTooLarge = errors.New("qstat output exceeds the size limit")

// cappedReader fails once more than left bytes have come through, so an
// oversized answer is an error rather than a silently truncated parse.
type cappedReader struct {
	r        io.Reader
	left     int64
	exceeded bool
}

func (c *cappedReader) Read(p []byte) (int, error) {
	if c.exceeded {
		return 0, errOutputTooLarge
	}
	// Ask for one byte past the limit so reaching it exactly is not an error.
	if int64(len(p)) > c.left+1 {
		p = p[:c.left+1]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	if c.left < 0 {
		c.exceeded = true
		return n + int(c.left), errOutputTooLarge
	}
	return n, err
}

// tailWriter keeps the last max bytes written to it: qstat's error is at
// the end of stderr, and an endless stderr must not grow without bound.
type tailWriter struct {
	mu      sync.Mutex
	max     int
	buf     []byte
	dropped bool
}

func (t *tailWriter) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := len(p)
	if len(p) >= t.max {
		t.dropped = t.dropped || len(t.buf) > 0 || len(p) > t.max
		t.buf = append(t.buf[:0], p[len(p)-t.max:]...)
		return n, nil
	}
	if over := len(t.buf) + len(p) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
		t.dropped = true
	}
	t.buf = append(t.buf, p...)
	return n, nil
}

// suffix renders the kept stderr for appending to an error message.
func (t *tailWriter) suffix() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := strings.ToValidUTF8(strings.TrimSpace(string(t.buf)), "?")
	if s == "" {
		return " (stderr empty)"
	}
	if t.dropped {
		s = "..." + s
	}
	return "; stderr: " + s
}

// commandLine renders argv the way a shell user would type it, so an error
// message can be pasted to reproduce the run.
func commandLine(argv []string) string {
	parts := make([]string, len(argv))
	for i, a := range argv {
		if a != "" && strings.Trim(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,@+%") == "" {
			parts[i] = a
			continue
		}
		parts[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(parts, " ")
}
