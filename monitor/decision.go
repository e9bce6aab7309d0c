package monitor

import (
	"time"

	"webservicemonitor/sources/manifest"
	"webservicemonitor/state"
)

// Action is what the supervisor does (or would do) about one tool this cycle.
type Action string

const (
	ActionNone    Action = "none"    // up: nothing to do
	ActionRestart Action = "restart" // down and the policy allows a restart now
	ActionWait    Action = "wait"    // not serving, but restarting would not help now, or the state is unknown
	ActionHold    Action = "hold"    // down, restart held back by backoff or the safety valve
	ActionGiveUp  Action = "give-up" // down and the restart budget is spent: page a human
	ActionSkip    Action = "skip"    // not ours to touch (bad manifest, other backend, no manifest)
)

// Code is a stable identifier of why a decision was taken. The human Reason
// sentence changes with times and counts; the code does not, so it labels
// metrics and decides when service.log hears about a change.
type Code string

// The reason codes. A skipped manifest's code is the manifest scanner's
// reason (manifest.Reason*), converted.
const (
	CodeHealthy            Code = "healthy"                // running and registered
	CodeUnchecked          Code = "registration-unchecked" // running; registration checking is off
	CodeNoJob              Code = "no-job"                 // no web job on the grid
	CodeJobError           Code = "job-error"              // the job is stuck in error (E)
	CodeJobDeleting        Code = "job-deleting"           // the job is being deleted (d)
	CodeUnregistered       Code = "unregistered"           // running, not (actively) registered with the proxy
	CodeRegistering        Code = "registering"            // running, within the registration grace
	CodePending            Code = "pending"                // queued
	CodePendingTooLong     Code = "pending-too-long"       // queued longer than the policy's limit
	CodeHeld               Code = "held"                   // on hold before it ever ran
	CodeSuspended          Code = "suspended"              // suspended, or its queue is
	CodeUnknownState       Code = "unknown-state"          // state letters this supervisor does not know
	CodeGridUnknown        Code = "grid-unknown"           // qstat failed this cycle
	CodeProxyUnknown       Code = "proxy-unknown"          // the proxy's /list failed this cycle
	CodeBackoff            Code = "backoff"                // restart held back until the backoff elapses
	CodeBudgetExhausted    Code = "budget-exhausted"       // restart budget spent: given up
	CodeValve              Code = "valve"                  // restart held back by the safety valve
	CodeOtherBackend       Code = "other-backend"          // the manifest's backend is not ours
	CodeProxyOnly          Code = "proxy-only"             // registered, but no manifest asks for a web service
	CodeHistoryUnknown     Code = "history-unknown"        // the restart history could not be read
	CodeVerifying          Code = "verifying"              // restarted; waiting for it to be seen up
	CodeQueuedAfterRestart Code = "queued-after-restart"   // still queued after a restart that did not bring it up
	CodePaused             Code = "paused"                 // restart held by an admin\'s pause
	CodeInFlightElsewhere  Code = "in-flight-elsewhere"    // another host's restart of it may still be running
)

// Decision is the supervisor's verdict on one tool for one cycle. Reason is
// the one sentence that the log, the audit, service.log and alerts all show.
//
// A plan holds one Decision per tool, every cycle, so the struct is kept
// small: what the manifest says is referenced rather than copied, and an
// unchanged record is the one the history holds. MakePlan shares these with
// its inputs and between decisions; read them, never modify them.
type Decision struct {
	Tool string
	// Manifest is the tool's manifest (Web, Backend, Release, Account, UID,
	// GID, Home); for a skipped or proxy-only tool it holds only what is
	// known (the home and the verified account, if any). MakePlan never
	// leaves it nil.
	*manifest.Manifest

	// Grid view: the tool's best job, if any, and how many it has.
	JobNumber int
	GridState string // raw SGE letters, "" without a job
	Queue     string
	Jobs      int
	Phase     Phase
	// Clear lists the tool's jobs to remove by number: before its restart
	// (a job in error, stuck being deleted, or left queued by a restart
	// that did not bring the tool up), or, beside a job that serves, the
	// stuck ones. Nil for almost every tool.
	Clear []StuckJob

	// Registered is nil when registration is unknown or not checked.
	Registered *bool

	Action Action
	Code   Code
	Reason string

	// Attempts is the number of restarts in the current window, including
	// the one this decision starts.
	Attempts    int
	NextRestart time.Time // when a restart is next allowed; zero when none is needed

	// Notice is a line for the tool's service.log when this decision is a
	// change into a refusal; empty otherwise.
	Notice string

	// Previous is the tool's history as this cycle found it; Next is its
	// history after this cycle (with the started attempt for a restart),
	// the same record when nothing changed. RecordChanged says whether Next
	// must be written. MakePlan never leaves either nil.
	Previous      *state.ToolRecord
	Next          *state.ToolRecord
	RecordChanged bool
	GivenUp       bool // paged: the budget is spent
	// Retry is the admin's retry this decision's restart carries out; nil
	// otherwise.
	Retry *state.Action
	// Settled is the tool's restart that awaited being seen up, when this
	// cycle settled it (succeeded: seen up; not-up: its up timeout passed),
	// with its outcome and detail; nil otherwise. Next holds it too.
	Settled *state.Attempt
	// Forgiven says that an admin's forget, seen first this cycle, marked
	// the tool's attempts forgiven in Previous: Next is written so that it
	// is, once.
	Forgiven bool
	// ClockCorrected says that times in the tool's history were in the
	// future (a clock stepped back, or one that ran ahead and was put
	// right): Previous has them as now, and Next is written so that the
	// correction is made, and logged, once.
	ClockCorrected bool
}

// DownSince is when the current down streak was first seen; zero while up.
func (d Decision) DownSince() time.Time {
	if d.Next == nil {
		return time.Time{}
	}
	return d.Next.DownSince
}

// Up reports whether the tool's web service is serving.
func (d Decision) Up() bool { return d.Action == ActionNone }

// Down reports whether the tool is known to need a restart (whether or not
// the policy lets it have one).
func (d Decision) Down() bool {
	switch d.Action {
	case ActionRestart, ActionHold, ActionGiveUp:
		return true
	}
	return false
}

// StuckJob is a job of a tool's that the supervisor removes by number.
type StuckJob struct {
	Number int
	State  string // its SGE state letters when it was seen
}

// Valve is the state of the safety valve in one cycle.
type Valve struct {
	Tripped bool
	Wanting int    // tools that needed a restart this cycle
	Limit   int    // the most one cycle may restart before the valve trips
	Allowed int    // restarts let through while tripped
	Reason  string // empty unless tripped
	// Release is the admin's valve release in effect, if any: while it
	// lasts, Allowed restarts go through a tripped valve and nobody is
	// paged for it.
	Release *state.Action
}
