//go:build e2e

package ha

import (
	"testing"
	"time"
)

// TestFleetChecks shows that the soak's checks of the recorder's log catch
// what they are for: a start by one host while another host's restart of
// the same tool runs or within the gap after it, and a budget overrun.
func TestFleetChecks(t *testing.T) {
	at := func(s float64) time.Time {
		return time.Unix(1_800_000_000, 0).Add(time.Duration(s * float64(time.Second)))
	}
	start := func(s float64, host, tool string) recEvent { return recEvent{at: at(s), host: host, tool: tool} }
	end := func(s float64, host, tool string) recEvent {
		return recEvent{end: true, at: at(s), host: host, tool: tool}
	}
	for _, tt := range []struct {
		name string
		evs  []recEvent
		want int // interleavings found
	}{
		{"one host, back to back", []recEvent{start(0, "a", "x"), end(1, "a", "x"), start(1.5, "a", "x"), end(2, "a", "x")}, 0},
		{"two hosts, far apart", []recEvent{start(0, "a", "x"), end(1, "a", "x"), start(3.5, "b", "x"), end(4, "b", "x")}, 0},
		{"two hosts, other tools", []recEvent{start(0, "a", "x"), start(0.1, "b", "y"), end(1, "a", "x"), end(1, "b", "y")}, 0},
		{"during the other's restart", []recEvent{start(0, "a", "x"), start(0.5, "b", "x"), end(1, "a", "x"), end(1.5, "b", "x")}, 1},
		{"within the gap after its end", []recEvent{start(0, "a", "x"), end(1, "a", "x"), start(2.5, "b", "x"), end(3, "b", "x")}, 1},
		{"the other's restart never ended", []recEvent{start(0, "a", "x"), start(30, "b", "x"), end(31, "b", "x")}, 1},
	} {
		if got := interleaved(tt.evs, 2*time.Second); len(got) != tt.want {
			t.Errorf("%s: interleaved found %d %v, want %d", tt.name, len(got), got, tt.want)
		}
	}
	for _, tt := range []struct {
		name  string
		times []time.Time
		want  int
	}{
		{"budget used in the window", []time.Time{at(0), at(10), at(20), at(31)}, 0},
		{"one over the budget", []time.Time{at(0), at(10), at(20), at(29)}, 1},
		{"unsorted", []time.Time{at(29), at(0), at(20), at(10)}, 1},
	} {
		if got := overBudget("x", tt.times, 3, 30*time.Second); len(got) != tt.want {
			t.Errorf("%s: overBudget found %v, want %d", tt.name, got, tt.want)
		}
	}
	evs := []recEvent{start(0, "a", "x"), end(1, "a", "x"), start(2, "a", "y")}
	if running(evs, "a", at(0.5)) != true || running(evs, "a", at(1.5)) != false || running(evs, "a", at(2.5)) != true || running(evs, "b", at(2.5)) != false {
		t.Errorf("running: wrong answers for %v", evs)
	}
}
