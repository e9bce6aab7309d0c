package monitor

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"time"

	"webservicemonitor/state"
)

// StateFileHistory is the restart history kept in a bbolt state file. The
// file is opened only for the length of each step, so that an audit can
// read it between an acting cycle's steps.
type StateFileHistory struct {
	Path     string
	LockWait time.Duration // how long to wait for the file's lock
	// ReadOnly is the audit's view: the file is opened read-only, may be
	// missing (no history yet) and its read errors are a failed source
	// rather than a reason to stop. It never records.
	ReadOnly bool
}

// Read returns the history and when the last cycle ran.
func (h StateFileHistory) Read(ctx context.Context) (HistorySnapshot, error) {
	snap, err := h.read()
	switch {
	case err == nil:
		return snap, nil
	case h.ReadOnly && errors.Is(err, fs.ErrNotExist):
		return HistorySnapshot{Note: "no state file yet: no restart history"}, nil
	case h.ReadOnly:
		return HistorySnapshot{}, fmt.Errorf("reading restart history from %s: %w", h.Path, err)
	}
	return HistorySnapshot{}, fmt.Errorf("%w: opening %s: %w", ErrStateUnavailable, h.Path, err)
}

func (h StateFileHistory) read() (HistorySnapshot, error) {
	store, err := h.open()
	if err != nil {
		return HistorySnapshot{}, err
	}
	defer store.Close()
	records, err := store.Histories()
	if err != nil {
		return HistorySnapshot{}, err
	}
	meta, err := store.Meta()
	if err != nil {
		return HistorySnapshot{}, err
	}
	// An action that cannot be read may be a pause: acting without it is
	// not safe, so the history as a whole is not usable.
	actions, err := store.Actions()
	if err != nil {
		return HistorySnapshot{}, fmt.Errorf("reading the admin actions: %w", err)
	}
	return HistorySnapshot{Records: records, LastCycle: meta.LastCycle, Actions: actions}, nil
}

// RecordAttempts writes the plan's records, the attempts it starts included.
func (h StateFileHistory) RecordAttempts(ctx context.Context, ch state.Changes) error {
	if err := h.commit(ch); err != nil {
		return fmt.Errorf("%w: recording planned restarts in %s: %w", ErrStateUnavailable, h.Path, err)
	}
	return nil
}

// RecordOutcomes writes how the started attempts ended.
func (h StateFileHistory) RecordOutcomes(ctx context.Context, ch state.Changes) error {
	if err := h.commit(ch); err != nil {
		return fmt.Errorf("%w: recording restart outcomes in %s: %w", ErrStateUnavailable, h.Path, err)
	}
	return nil
}

func (h StateFileHistory) commit(ch state.Changes) error {
	if h.ReadOnly {
		return errors.New("the history was opened read-only")
	}
	store, err := h.open()
	if err != nil {
		return err
	}
	if err := store.Commit(ch); err != nil {
		store.Close()
		return err
	}
	return store.Close()
}

func (h StateFileHistory) open() (*state.Store, error) {
	return state.Open(h.Path, state.Options{ReadOnly: h.ReadOnly, LockTimeout: h.LockWait})
}

// changes is what a plan writes to the history before its restarts run:
// every record that changed, and the tools to forget. A restart's record
// (its attempt) is written on its own, just before its command starts.
func changes(p Plan) state.Changes {
	ch := state.Changes{At: p.Now, Put: map[string]state.ToolRecord{}, Delete: p.Forget,
		Actions: p.Actions, DeleteActions: p.PruneActions}
	for _, d := range p.Decisions {
		switch {
		case d.RecordChanged && d.Action != ActionRestart:
			ch.Put[d.Tool] = *d.Next
		case d.Action == ActionRestart && (d.Forgiven || d.ClockCorrected):
			// Written with the action marked seen, before the restart's
			// own record: a restart that never starts must not lose it.
			ch.Put[d.Tool] = *d.Previous
		}
	}
	return ch
}

// outcomeChanges is what the restarts' results write: the records of the
// tools whose restart started, with their last attempt's outcome filled in.
func outcomeChanges(p Plan, results []Result) state.Changes {
	byTool := make(map[string]Result, len(results))
	for _, r := range results {
		byTool[r.Tool] = r
	}
	ch := state.Changes{At: p.Now, Put: map[string]state.ToolRecord{}}
	for _, d := range p.Decisions {
		r, ok := byTool[d.Tool]
		if !ok || !r.Started() || !d.RecordChanged || len(d.Next.Attempts) == 0 {
			continue
		}
		ch.Put[d.Tool] = withOutcome(*d.Next, r)
	}
	return ch
}

// withOutcome returns rec with its last attempt's outcome set; a copy, so
// that the plan's record (which reports and alerts read) stays what was
// decided.
func withOutcome(rec state.ToolRecord, r Result) state.ToolRecord {
	rec.Attempts = slices.Clone(rec.Attempts)
	last := &rec.Attempts[len(rec.Attempts)-1]
	last.Outcome, last.Duration, last.Detail = r.Outcome, r.Duration, r.Detail
	if len(r.Cleared) > 0 && r.Detail == "" {
		last.Detail = "cleared " + clearingText(r.Cleared) + " first"
	}
	return rec
}
