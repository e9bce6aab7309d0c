package ha

import (
	"context"
	"errors"
	"fmt"

	"webservicemonitor/monitor"
	"webservicemonitor/state"
	"webservicemonitor/state/etcdstore"
)

// notLeadingError is a refusal for not leading, as both etcd's fence
// (ErrNotLeader) and the cycle (monitor.ErrNotLeader) name it, so that
// callers test one or the other alike. Its text is the refusal's.
type notLeadingError struct{ err error }

func (e notLeadingError) Error() string   { return e.err.Error() }
func (e notLeadingError) Unwrap() []error { return []error{e.err, monitor.ErrNotLeader} }

// asNotLeader marks err, a refusal for not leading, as the cycle's too.
func asNotLeader(err error) error { return notLeadingError{err} }

// Leadership is the right to write the history: the fence of the current
// term, and the step-down when etcd refused it. *Elector is one.
type Leadership interface {
	Leading() (etcdstore.Fence, bool)
	Lost(reason string)
}

// EtcdHistory is the restart history kept in etcd, shared by the hosts:
// monitor.History for the leader's acting cycle (every write fenced on its
// leadership) and, ReadOnly, for a standby's or an audit's.
type EtcdHistory struct {
	Store *etcdstore.Store
	// Leader is the right to write; unused when ReadOnly.
	Leader Leadership
	// ReadOnly is a standby's or an audit's view: its read errors are a
	// failed source rather than a reason to stop, and it never records.
	ReadOnly bool
	// Marks, when set, refuse a history this host saw and that is gone
	// (state.ErrHistoryLost); nil: no check (an audit, status).
	Marks *HistoryMarks
}

var _ monitor.History = EtcdHistory{}

// The elector is the cycle's pre-exec check of the right to act.
var _ monitor.Leadership = (*Elector)(nil)

// Read returns the history at one etcd revision. An acting cycle that is
// not the leader reads nothing: it must not plan restarts it cannot record.
func (h EtcdHistory) Read(ctx context.Context) (monitor.HistorySnapshot, error) {
	if !h.ReadOnly {
		if _, ok := h.Leader.Leading(); !ok {
			return monitor.HistorySnapshot{}, fmt.Errorf("%w: reading restart history from etcd: %w", monitor.ErrStateUnavailable, asNotLeader(ErrNotLeader))
		}
	}
	snap, err := h.Store.Read(ctx)
	if err == nil && h.Marks != nil {
		err = h.Marks.check(h.Store.Keys().Prefix(), snap.Schema)
	}
	switch {
	case err != nil && h.ReadOnly:
		return monitor.HistorySnapshot{}, fmt.Errorf("reading restart history: %w", err)
	case err != nil:
		// An action that cannot be read may be a pause: acting without it
		// is not safe, as with the state file.
		return monitor.HistorySnapshot{}, fmt.Errorf("%w: %w", monitor.ErrStateUnavailable, err)
	}
	out := monitor.HistorySnapshot{Records: snap.Records, LastCycle: snap.LastCycle, Actions: snap.Actions}
	if len(snap.Records) == 0 && snap.LastCycle.IsZero() {
		out.Note = "no history in etcd at " + h.Store.Keys().Prefix() + " yet"
	}
	return out, nil
}

// RecordAttempts writes the plan's records, the attempts it starts
// included, fenced on the leadership.
func (h EtcdHistory) RecordAttempts(ctx context.Context, ch state.Changes) error {
	return h.commit(ctx, "recording planned restarts", ch)
}

// RecordOutcomes writes how the started attempts ended, fenced on the
// leadership.
func (h EtcdHistory) RecordOutcomes(ctx context.Context, ch state.Changes) error {
	return h.commit(ctx, "recording restart outcomes", ch)
}

// commit writes ch with the current term's fence. Without the leadership
// nothing is sent; a write etcd refused for its fence ends the leadership
// at once, before the cycle could start what it recorded.
func (h EtcdHistory) commit(ctx context.Context, what string, ch state.Changes) error {
	if h.ReadOnly {
		return fmt.Errorf("%w: %s in etcd: the history was opened read-only", monitor.ErrStateUnavailable, what)
	}
	f, ok := h.Leader.Leading()
	if !ok {
		return fmt.Errorf("%w: %s in etcd: %w", monitor.ErrStateUnavailable, what, asNotLeader(ErrNotLeader))
	}
	err := h.Store.Commit(ctx, f, ch)
	if errors.Is(err, ErrNotLeader) {
		h.Leader.Lost("a fenced write was refused: " + err.Error())
		err = asNotLeader(err)
	}
	if err != nil {
		return fmt.Errorf("%w: %s: %w", monitor.ErrStateUnavailable, what, err)
	}
	return nil
}
