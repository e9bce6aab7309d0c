package qstat

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// realDir holds the real captures, shared with the grid-state classification
// test in monitor/.
const realDir = "../../testdata/qstat"

// The captures in testdata/qstat/ are `qstat -u '*' -xml` output of a real
// Son of Grid Engine 8.1.9 cell, byte for byte, taken by
// e2e/grid/capture-qstat.sh while it put jobs into each state; every file
// holds all the jobs the grid had at that moment. The expectations below
// come from what the script did, not from the files.

// realJob is "number name owner state section", section being running
// (under queue_info) or pending (under the nested job_info).
type realJob string

func (r realJob) job(t *testing.T) Job {
	t.Helper()
	f := strings.Fields(string(r))
	if len(f) != 5 {
		t.Fatalf("bad expectation %q", r)
	}
	var n int
	if _, err := fmt.Sscan(f[0], &n); err != nil {
		t.Fatalf("bad expectation %q: %v", r, err)
	}
	return Job{Number: n, Name: f[1], Owner: f[2], State: f[3], Running: f[4] == "running"}
}

const (
	alphaR       realJob = "5 lighttpd-alpha tools.alpha r running"
	alphaDeleted realJob = "5 lighttpd-alpha tools.alpha dr running"
	bravoQW      realJob = "6 uwsgi-python-bravo tools.bravo qw pending"
	charlieHQW   realJob = "7 generic-charlie tools.charlie hqw pending"
	deltaEqw     realJob = "8 lighttpd-delta tools.delta Eqw pending"
	echoS        realJob = "9 lighttpd-echo tools.echo s running"
	foxtrotHR    realJob = "10 lighttpd-foxtrot tools.foxtrot hr running"
	golfRq       realJob = "11 lighttpd-golf tools.golf Rq pending"
	golfRr       realJob = "11 lighttpd-golf tools.golf Rr running"
	hotelSQueue  realJob = "12 generic-hotel tools.hotel S running"
	hotelR       realJob = "12 generic-hotel tools.hotel r running"
	indiaT       realJob = "13 lighttpd-india tools.india t running"
	indiaR       realJob = "13 lighttpd-india tools.india r running"
)

func TestParseRealCaptures(t *testing.T) {
	tests := []struct {
		file string
		want []realJob // in document order: running section first
	}{
		{"zero-jobs.xml", nil},
		{"running.xml", []realJob{alphaR}},
		{"pending.xml", []realJob{alphaR, bravoQW}},
		{"held-pending.xml", []realJob{alphaR, bravoQW, charlieHQW}},
		{"error.xml", []realJob{alphaR, bravoQW, deltaEqw, charlieHQW}},
		{"suspended-job.xml", []realJob{alphaR, echoS, bravoQW, deltaEqw, charlieHQW}},
		{"held-running.xml", []realJob{alphaR, echoS, foxtrotHR, bravoQW, deltaEqw, charlieHQW}},
		{"rescheduled.xml", []realJob{alphaR, echoS, foxtrotHR, bravoQW, deltaEqw, golfRq, charlieHQW}},
		{"rescheduled-running.xml", []realJob{alphaR, echoS, foxtrotHR, golfRr, bravoQW, deltaEqw, charlieHQW}},
		{"suspended-queue.xml", []realJob{alphaR, echoS, foxtrotHR, golfRr, hotelSQueue, bravoQW, deltaEqw, charlieHQW}},
		{"deleting.xml", []realJob{alphaDeleted, echoS, foxtrotHR, golfRr, hotelR, bravoQW, deltaEqw, charlieHQW}},
		{"transferring.xml", []realJob{alphaDeleted, echoS, foxtrotHR, golfRr, hotelR, indiaT, bravoQW, deltaEqw, charlieHQW}},
		{"mixed.xml", []realJob{echoS, foxtrotHR, golfRr, hotelR, indiaR, bravoQW, deltaEqw, charlieHQW}},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		seen[tt.file] = true
		t.Run(tt.file, func(t *testing.T) {
			f, err := os.Open(filepath.Join(realDir, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			p := newParser(f, time.Local, math.MaxInt64, windowSize, lookahead)
			jobs, err := p.run()
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if p.slow > 0 {
				t.Errorf("%d tokens left to encoding/xml; the fast path must read what qstat prints", p.slow)
			}
			if jobs == nil {
				t.Fatal("Parse returned nil; want a non-nil slice")
			}
			if len(jobs) != len(tt.want) {
				t.Fatalf("Parse = %d jobs, want %d", len(jobs), len(tt.want))
			}
			for i, w := range tt.want {
				want, got := w.job(t), jobs[i]
				if got.Number != want.Number || got.Name != want.Name || got.Owner != want.Owner ||
					got.State != want.State || got.Running != want.Running {
					t.Errorf("job %d = %d %s %s %s running=%v, want %s", i, got.Number, got.Name, got.Owner, got.State, got.Running, w)
				}
				// The real cell's shapes: a queue instance and a start time
				// on the running side, a submission time on the pending side
				// (where queue_name is present but empty), one slot each.
				if got.Running && (!strings.HasPrefix(got.Queue, "webgrid-") || got.Started.IsZero() || !got.Submitted.IsZero()) {
					t.Errorf("running job %d: queue %q, started %v, submitted %v", got.Number, got.Queue, got.Started, got.Submitted)
				}
				if !got.Running && (got.Queue != "" || got.Submitted.IsZero() || !got.Started.IsZero()) {
					t.Errorf("pending job %d: queue %q, started %v, submitted %v", got.Number, got.Queue, got.Started, got.Submitted)
				}
				if got.Slots != 1 || got.Tasks != "" {
					t.Errorf("job %d: slots %d, tasks %q; want 1 slot, no tasks", got.Number, got.Slots, got.Tasks)
				}
			}
		})
	}

	// The qmaster stopped: qstat printed nothing on stdout and exited 1;
	// that is an error, never an empty grid.
	seen["qmaster-down.stdout"], seen["qmaster-down.stderr"], seen["qmaster-down.exit"] = true, true, true
	t.Run("qmaster-down", func(t *testing.T) {
		stdout, err := os.ReadFile(filepath.Join(realDir, "qmaster-down.stdout"))
		if err != nil {
			t.Fatal(err)
		}
		jobs, err := Parse(strings.NewReader(string(stdout)), time.Local)
		if err == nil || !strings.Contains(err.Error(), "qstat printed nothing") {
			t.Errorf("Parse = %d jobs, %v; want the error \"qstat printed nothing\"", len(jobs), err)
		}
		exit, _ := os.ReadFile(filepath.Join(realDir, "qmaster-down.exit"))
		stderr, _ := os.ReadFile(filepath.Join(realDir, "qmaster-down.stderr"))
		if strings.TrimSpace(string(exit)) != "1" || !strings.Contains(string(stderr), "unable to send message to qmaster") {
			t.Errorf("capture: exit %q, stderr %q", exit, stderr)
		}
	})

	entries, err := os.ReadDir(filepath.Join(realDir))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !seen[e.Name()] {
			t.Errorf("testdata/qstat/%s is not in the table", e.Name())
		}
	}
}
