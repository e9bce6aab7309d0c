package state

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

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

// The admin actions live in their own bucket, created on first write:
//
//	actions/<ID as 8 bytes, big-endian>  JSON-encoded Action
//
// Big-endian keys make bbolt's byte order the order of IDs. The IDs come
// from the bucket's sequence, so they increase and are never given twice,
// even after the daemon prunes the oldest: the bucket is therefore never
// deleted, only its keys. A file without the bucket simply has no actions,
// so adding it needed no schema version, like the alerts bucket: every
// release looks its buckets up by name and never lists them, so an older
// binary ignores it (downMigrations says what a rollback keeps).
var bucketActions = []byte("actions")

// actionKeySize is the length of every key this package writes in the
// actions bucket.
const actionKeySize = 8

func actionKey(id uint64) []byte { return binary.BigEndian.AppendUint64(nil, id) }

// actionName is how an error names a stored key: "action 12", or the raw
// bytes of a key this package never writes.
func actionName(k []byte) string {
	if len(k) == actionKeySize {
		return fmt.Sprintf("action %d", binary.BigEndian.Uint64(k))
	}
	return fmt.Sprintf("action key %q", k)
}

// ErrUnreadableAction matches (errors.Is) Actions' error for stored actions
// that do not decode. Such damage stays with the actions: Histories,
// FiringAlerts and Commit never decode them, and Actions still returns every
// action that decodes, so the caller decides what an action it cannot read
// means (it cannot tell whether it was a pause). Commit's DeleteActions
// removes one by the ID its error names.
var ErrUnreadableAction = errors.New("stored admin action cannot be read")

// UnreadableActionsError is Actions' error when some stored actions do not
// decode.
type UnreadableActionsError struct {
	Path string
	// IDs of the unreadable actions, increasing (a key that is not an ID,
	// which this package never writes, is only in Problems).
	IDs []uint64
	// Problems says, for each unreadable key, which it is and what is wrong.
	Problems []string
}

func (e *UnreadableActionsError) Error() string {
	return fmt.Sprintf("reading admin actions from state file %s: %d cannot be read (%s); the other actions and every tool's history are unaffected",
		e.Path, len(e.Problems), strings.Join(e.Problems, "; "))
}

func (e *UnreadableActionsError) Is(target error) bool { return target == ErrUnreadableAction }

func (e *UnreadableActionsError) add(k []byte, err error) {
	if len(k) == actionKeySize {
		e.IDs = append(e.IDs, binary.BigEndian.Uint64(k))
	}
	e.Problems = append(e.Problems, fmt.Sprintf("%s: %v", actionName(k), err))
}

// ErrUnknownAction matches (errors.Is) Commit's error for an action to
// replace that the file does not hold: a cycle updates the actions admins
// recorded, it never invents one.
var ErrUnknownAction = errors.New("no such admin action in the state file")

// Actions returns every stored action, sorted by ID. When some do not
// decode, it returns the others with an *UnreadableActionsError (matching
// ErrUnreadableAction); any other error (a damaged file) comes alone.
func (s *Store) Actions() ([]Action, error) {
	var out []Action
	unreadable := &UnreadableActionsError{Path: s.path}
	err := s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketActions)
		if b == nil {
			return nil // never written, or a file from before admin actions
		}
		// bbolt iterates in key order, which is ID order.
		return b.ForEach(func(k, v []byte) error {
			a, err := decodeAction(k, v)
			if err != nil {
				unreadable.add(k, err)
				return nil
			}
			out = append(out, a)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("reading admin actions from state file %s: %w", s.path, err)
	}
	if len(unreadable.Problems) > 0 {
		return out, unreadable
	}
	return out, nil
}

// decodeAction decodes the value stored under k, which must be the ID the
// value itself carries.
func decodeAction(k, v []byte) (Action, error) {
	var a Action
	switch {
	case len(k) != actionKeySize:
		return a, fmt.Errorf("key is %d bytes, not an %d-byte ID", len(k), actionKeySize)
	case v == nil:
		return a, errors.New("is a bucket, not a value")
	}
	if err := json.Unmarshal(v, &a); err != nil {
		return Action{}, err
	}
	if id := binary.BigEndian.Uint64(k); a.ID != id {
		return Action{}, fmt.Errorf("stored as action %d but says it is action %d", id, a.ID)
	}
	return a, nil
}

// RecordAction stores a as a new action and replaces the whole record of
// each tool in put (as Commit's Put does), in one transaction: afterwards
// both are stored, or, on error, neither. The action gets the next ID (1 for
// the first in a file); a.ID is ignored. It returns the action as stored.
//
// The admin commands call it while the daemon is between cycles: a
// read-write Store holds the file's exclusive lock, so no cycle runs
// meanwhile. A read-only Store refuses.
func (s *Store) RecordAction(a Action, put map[string]ToolRecord) (Action, error) {
	fail := func(err error) (Action, error) {
		return Action{}, fmt.Errorf("recording %s action in state file %s: %w", a.Kind, s.path, err)
	}
	if s.db.IsReadOnly() {
		return fail(errors.New("the file is open read-only"))
	}
	if err := checkAction(a); err != nil {
		return fail(err)
	}
	tools, encoded, err := encodePut(put)
	if err != nil {
		return fail(err)
	}
	err = s.update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketActions)
		if err != nil {
			return fmt.Errorf("creating bucket %s: %w", bucketActions, err)
		}
		if a.ID, err = b.NextSequence(); err != nil {
			return fmt.Errorf("numbering the action: %w", err)
		}
		v, err := json.Marshal(a)
		if err != nil {
			return fmt.Errorf("encoding action %d: %w", a.ID, err)
		}
		if err := b.Put(actionKey(a.ID), v); err != nil {
			return fmt.Errorf("storing action %d: %w", a.ID, err)
		}
		return putRecords(tx, tools, encoded)
	})
	if err != nil {
		return fail(err)
	}
	return a, nil
}

// checkAction refuses an action no command means: without a kind, or
// naming a tool by the empty string (no tool is the whole platform).
func checkAction(a Action) error {
	if a.Kind == "" {
		return errors.New("action without a kind")
	}
	if slices.Contains(a.Tools, "") {
		return errors.New("action naming an empty tool name")
	}
	return nil
}

// encodeActions encodes the actions a Commit replaces, before its
// transaction.
func encodeActions(actions []Action) ([][]byte, error) {
	encoded := make([][]byte, len(actions))
	for i, a := range actions {
		if err := checkAction(a); err != nil {
			return nil, fmt.Errorf("action %d: %w", a.ID, err)
		}
		v, err := json.Marshal(a)
		if err != nil {
			return nil, fmt.Errorf("encoding action %d: %w", a.ID, err)
		}
		encoded[i] = v
	}
	return encoded, nil
}

// applyActions replaces actions (encoded as encoded) and then deletes the
// IDs in del, inside a Commit's transaction; an action in both is gone.
func applyActions(tx *bolt.Tx, actions []Action, encoded [][]byte, del []uint64) error {
	b := tx.Bucket(bucketActions)
	if b == nil {
		if len(actions) > 0 {
			return fmt.Errorf("replacing action %d: %w", actions[0].ID, ErrUnknownAction)
		}
		return nil // nothing stored, nothing to delete
	}
	for i, a := range actions {
		k := actionKey(a.ID)
		if b.Get(k) == nil {
			return fmt.Errorf("replacing action %d: %w", a.ID, ErrUnknownAction)
		}
		if err := b.Put(k, encoded[i]); err != nil {
			return fmt.Errorf("storing action %d: %w", a.ID, err)
		}
	}
	for _, id := range del {
		err := b.Delete(actionKey(id))
		if errors.Is(err, bolterrors.ErrIncompatibleValue) {
			// A bucket under an action's key, which Actions reports as
			// unreadable: deleting it is how that report is answered.
			err = b.DeleteBucket(actionKey(id))
		}
		if err != nil {
			return fmt.Errorf("deleting action %d: %w", id, err)
		}
	}
	return nil
}
