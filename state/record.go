package state

import "time"

// Outcome is how one restart attempt ended.
type Outcome string

const (
	// OutcomeStarted is written before the restart command runs, so a
	// supervisor killed mid-restart still counts the attempt on its next start.
	OutcomeStarted Outcome = "started"
	// OutcomePendingVerification is a restart whose command exited 0: the
	// real webservice does so whenever qsub accepted the job, whether or not
	// the job ever serves, so the attempt is settled only by seeing the tool
	// up (OutcomeSucceeded) or not within the up timeout (OutcomeNotUp).
	OutcomePendingVerification Outcome = "pending-verification"
	OutcomeSucceeded           Outcome = "succeeded" // seen up after its restart
	OutcomeNotUp               Outcome = "not-up"    // its command exited 0, but it was not seen up in time
	OutcomeFailed              Outcome = "failed"
	OutcomeTimedOut            Outcome = "timed-out"
	OutcomeCancelled           Outcome = "cancelled"
)

// Attempt is one restart the supervisor ran (or started) for a tool.
type Attempt struct {
	At      time.Time `json:"at"`
	Outcome Outcome   `json:"outcome"`
	Reason  string    `json:"reason,omitempty"` // why it was restarted
	// Detail is how it ended, in words: what the command said when it
	// failed, or what was seen instead of the tool up.
	Detail   string        `json:"detail,omitempty"`
	Duration time.Duration `json:"duration,omitempty"` // how long the command ran
	// Forgiven marks an attempt an admin forgave (forget): it stays in
	// the history but no longer counts against the budget or the backoff.
	Forgiven bool `json:"forgiven,omitempty"`
	// Host is the supervisor host that started the attempt, when several
	// share the history (high availability); empty on a single host, so
	// its records keep their bytes.
	Host string `json:"host,omitempty"`
}

// ToolRecord is everything the supervisor remembers about one tool between
// cycles. The zero value means "never seen".
type ToolRecord struct {
	// Attempts in chronological order; pruned once older than the retention.
	Attempts []Attempt `json:"attempts,omitempty"`
	// BackoffStep is the position in the exponential backoff: the number of
	// attempts since the tool was last seen up long enough to be forgotten.
	BackoffStep int `json:"backoff_step,omitempty"`
	// DownSince is when the current down streak was first seen; zero while up.
	DownSince time.Time `json:"down_since,omitzero"`
	// UpSince is when the current up streak was first seen; zero while down.
	UpSince time.Time `json:"up_since,omitzero"`
	// LastSeenUp is the last cycle that saw the tool up. It is written when
	// the tool comes up and when it goes down, not every cycle, so a stable
	// platform costs no writes; while the tool is up, "now" is the answer.
	LastSeenUp time.Time `json:"last_seen_up,omitzero"`
	// GivenUpAt is when the tool exhausted its restart budget; zero when not given up.
	GivenUpAt time.Time `json:"given_up_at,omitzero"`
	// Notice is the action and reason code last written to the tool's
	// service.log, so that a refusal is told once per change, not every cycle.
	Notice string `json:"notice,omitempty"`
}
