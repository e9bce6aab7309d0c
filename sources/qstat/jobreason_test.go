package qstat

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"webservicemonitor/internal/sanitize"
)

// jobDetailDir holds `qstat -j` output of a real cell (see
// e2e/grid/capture-qstat.sh): jobs 302 running, 303 pending, 305 in Eqw.
const jobDetailDir = "testdata/job-detail"

const eqwReason = `can't open output file "/nonexistent/lighttpd.out": No such file or directory`

func readJobDetail(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(jobDetailDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseErrorReasonRealCaptures(t *testing.T) {
	seen := map[string]bool{}
	for _, tt := range []struct {
		file string
		job  int
		want string
	}{
		{"qstat-j-error.txt", 305, eqwReason},
		{"qstat-j-running.txt", 302, ""},
		{"qstat-j-pending.txt", 303, ""}, // its "scheduling info" is no error reason
	} {
		seen[tt.file] = true
		t.Run(tt.file, func(t *testing.T) {
			got, err := parseErrorReason(readJobDetail(t, tt.file), tt.job)
			if err != nil || got != tt.want {
				t.Fatalf("parseErrorReason = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	// The unknown job's capture is replayed by TestErrorReasonRunsTheCommand.
	seen["qstat-j-unknown-job.stdout"], seen["qstat-j-unknown-job.stderr"], seen["qstat-j-unknown-job.exit"] = true, true, true
	entries, err := os.ReadDir(jobDetailDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !seen[e.Name()] {
			t.Errorf("%s/%s is not in the table", jobDetailDir, e.Name())
		}
	}
}

func TestParseErrorReason(t *testing.T) {
	const head = "==============================================================\njob_number:                 7\njob_name:                   lighttpd-x\n"
	stamp := func(s string) string { return "11/30/2026 02:20:27 [51003:9204]: " + s }
	long := strings.Repeat("x", 2*ReasonMax)
	for _, tt := range []struct {
		name    string
		out     string
		want    string
		wantErr string
	}{
		{name: "no error reason", out: head + "scheduling info:            There are no messages available\n"},
		{
			name: "one reason, stamp and error: prefix dropped",
			out:  head + "error reason          1:      " + stamp("error: can't chdir: Permission denied") + "\nscheduling info:            Job is in error state\n",
			want: "can't chdir: Permission denied",
		},
		{
			name: "a reason without a stamp is kept whole",
			out:  head + "error reason    1:   warning: odd\n",
			want: "warning: odd",
		},
		{
			name: "distinct task reasons joined, repeats dropped",
			out: head + "error reason    1:   " + stamp("error: a") + "\nerror reason    2:   " + stamp("error: b") +
				"\nerror reason    3:   " + stamp("error: a") + "\n",
			want: "a | b",
		},
		{
			name: "an indented continuation belongs to the reason",
			out:  head + "error reason    1:   " + stamp("error: first part") + "\n                            second part\nscheduling info:  x\n  not a reason\n",
			want: "first part second part",
		},
		{
			name: "control characters and escapes removed",
			out:  head + "error reason    1:   " + stamp("error: can't open \x1b[31m\"/x\x07\"") + "\n",
			want: `can't open "/x"`,
		},
		{
			name: "a long reason is capped",
			out:  head + "error reason    1:   " + long + "\n",
			want: sanitize.Text(long, ReasonMax),
		},
		{name: "another job's detail", out: strings.Replace(head, "7\n", "8\n", 1), wantErr: `qstat described job "8", not job 7`},
		{name: "no job_number line", out: "error reason    1:   x\n", wantErr: "no job_number line for job 7"},
		{name: "empty output", out: "", wantErr: "no job_number line for job 7"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseErrorReason([]byte(tt.out), 7)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseErrorReason = %q, %v; want an error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("parseErrorReason = %q, %v; want %q", got, err, tt.want)
			}
			if len(got) > ReasonMax {
				t.Errorf("reason is %d bytes; cap is %d", len(got), ReasonMax)
			}
		})
	}
}

// replay is a fake qstat printing a capture only when asked with "-j JOB",
// so the placeholder's replacement is checked too.
func replay(t *testing.T, job int, stdout, stderr string, exit int) string {
	t.Helper()
	return fakeQstat(t, `[ "$1" = -j ] && [ "$2" = `+strconv.Itoa(job)+` ] || { echo "bad args: $*" >&2; exit 9; }
cat '`+stdout+`'
`+stderr+`
exit `+strconv.Itoa(exit)+`
`)
}

func TestErrorReasonRunsTheCommand(t *testing.T) {
	abs := func(name string) string { return fixturePath(t, filepath.Join("job-detail", name)) }
	unknownExit, err := strconv.Atoi(strings.TrimSpace(string(readJobDetail(t, "qstat-j-unknown-job.exit"))))
	if err != nil {
		t.Fatal(err)
	}
	errorSize := int64(len(readJobDetail(t, "qstat-j-error.txt")))
	for _, tt := range []struct {
		name        string
		job         int
		script      string
		maxOutput   int64 // roomy unless set
		want        string
		wantErr     []string
		wantUnknown bool
	}{
		{name: "job in Eqw", job: 305, script: replay(t, 305, abs("qstat-j-error.txt"), "", 0), want: eqwReason},
		{name: "output exactly at the limit", job: 305, script: replay(t, 305, abs("qstat-j-error.txt"), "", 0), maxOutput: errorSize, want: eqwReason},
		{name: "running job: no reason", job: 302, script: replay(t, 302, abs("qstat-j-running.txt"), "", 0)},
		{
			name: "unknown job (real capture)", job: 99999,
			script:      replay(t, 99999, abs("qstat-j-unknown-job.stdout"), "cat '"+abs("qstat-j-unknown-job.stderr")+"' >&2", unknownExit),
			wantErr:     []string{"job 99999", " -j 99999", "the grid does not know the job", "exit status 1", "Following jobs do not exist"},
			wantUnknown: true,
		},
		{
			name: "failing qstat", job: 305,
			script:  replay(t, 305, "/dev/null", "echo 'error: unable to send message to qmaster' >&2", 1),
			wantErr: []string{"job 305", " -j 305", "exit status 1", "unable to send message to qmaster"},
		},
		{
			name: "output over MaxOutput", job: 305, script: replay(t, 305, abs("qstat-j-error.txt"), "", 0),
			maxOutput: errorSize - 1,
			wantErr:   []string{"job 305", "output is larger than the " + strconv.FormatInt(errorSize-1, 10) + "-byte limit"},
		},
		{
			name: "another job's detail", job: 305, script: fakeQstat(t, "cat '"+abs("qstat-j-running.txt")+"'\n"),
			wantErr: []string{"job 305", `qstat described job "302", not job 305`},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := JobReasons{Argv: []string{tt.script, "-j", JobPlaceholder}, Timeout: 10 * time.Second, MaxOutput: roomy}
			if tt.maxOutput != 0 {
				r.MaxOutput = tt.maxOutput
			}
			got, err := r.ErrorReason(context.Background(), tt.job)
			if tt.wantErr == nil {
				if err != nil || got != tt.want {
					t.Fatalf("ErrorReason = %q, %v; want %q", got, err, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("ErrorReason = %q, nil error; want an error", got)
			}
			for _, s := range append(tt.wantErr, tt.script) {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("ErrorReason error = %q; want it to contain %q", err, s)
				}
			}
			if errors.Is(err, ErrUnknownJob) != tt.wantUnknown {
				t.Errorf("errors.Is(%q, ErrUnknownJob) = %v, want %v", err, !tt.wantUnknown, tt.wantUnknown)
			}
		})
	}
}

// A hung qstat is killed at the timeout with the helpers it started.
func TestErrorReasonKillsHungQstatWithItsChildren(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "child.pid")
	script := fakeQstat(t, `echo 'job_number:                 305'
sleep 300 &
echo $! > "$1"
wait
`)
	r := JobReasons{Argv: []string{script, pidFile, JobPlaceholder}, Timeout: 300 * time.Millisecond, MaxOutput: roomy}
	got, err := r.ErrorReason(context.Background(), 305)
	if err == nil {
		t.Fatalf("ErrorReason = %q, nil error; want a timeout", got)
	}
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "did not answer within 300ms") || !strings.Contains(err.Error(), "job 305") {
		t.Errorf("ErrorReason error = %q; want the timeout, naming job 305", err)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatalf("fake qstat never started its child: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	for !processGone(pid) { // bounded by the test binary's -timeout, not a clock
		time.Sleep(20 * time.Millisecond)
	}
}

// An endless answer is cut at MaxOutput and the command killed, rather than
// read until the timeout.
func TestErrorReasonStopsEndlessOutputAtTheLimit(t *testing.T) {
	script := fakeQstat(t, "echo 'job_number: 305'\nexec yes 'env_list: A=B'\n")
	r := JobReasons{Argv: []string{script, JobPlaceholder}, Timeout: time.Hour, MaxOutput: 1 << 20}
	_, err := r.ErrorReason(context.Background(), 305)
	if err == nil || !strings.Contains(err.Error(), "larger than the 1048576-byte limit") {
		t.Fatalf("ErrorReason error = %v; want the output limit", err)
	}
}

func TestErrorReasonCancelledByCaller(t *testing.T) {
	script := fakeQstat(t, "exec sleep 300\n")
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	r := JobReasons{Argv: []string{script, JobPlaceholder}, Timeout: time.Hour, MaxOutput: roomy}
	if _, err := r.ErrorReason(ctx, 305); !errors.Is(err, context.Canceled) {
		t.Fatalf("ErrorReason error = %v; want context.Canceled", err)
	}
}

// Settings that cannot mean what they say are refused before anything runs.
func TestErrorReasonRefusesSettingsThatCannotMeanWhatTheySay(t *testing.T) {
	ran := filepath.Join(t.TempDir(), "ran")
	script := fakeQstat(t, "touch '"+ran+"'\n")
	missing := filepath.Join(t.TempDir(), "no-such-qstat")
	for _, tt := range []struct {
		name    string
		r       JobReasons
		job     int
		wantErr string
	}{
		{"no command", JobReasons{Timeout: time.Second, MaxOutput: roomy}, 5, "job 5: no command configured"},
		{"no placeholder", JobReasons{Argv: []string{script, "-j"}, Timeout: time.Second, MaxOutput: roomy}, 5, "the command has no {job} placeholder"},
		{"zero timeout", JobReasons{Argv: []string{script, "{job}"}, MaxOutput: roomy}, 5, "Timeout is 0s; it must be positive"},
		{"negative timeout", JobReasons{Argv: []string{script, "{job}"}, Timeout: -time.Second, MaxOutput: roomy}, 5, "Timeout is -1s; it must be positive"},
		{"zero output limit", JobReasons{Argv: []string{script, "{job}"}, Timeout: time.Second}, 5, "MaxOutput is 0 bytes; it must be positive"},
		{"zero job", JobReasons{Argv: []string{script, "{job}"}, Timeout: time.Second, MaxOutput: roomy}, 0, "job numbers are positive"},
		{"command not found", JobReasons{Argv: []string{missing, "-j", "{job}"}, Timeout: time.Second, MaxOutput: roomy}, 5, missing + " -j 5: "},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.r.ErrorReason(context.Background(), tt.job)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("ErrorReason = %q, %v; want an error containing %q", got, err, tt.wantErr)
			}
			if _, err := os.Stat(ran); err == nil {
				t.Fatal("the command ran despite the refused setting")
			}
		})
	}
}

// The reader of qstat -j output never panics, and what it returns is one
// bounded line, whatever the grid printed.
func FuzzParseErrorReason(f *testing.F) {
	for _, name := range []string{"qstat-j-error.txt", "qstat-j-running.txt", "qstat-j-pending.txt"} {
		data, err := os.ReadFile(filepath.Join("testdata", "job-detail", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, 305)
	}
	f.Add([]byte("job_number: 7\nerror reason    1:   \x1b[31mred\u202e\n  more\n"), 7)
	f.Fuzz(func(t *testing.T, out []byte, job int) {
		reason, err := parseErrorReason(out, job)
		if err != nil {
			return
		}
		if len(reason) > ReasonMax || strings.ContainsAny(reason, "\n\r\x1b\u202e") {
			t.Errorf("reason %q is not one bounded, clean line", reason)
		}
	})
}
