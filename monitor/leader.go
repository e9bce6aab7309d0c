package monitor

import (
	"context"
	"fmt"
	"time"

	"github.com/rs/zerolog"
)

// Leader is the host that acts for all the hosts sharing the history.
type Leader struct {
	Host  string
	PID   int
	Since time.Time
}

// LeaderSeen is who led when a cycle asked: Known false when no host
// did, Err set when it could not be found out (a note: the cycle goes on).
type LeaderSeen struct {
	Leader
	Known bool
	Err   error
}

// WhoLeads finds out which host leads; ok is false when none does.
type WhoLeads func(ctx context.Context) (l Leader, ok bool, err error)

// Role says, at each tick of the daemon, whether this host leads the
// hosts sharing the history: it then runs the acting cycle, else the
// standby's read-only one.
type Role interface {
	Leading() bool
}

// whoLeads records in rep which host leads, when this host is one of
// several.
func (c *Cycle) whoLeads(ctx context.Context, rep *Report) {
	if c.WhoLeads == nil {
		return
	}
	l, ok, err := c.WhoLeads(ctx)
	rep.Leader = &LeaderSeen{Leader: l, Known: ok && err == nil, Err: err}
}

// String says who leads, as the audit and the log show it.
func (s LeaderSeen) String() string {
	switch {
	case s.Err != nil:
		return "unknown (" + s.Err.Error() + ")"
	case !s.Known:
		return "none"
	}
	return fmt.Sprintf("%s (pid %d) since %s", s.Host, s.PID, s.Since.UTC().Format(time.RFC3339))
}

// jsonLeader is the leader in the --output json report.
type jsonLeader struct {
	Host  string    `json:"host"`
	PID   int       `json:"pid"`
	Since time.Time `json:"since"`
}

// leaderJSON is the report's "leader" member: absent on a single host,
// null when no host leads (or who does is unknown), else the leader.
func (r Report) leaderJSON() **jsonLeader {
	if r.Leader == nil {
		return nil
	}
	var l *jsonLeader
	if r.Leader.Known {
		l = &jsonLeader{Host: r.Leader.Host, PID: r.Leader.PID, Since: r.Leader.Since.UTC()}
	}
	return &l
}

// standby reports whether the report is a standby's: a host of several
// that planned without acting (or an audit of theirs).
func (r Report) standby() bool { return r.Leader != nil && r.DryRun }

// logLeader says, in a standby's log, that it stands by and for whom; on
// the leader it adds nothing (its cycle line says it acted).
func (r Report) logLeader(log zerolog.Logger) {
	if !r.standby() {
		return
	}
	ev := log.Info()
	if r.Leader.Err != nil {
		ev = log.Warn().AnErr("leader_error", r.Leader.Err)
	}
	if r.Leader.Known {
		ev = ev.Str("leader", r.Leader.Host).Time("leader_since", r.Leader.Since)
	}
	ev.Msg("standing by, restarting nothing: leader " + r.Leader.String())
}
