package qstat

import (
	"cmp"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fakeQstat writes a shell script standing in for qstat and returns its
// path. Tests here do not run in parallel: exec'ing a file another
// goroutine's fork still holds open for writing fails with ETXTBSY.
func fakeQstat(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "qstat")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// roomy is an output limit far above what any test's qstat prints.
const roomy = 1 << 20

func fixturePath(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestFetch(t *testing.T) {
	mixed := fixturePath(t, "mixed-states.xml")
	mixedInfo, err := os.Stat(mixed)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		script    string
		maxOutput int64 // roomy unless set
		wantJobs  int
		wantErr   []string // substrings, all required
	}{
		{
			name:     "valid output",
			script:   "cat '" + mixed + "'\n",
			wantJobs: 18,
		},
		{
			name:      "output exactly at the limit",
			script:    "cat '" + mixed + "'\n",
			maxOutput: mixedInfo.Size(),
			wantJobs:  18,
		},
		{
			name:     "zero jobs is an answer",
			script:   "cat '" + fixturePath(t, "zero-jobs.xml") + "'\n",
			wantJobs: 0,
		},
		{
			name: "stopped qmaster: exit 1, stderr, no stdout",
			script: `echo 'error: commlib error: got select error (Connection refused)' >&2
echo 'error: unable to send message to qmaster using port 6444 on host "tools-grid-master.tools.eqiad.wmflabs": got send error' >&2
exit 1
`,
			wantErr: []string{"-u '*' -xml", "exit status 1", "Connection refused", "got send error"},
		},
		{
			name:    "exit 0 without output",
			script:  "exit 0\n",
			wantErr: []string{"-u '*' -xml", "qstat printed nothing", "(stderr empty)"},
		},
		{
			name:    "exit 0 with garbage",
			script:  "cat '" + fixturePath(t, "garbage.txt") + "'\n",
			wantErr: []string{"qstat printed text that is not XML"},
		},
		{
			name:    "valid document but non-zero exit",
			script:  "cat '" + mixed + "'\necho 'warning: something went wrong' >&2\nexit 2\n",
			wantErr: []string{"exit status 2", "something went wrong"},
		},
		{
			name:    "garbage and non-zero exit: the exit status explains",
			script:  "echo 'error: no such option -xmll'\necho 'usage: qstat ...' >&2\nexit 1\n",
			wantErr: []string{"exit status 1", "usage: qstat"},
		},
		{
			name:      "output over MaxOutput",
			script:    "cat '" + mixed + "'\n",
			maxOutput: mixedInfo.Size() - 1,
			wantErr:   []string{"output is larger than the " + strconv.FormatInt(mixedInfo.Size()-1, 10) + "-byte limit"},
		},
		{
			name: "long stderr keeps its tail",
			script: `i=0; while [ $i -lt 200 ]; do echo "noise line $i padding padding padding padding" >&2; i=$((i+1)); done
echo 'error: the real reason' >&2
exit 1
`,
			wantErr: []string{"; stderr: ...", "error: the real reason"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := &Source{
				Argv:      []string{fakeQstat(t, tt.script), "-u", "*", "-xml"},
				Timeout:   10 * time.Second,
				MaxOutput: cmp.Or(tt.maxOutput, roomy),
				Location:  qmasterZone,
			}
			jobs, err := src.Fetch(context.Background())
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatalf("Fetch = %d jobs, nil error; want an error", len(jobs))
				}
				for _, s := range tt.wantErr {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("Fetch error = %q; want it to contain %q", err, s)
					}
				}
				if len(err.Error()) > 3000 {
					t.Errorf("error is %d bytes long; stderr should be cut to its tail", len(err.Error()))
				}
				if jobs != nil {
					t.Errorf("Fetch returned %d jobs with the error", len(jobs))
				}
				return
			}
			if err != nil {
				t.Fatalf("Fetch: %v", err)
			}
			if jobs == nil || len(jobs) != tt.wantJobs {
				t.Fatalf("Fetch = %d jobs (nil: %v), want %d", len(jobs), jobs == nil, tt.wantJobs)
			}
			if tt.wantJobs > 0 && !jobs[0].Started.Equal(at("2017-01-23T10:55:22")) {
				t.Errorf("first job started %v; Location not applied", jobs[0].Started)
			}
		})
	}
}

// TestFetchKillsHungQstatWithItsChildren stands in for a hung qmaster: the
// fake qstat prints the start of a document, then waits on a child. At the
// timeout both must be gone, not just the script.
func TestFetchKillsHungQstatWithItsChildren(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "child.pid")
	script := fakeQstat(t, `echo "<?xml version='1.0'?>"
echo '<job_info  xmlns:xsd="http://arc.liv.ac.uk/repos/darcs/sge/source/dist/util/resources/schemas/qstat/qstat.xsd">'
sleep 300 &
echo $! > "$1"
wait
`)
	src := &Source{Argv: []string{script, pidFile}, Timeout: 500 * time.Millisecond, MaxOutput: roomy}
	start := time.Now()
	jobs, err := src.Fetch(context.Background())
	elapsed := time.Since(start)
	if err == nil {
		t.Fatalf("Fetch = %d jobs, nil error; want a timeout", len(jobs))
	}
	if want := "qstat did not answer within 500ms"; !strings.Contains(err.Error(), want) {
		t.Errorf("Fetch error = %q; want it to contain %q", err, want)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Fetch error = %q does not match context.DeadlineExceeded (the metrics count it as a timeout)", err)
	}
	if !strings.Contains(err.Error(), script) {
		t.Errorf("Fetch error = %q; want it to name the command %s", err, script)
	}
	if elapsed > 5*time.Second {
		t.Errorf("Fetch took %v with a 500ms timeout", elapsed)
	}

	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatalf("fake qstat never started its child: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	// Killed, its parent gone, the child is reaped by init; a zombie left
	// behind by a non-reaping init is dead too.
	deadline := time.Now().Add(3 * time.Second)
	for !processGone(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("child sleep (pid %d) outlived the timeout", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func processGone(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	// Fields after the parenthesised command name: state comes first.
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] == 'Z'
}

// An endless stream must be cut at MaxOutput, not read until the timeout.
func TestFetchStopsEndlessOutputAtTheLimit(t *testing.T) {
	script := fakeQstat(t, `echo "<?xml version='1.0'?>"
echo '<job_info>'
exec yes '  <queue_info></queue_info>'
`)
	src := &Source{Argv: []string{script}, Timeout: 20 * time.Second, MaxOutput: 1 << 20}
	start := time.Now()
	_, err := src.Fetch(context.Background())
	if err == nil || !strings.Contains(err.Error(), "larger than the 1048576-byte limit") {
		t.Fatalf("Fetch error = %v; want the output limit", err)
	}
	if elapsed := time.Since(start); elapsed > 10*time.Second {
		t.Errorf("Fetch took %v; the oversized run should be killed at once", elapsed)
	}
}

func TestFetchCancelledByCaller(t *testing.T) {
	script := fakeQstat(t, "exec sleep 300\n")
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	src := &Source{Argv: []string{script}, Timeout: 20 * time.Second, MaxOutput: roomy}
	start := time.Now()
	_, err := src.Fetch(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Fetch error = %v; want context.Canceled", err)
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("Fetch took %v after cancel", elapsed)
	}
}

func TestFetchCommandProblems(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-such-qstat")
	for _, tt := range []struct {
		name    string
		argv    []string
		wantErr string
	}{
		{"no command", nil, "no command configured"},
		{"command not found", []string{missing, "-xml"}, "running " + missing + " -xml: "},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := (&Source{Argv: tt.argv, Timeout: 10 * time.Second, MaxOutput: roomy}).Fetch(context.Background())
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Fetch error = %v; want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

// One tag or text is held to an eighth of the output limit, so that what
// it makes the parser allocate stays within the limit, on the fast path
// (a field's text) and on encoding/xml's (a comment) alike.
func TestFetchBoundsOneTokenWithinTheLimit(t *testing.T) {
	const limit = 16 << 20
	for name, token := range map[string][2]string{
		"text":    {"<JB_name>", "</JB_name>"},
		"comment": {"<!--", "-->"},
	} {
		t.Run(name, func(t *testing.T) {
			script := fakeQstat(t, `printf '%s\n' '<?xml version="1.0"?>' '<job_info>' '<queue_info>' '<job_list state="running">'
printf '%s' '`+token[0]+`'
head -c 12582912 /dev/zero | tr '\0' x
printf '%s\n' '`+token[1]+`' '</job_list>' '</queue_info>' '</job_info>'
`)
			src := &Source{Argv: []string{script}, Timeout: 20 * time.Second, MaxOutput: limit}
			var err error
			n := allocated(func() { _, err = src.Fetch(context.Background()) })
			if err == nil || !strings.Contains(err.Error(), "line 5: a single tag or text is longer than the 2097152-byte limit") {
				t.Fatalf("Fetch error = %v; want the token limit of an eighth of MaxOutput", err)
			}
			t.Logf("allocated %d bytes", n)
			if n > limit {
				t.Errorf("Fetch allocated %d bytes for a 12 MiB %s with a %d-byte output limit; want at most the limit", n, name, limit)
			}
		})
	}
}

// A zero or negative setting is refused before anything runs, never read
// as some default.
func TestFetchRefusesSettingsThatCannotMeanWhatTheySay(t *testing.T) {
	ran := filepath.Join(t.TempDir(), "ran")
	script := fakeQstat(t, "touch '"+ran+"'\ncat '"+fixturePath(t, "zero-jobs.xml")+"'\n")
	for _, tt := range []struct {
		name      string
		timeout   time.Duration
		maxOutput int64
		wantErr   string
	}{
		{"zero timeout", 0, roomy, "Timeout is 0s; it must be positive"},
		{"negative timeout", -time.Second, roomy, "Timeout is -1s; it must be positive"},
		{"zero output limit", time.Second, 0, "MaxOutput is 0 bytes; it must be positive"},
		{"negative output limit", time.Second, -1, "MaxOutput is -1 bytes; it must be positive"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			src := &Source{Argv: []string{script, "-xml"}, Timeout: tt.timeout, MaxOutput: tt.maxOutput}
			jobs, err := src.Fetch(context.Background())
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), script+" -xml") {
				t.Fatalf("Fetch = %d jobs, %v; want an error naming the command and containing %q", len(jobs), err, tt.wantErr)
			}
			if _, err := os.Stat(ran); err == nil {
				t.Fatal("the command ran despite the refused setting")
			}
		})
	}
	src := &Source{Argv: []string{script}, Timeout: 10 * time.Second, MaxOutput: roomy}
	if jobs, err := src.Fetch(context.Background()); err != nil || jobs == nil {
		t.Fatalf("with sound settings: Fetch = %v, %v", jobs, err)
	}
}

func TestCommandLine(t *testing.T) {
	for _, tt := range []struct {
		argv []string
		want string
	}{
		{[]string{"qstat", "-u", "*", "-xml"}, "qstat -u '*' -xml"},
		{[]string{"/usr/bin/qstat", "-u", "it's", ""}, `/usr/bin/qstat -u 'it'\''s' ''`},
	} {
		if got := commandLine(tt.argv); got != tt.want {
			t.Errorf("commandLine(%q) = %s, want %s", tt.argv, got, tt.want)
		}
	}
}
