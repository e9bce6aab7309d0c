package monitor

import "testing"

func TestClassify(t *testing.T) {
	tests := []struct {
		letters string
		want    Phase
	}{
		{"", PhaseNone},
		{"r", PhaseRunning},
		{"t", PhaseRunning},
		{"Rr", PhaseRunning},
		{"Rt", PhaseRunning},
		{"hr", PhaseRunning}, // a hold on a running job only stops a re-run
		{"s", PhaseSuspended},
		{"S", PhaseSuspended},
		{"T", PhaseSuspended},
		{"Sh", PhaseSuspended},
		{"hS", PhaseSuspended},
		{"rs", PhaseSuspended},
		{"qw", PhasePending},
		{"Rq", PhasePending},
		{"R", PhasePending},
		{"hqw", PhaseHeld},
		{"hRwq", PhaseHeld},
		{"Eqw", PhaseError},
		{"Ehqw", PhaseError},
		{"dr", PhaseDeleting},
		{"dt", PhaseDeleting},
		{"dRr", PhaseDeleting},
		{"dEqw", PhaseError},
		{"x", PhaseUnknown},
		{"rz", PhaseUnknown},
	}
	for _, tt := range tests {
		if got := Classify(tt.letters); got != tt.want {
			t.Errorf("Classify(%q) = %s, want %s", tt.letters, got, tt.want)
		}
	}
}
