package monitor

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"webservicemonitor/sources/qstat"
)

// TestClassifyRealCaptures classifies every job of the real cell's captures
// (testdata/qstat, see e2e/grid/capture-qstat.sh): each state
// letter combination the grid actually printed must map to the phase the
// design says, and a capture with letters not in this table fails the test.
func TestClassifyRealCaptures(t *testing.T) {
	want := map[string]Phase{
		"r":   PhaseRunning,
		"t":   PhaseRunning,   // dispatched, execd not yet acknowledged
		"Rr":  PhaseRunning,   // rescheduled and running again
		"hr":  PhaseRunning,   // a hold on a running job stops only a re-run
		"s":   PhaseSuspended, // qmod -sj
		"S":   PhaseSuspended, // its queue is suspended
		"qw":  PhasePending,
		"Rq":  PhasePending, // rescheduled, waiting to run again
		"hqw": PhaseHeld,
		"Eqw": PhaseError, // the old monitor counted this as up
		"dr":  PhaseDeleting,
	}
	dir := filepath.Join("..", "testdata", "qstat")
	files, err := filepath.Glob(filepath.Join(dir, "*.xml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no captures in %s: %v", dir, err)
	}
	seen := map[string]bool{}
	for _, file := range files {
		f, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		jobs, err := qstat.Parse(f, time.Local)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		for _, j := range jobs {
			seen[j.State] = true
			w, ok := want[j.State]
			if !ok {
				t.Errorf("%s: job %d has state %q, which this table does not cover", filepath.Base(file), j.Number, j.State)
				continue
			}
			if got := Classify(j.State); got != w {
				t.Errorf("%s: job %d state %q classified %s, want %s", filepath.Base(file), j.Number, j.State, got, w)
			}
			// Restartable only when the grid will never serve it.
			if restart := w == PhaseError || w == PhaseDeleting; restart != strings.ContainsAny(j.State, "Ed") {
				t.Errorf("state %q: restartable=%v", j.State, restart)
			}
		}
	}
	for state := range want {
		if !seen[state] {
			t.Errorf("no capture shows state %q any more", state)
		}
	}
}
