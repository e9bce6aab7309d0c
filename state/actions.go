package state

import "time"

// ActionKind is what an admin asked of the supervisor.
type ActionKind string

const (
	// ActionPause holds restarts of Tools (all tools when empty) until
	// Until, or until a resume ends it.
	ActionPause ActionKind = "pause"
	// ActionResume ends the pauses of Tools (all pauses when empty).
	ActionResume ActionKind = "resume"
	// ActionForget clears Tools' budget, backoff and given-up state: their
	// attempts stay, marked forgiven.
	ActionForget ActionKind = "forget"
	// ActionRetry restarts Tools on the next cycle that can, backoff or not.
	ActionRetry ActionKind = "retry"
	// ActionValveRelease lets the safety valve through AtMost restarts per
	// cycle until no tool wants a restart.
	ActionValveRelease ActionKind = "valve-release"
)

// Action is one admin action, kept in the state file with who asked, when
// and why, and how it ended.
type Action struct {
	ID     uint64     `json:"id"` // given by the store, increasing
	Kind   ActionKind `json:"kind"`
	Tools  []string   `json:"tools,omitempty"` // none: the whole platform
	Who    string     `json:"who"`             // SUDO_USER, else the user who ran the command
	At     time.Time  `json:"at"`
	Reason string     `json:"reason,omitempty"`
	Until  time.Time  `json:"until,omitzero"`    // a pause's declared end
	AtMost int        `json:"at_most,omitempty"` // a valve release's restarts per cycle
	// Ended is when the action stopped applying: a pause over or resumed,
	// a retry done, a release no longer needed; zero while it applies.
	Ended time.Time `json:"ended,omitzero"`
	// EndedBecause says why, in words: "resumed by alice (action 12)",
	// "restarted", "no tool wants a restart".
	EndedBecause string `json:"ended_because,omitempty"`
	// Seen is when the daemon first acted on it (and logged it); zero
	// before.
	Seen time.Time `json:"seen,omitzero"`
}

// Active reports whether the action still applies at now: not ended, and,
// for a pause, not past its declared end.
func (a Action) Active(now time.Time) bool {
	if !a.Ended.IsZero() {
		return false
	}
	return a.Kind != ActionPause || now.Before(a.Until)
}

// Concerns reports whether the action concerns tool: it names it, or names
// no tool (the whole platform).
func (a Action) Concerns(tool string) bool {
	if len(a.Tools) == 0 {
		return true
	}
	for _, t := range a.Tools {
		if t == tool {
			return true
		}
	}
	return false
}
