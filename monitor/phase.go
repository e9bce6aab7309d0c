package monitor

import "strings"

// Phase is what a grid job's raw SGE state letters mean for a web service.
type Phase string

const (
	PhaseNone      Phase = "none"      // no job for the tool
	PhaseRunning   Phase = "running"   // r, t, Rr, hr: serving (or about to)
	PhaseSuspended Phase = "suspended" // s, S, T: the job exists but does not serve
	PhasePending   Phase = "pending"   // qw, Rq: waiting for a slot
	PhaseHeld      Phase = "held"      // hqw: held before it ever ran
	PhaseError     Phase = "error"     // E: stuck, SGE will never run it
	PhaseDeleting  Phase = "deleting"  // d: on its way out
	PhaseUnknown   Phase = "unknown"   // letters this supervisor does not know
)

// Classify maps SGE state letters to a Phase. The letters combine and their
// order varies, so the precedence is explicit: error and deletion end a job
// whatever else it says; a suspended job does not serve even while "running";
// a running job with a hold (hr) still serves, the hold only stops a
// re-run; pending comes last.
func Classify(letters string) Phase {
	switch letters {
	case "":
		return PhaseNone
	case "r":
		// By far the most common, and every plan classifies the jobs of
		// every tool: answered before the general rules below.
		return PhaseRunning
	}
	if strings.Trim(letters, "rtRsSThqwEd") != "" {
		return PhaseUnknown
	}
	switch {
	case strings.ContainsRune(letters, 'E'):
		return PhaseError
	case strings.ContainsRune(letters, 'd'):
		return PhaseDeleting
	case strings.ContainsAny(letters, "sST"):
		return PhaseSuspended
	case strings.ContainsAny(letters, "rt"):
		return PhaseRunning
	case strings.ContainsRune(letters, 'h'):
		return PhaseHeld
	case strings.ContainsAny(letters, "qw"):
		return PhasePending
	}
	// "R" alone: restarted and not yet running again.
	return PhasePending
}

// rank orders phases for picking a tool's best job when several share its
// name: the one closest to serving wins.
func (p Phase) rank() int {
	switch p {
	case PhaseRunning:
		return 7
	case PhaseSuspended:
		return 6
	case PhasePending:
		return 5
	case PhaseHeld:
		return 4
	case PhaseUnknown:
		return 3
	case PhaseError:
		return 2
	case PhaseDeleting:
		return 1
	}
	return 0
}
