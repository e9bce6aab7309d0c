package state

// A lost history. A state file that is missing or empty looks the same on a
// first install and after someone (a restore, a full disk, a slip of the
// hand) emptied or deleted it; re-creating it silently in the second case
// gives every tool a fresh restart budget. The two are told apart by a
// marker beside the file, written once the file is first initialised:
// the file missing or empty while the marker is there means the history was
// lost, and only the admin's --reset-history (ResetHistory) starts a new one.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"
)

// ErrHistoryLost matches (errors.Is) the error for a state file that is
// missing or empty although its marker says it was initialised.
var ErrHistoryLost = errors.New("restart history lost")

// MarkerPath is the marker of the state file at path.
func MarkerPath(path string) string { return path + ".initialised" }

// lostError names the file and how it was lost.
type lostError struct {
	path, how string
}

func (e *lostError) Error() string {
	return fmt.Sprintf("restart history lost: state file %s is %s, but %s says it was initialised before; it is not re-created silently: %s",
		e.path, e.how, MarkerPath(e.path), resetAdvice)
}

func (e *lostError) Is(target error) bool { return target == ErrHistoryLost }

// checkLost tells whether a missing or empty file (how: "missing", "empty")
// is a first use (nil) or a lost history.
func checkLost(path, how string) error {
	_, err := os.Lstat(MarkerPath(path))
	switch {
	case err == nil:
		return &lostError{path: path, how: how}
	case errors.Is(err, fs.ErrNotExist):
		return nil
	}
	return fmt.Errorf("opening state file %s: reading its marker: %w", path, err)
}

// writeMarker records that the file at path has been initialised. It is
// written after bbolt has synced the file's first pages, and never removed.
func writeMarker(path string, now time.Time) error {
	text := fmt.Sprintf("The state file %s was initialised (or first seen by this release) on %s.\n"+
		"While this marker exists, that file missing or empty means the restart history was lost:\n"+
		"the supervisor restarts nothing until an admin runs webservicemonitor --reset-history.\n",
		path, now.UTC().Format(time.RFC3339))
	if err := os.WriteFile(MarkerPath(path), []byte(text), fileMode); err != nil {
		return fmt.Errorf("writing the marker of state file %s: %w", path, err)
	}
	return nil
}

// hasMarker reports whether the file's marker exists.
func hasMarker(path string) (bool, error) {
	_, err := os.Lstat(MarkerPath(path))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// Reset is what ResetHistory did.
type Reset struct {
	// SetAside is where the unusable file now is; "" when it was missing.
	SetAside string
	// Reason is why the file was unusable.
	Reason error
}

// ErrNothingToReset matches the error ResetHistory returns for a file that
// is usable: its history is kept.
var ErrNothingToReset = errors.New("the state file is usable: nothing to reset")

// ResetHistory sets a lost or damaged state file aside (renamed to
// <path>.unusable-<UTC time>, never deleted) and starts a fresh, empty
// history in its place: no tool records, no admin actions (their record
// stays in the file set aside), and action IDs counting from 1 again. A usable file is left alone (ErrNothingToReset), and
// so is one from a newer release (ErrNewerSchema: roll back with
// --migrate-down instead). The caller keeps the daemon out (its lock).
func ResetHistory(path string, now time.Time, opt Options) (Reset, error) {
	reason := usable(path, opt)
	switch {
	case reason == nil:
		return Reset{}, fmt.Errorf("resetting state file %s: %w (it passes bbolt's check)", path, ErrNothingToReset)
	case !errors.Is(reason, ErrDamaged) && !errors.Is(reason, ErrHistoryLost):
		return Reset{}, fmt.Errorf("resetting state file %s: %w", path, reason)
	}
	r := Reset{Reason: reason}
	if _, err := os.Lstat(path); err == nil {
		r.SetAside = path + ".unusable-" + now.UTC().Format("20060102T150405Z")
		if _, err := os.Lstat(r.SetAside); err == nil {
			return Reset{}, fmt.Errorf("resetting state file %s: %s already exists; try again in a second", path, r.SetAside)
		}
		if err := os.Rename(path, r.SetAside); err != nil {
			return Reset{}, fmt.Errorf("resetting state file %s: setting it aside: %w", path, err)
		}
	}
	s, err := openReadWrite(path, time.Now().Add(opt.LockTimeout), true)
	if err != nil {
		return r, fmt.Errorf("resetting state file %s: starting a fresh history: %w", path, err)
	}
	if err := s.Close(); err != nil {
		return r, err
	}
	return r, writeMarker(path, now)
}

// usable opens the file read-only and runs the full check: nil when the
// file can be used as it is. An admin action that does not decode does not
// make it unusable (Actions says which; the cycle can delete it), but one
// that bbolt cannot read (ErrDamaged) does.
func usable(path string, opt Options) error {
	s, err := Open(path, Options{ReadOnly: true, LockTimeout: opt.LockTimeout})
	if errors.Is(err, fs.ErrNotExist) {
		return &lostError{path: path, how: "missing"}
	}
	if err != nil {
		return err
	}
	defer s.Close()
	if err := s.Check(); err != nil {
		return err
	}
	if _, err := s.Histories(); err != nil {
		return err
	}
	if _, err := s.Actions(); err != nil && !errors.Is(err, ErrUnreadableAction) {
		return err
	}
	return nil
}
