package monitor

import (
	"testing"
	"time"

	"webservicemonitor/state"
)

// Attempts are dated by the wall clock; a clock step must neither stop
// restarts for the length of the step nor give a tool up until next year.
func TestPlanSurvivesClockSteps(t *testing.T) {
	// attemptsAt is a failing tool's history with attempts at the times
	// given, relative to the clock the plan runs at (t0).
	attemptsAt := func(at ...time.Duration) state.ToolRecord {
		var r state.ToolRecord
		for _, a := range at {
			r.Attempts = append(r.Attempts, state.Attempt{At: t0.Add(a), Outcome: state.OutcomeFailed})
		}
		r.BackoffStep = len(at)
		r.DownSince = t0.Add(at[0])
		return r
	}
	tests := []struct {
		name      string
		history   state.ToolRecord
		action    Action
		next      time.Time // the next restart allowed
		corrected bool
	}{
		// Before: held until two hours ahead (174 minutes without a
		// restart after a 2 h step back).
		{"one attempt, clock stepped back 2h", attemptsAt(2*time.Hour - time.Minute),
			ActionHold, t0.Add(2 * time.Minute), true},
		// Before: given up until a year from now.
		{"budget spent while the clock ran a year ahead", attemptsAt(365*24*time.Hour, 365*24*time.Hour+time.Minute, 365*24*time.Hour+2*time.Minute),
			ActionGiveUp, t0.Add(time.Hour), true},
		{"within the tolerance: two clocks a little apart", attemptsAt(-5*time.Minute, 30*time.Second),
			ActionHold, t0.Add(30*time.Second + 4*time.Minute), false},
		// A step forward: the old attempts leave the window, one window's
		// budget more and no more.
		{"clock stepped forward a year", attemptsAt(-365*24*time.Hour, -365*24*time.Hour+time.Minute, -365*24*time.Hour+2*time.Minute),
			ActionRestart, t0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := decideRecord(nil, registered(), tt.history)
			if d.Action != tt.action || !d.NextRestart.Equal(tt.next) || d.ClockCorrected != tt.corrected {
				t.Fatalf("%s, next restart %s, corrected %v; want %s, %s, %v (%s)",
					d.Action, d.NextRestart.Format(time.DateTime), d.ClockCorrected, tt.action, tt.next.Format(time.DateTime), tt.corrected, d.Reason)
			}
			if !tt.corrected {
				return
			}
			// The correction is written, once: the next cycle finds nothing
			// in the future.
			if !d.RecordChanged {
				t.Fatal("the corrected record is not written")
			}
			for _, a := range d.Next.Attempts {
				if a.At.After(t0.Add(FutureTolerance)) {
					t.Errorf("attempt at %s still in the future", a.At)
				}
			}
			if again := decideRecord(nil, registered(), *d.Next); again.ClockCorrected {
				t.Error("corrected again next cycle")
			}
		})
	}
}
