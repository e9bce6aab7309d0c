package qstat

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"webservicemonitor/internal/sanitize"
)

// JobPlaceholder stands for the job number in JobReasons.Argv.
const JobPlaceholder = "{job}"

// ReasonMax caps the reason ErrorReason returns, in bytes: it goes into a
// not-up detail beside other facts, and a tool controls part of it (its
// output path).
const ReasonMax = 600

// ErrUnknownJob is matched by ErrorReason's error when the grid does not
// know the job (it ended, or was deleted, between the listing and the
// look): the caller can say "gone" rather than "could not read".
var ErrUnknownJob = errors.New("the grid does not know the job")

// JobReasons reads why SGE put one job in error, from `qstat -j <job>`.
// Like Source, its settings have no defaults here: a zero Timeout or
// MaxOutput is refused, never read as "the usual".
type JobReasons struct {
	// Argv is the command, run directly (never through a shell), with
	// JobPlaceholder where the job number goes, e.g.
	// {"/usr/bin/qstat", "-j", "{job}"}.
	Argv []string
	// Timeout bounds one run; it must be positive.
	Timeout time.Duration
	// MaxOutput caps stdout in bytes; it must be positive. A larger
	// answer is an error, not a reason read from part of it.
	MaxOutput int64
}

// ErrorReason runs the command for job and returns SGE's error reason(s)
// for it, without the "error reason N:" label, the date and the
// [uid:pid] stamp: e.g. `can't open output file "/x": No such file or
// directory`. Several distinct reasons (one per task) are joined with
// " | ". The result is sanitised to one line of at most ReasonMax bytes;
// it is "" when the job has no error reason. A run that fails, times out,
// prints too much or does not describe job is an error naming the command
// and the job; an unknown job's error matches ErrUnknownJob.
func (r JobReasons) ErrorReason(ctx context.Context, job int) (string, error) {
	if err := r.check(job); err != nil {
		return "", err
	}
	argv := r.argvFor(job)
	out, stderr, err := runBounded(ctx, argv, r.Timeout, r.MaxOutput)
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) && stderr.holds("Following jobs do not exist") {
			err = fmt.Errorf("%w: %w", ErrUnknownJob, err)
		}
		return "", fmt.Errorf("reading the error reason of job %d with %s: %w", job, commandLine(argv), err)
	}
	reason, err := parseErrorReason(out, job)
	if err != nil {
		return "", fmt.Errorf("reading the error reason of job %d with %s: %w%s", job, commandLine(argv), err, stderr.suffix())
	}
	return reason, nil
}

// check refuses settings that cannot mean what they say.
func (r JobReasons) check(job int) error {
	what := commandLine(r.Argv)
	switch {
	case len(r.Argv) == 0:
		return fmt.Errorf("reading the error reason of job %d: no command configured", job)
	case !strings.Contains(strings.Join(r.Argv, "\x00"), JobPlaceholder):
		return fmt.Errorf("reading the error reason of job %d with %s: the command has no %s placeholder", job, what, JobPlaceholder)
	case r.Timeout <= 0:
		return fmt.Errorf("reading the error reason of job %d with %s: Timeout is %s; it must be positive", job, what, r.Timeout)
	case r.MaxOutput <= 0:
		return fmt.Errorf("reading the error reason of job %d with %s: MaxOutput is %d bytes; it must be positive", job, what, r.MaxOutput)
	case job <= 0:
		return fmt.Errorf("reading the error reason of job %d with %s: job numbers are positive", job, what)
	}
	return nil
}

// argvFor is Argv with the placeholder replaced by the job number.
func (r JobReasons) argvFor(job int) []string {
	argv := make([]string, len(r.Argv))
	for i, a := range r.Argv {
		argv[i] = strings.ReplaceAll(a, JobPlaceholder, strconv.Itoa(job))
	}
	return argv
}

// runBounded runs argv in its own process group, killed with its helpers
// at the timeout, on cancellation or when stdout passes limit bytes. It
// returns stdout, and stderr's tail, which the caller reads to tell an
// unknown job from a failure; a run's error already quotes that tail.
func runBounded(ctx context.Context, argv []string, timeout time.Duration, limit int64) ([]byte, *tailWriter, error) {
	stderr := &tailWriter{max: stderrKept}
	ctx, cancel := context.WithTimeoutCause(ctx, timeout, timeoutError{timeout})
	defer cancel()

	// Our own pipe, so a read deadline can end the wait on a grandchild
	// that left the group and kept it open (as in Fetch).
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, stderr, fmt.Errorf("creating stdout pipe: %w", err)
	}
	defer pr.Close()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = pw, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return killGroup(cmd.Process.Pid) }
	cmd.WaitDelay = waitDelay
	err = cmd.Start()
	pw.Close() // the child holds its own copy; ours would keep the pipe from reaching EOF
	if err != nil {
		return nil, stderr, err
	}
	stopDeadline := context.AfterFunc(ctx, func() { _ = pr.SetReadDeadline(time.Now().Add(waitDelay)) })
	defer stopDeadline()

	out := &cappedReader{r: pr, left: limit}
	var buf bytes.Buffer
	_, _ = io.Copy(&buf, out) // a read error shows as the timeout or the limit below
	if out.exceeded {
		_ = killGroup(cmd.Process.Pid)
	}
	waitErr := cmd.Wait()
	switch {
	case ctx.Err() != nil:
		return nil, stderr, fmt.Errorf("%w%s", context.Cause(ctx), stderr.suffix())
	case out.exceeded:
		return nil, stderr, fmt.Errorf("output is larger than the %d-byte limit", limit)
	case waitErr != nil:
		return nil, stderr, fmt.Errorf("%w%s", waitErr, stderr.suffix())
	}
	return buf.Bytes(), stderr, nil
}

// holds reports whether the kept stderr contains s.
func (t *tailWriter) holds(s string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return bytes.Contains(t.buf, []byte(s))
}

var (
	// errorReasonLine is SGE 8.1.9's "error reason    1:      <text>";
	// the number is the array task.
	errorReasonLine = regexp.MustCompile(`^error reason\s+\d+:\s*(.*)$`)
	// reasonStamp is the date and [uid:pid] SGE puts before the reason.
	reasonStamp = regexp.MustCompile(`^\d{2}/\d{2}/\d{4} \d{2}:\d{2}:\d{2} \[\d+:\d+\]:\s*`)
)

// parseErrorReason finds job's error reasons in `qstat -j` output. The
// output must name job in its job_number line: anything else (an empty or
// foreign answer) is an error, never "no reason".
func parseErrorReason(out []byte, job int) (string, error) {
	var reasons []string
	described := false
	inReason := false
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, len(out)+1) // one line may be the whole (already bounded) output
	for sc.Scan() {
		line := sc.Text()
		if n, ok := strings.CutPrefix(line, "job_number:"); ok {
			if strings.TrimSpace(n) != strconv.Itoa(job) {
				return "", fmt.Errorf("qstat described job %q, not job %d", sanitize.Text(n, 40), job)
			}
			described = true
		}
		switch m := errorReasonLine.FindStringSubmatch(line); {
		case m != nil:
			reasons = append(reasons, reasonText(m[1]))
			inReason = true
		case inReason && strings.HasPrefix(line, " "):
			// A reason that spans lines goes on indented, like "scheduling info".
			reasons[len(reasons)-1] += " " + strings.TrimSpace(line)
		default:
			inReason = false
		}
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("reading qstat's output: %w", err)
	}
	if !described {
		return "", fmt.Errorf("qstat's output has no job_number line for job %d", job)
	}
	return sanitize.Text(strings.Join(distinct(reasons), " | "), ReasonMax), nil
}

// reasonText is the reason without SGE's stamp and its "error: " prefix,
// which the context ("in error: …") already says.
func reasonText(s string) string {
	s = reasonStamp.ReplaceAllString(s, "")
	s = strings.TrimPrefix(s, "error: ")
	return strings.TrimSpace(s)
}

// distinct drops repeats (every task of an array job can fail alike),
// keeping the first occurrence's place.
func distinct(reasons []string) []string {
	seen := make(map[string]bool, len(reasons))
	kept := reasons[:0]
	for _, r := range reasons {
		if r != "" && !seen[r] {
			seen[r] = true
			kept = append(kept, r)
		}
	}
	return kept
}
