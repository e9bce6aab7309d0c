package alerts

import (
	"time"

	"webservicemonitor/state"
)

// Memory keeps the firing set across the supervisor's restarts.
type Memory interface {
	Load() (map[string]state.AlertRecord, error)
	Save(map[string]state.AlertRecord) error
}

// StateFile is the Memory of a daemon: the state file, opened only for the
// moment of each read or write, like the cycle does, so that audits can
// read it in between. A lost or damaged state file is an error here as in
// the cycle (state.Open never re-creates a lost history), so the firing set
// waits in memory until the admin's --reset-history.
type StateFile struct {
	Path     string
	LockWait time.Duration
}

// Load returns the recorded firing alerts.
func (s StateFile) Load() (map[string]state.AlertRecord, error) {
	store, err := state.Open(s.Path, state.Options{LockTimeout: s.LockWait})
	if err != nil {
		return nil, err
	}
	defer store.Close()
	return store.FiringAlerts()
}

// Save records firing as the whole firing set.
func (s StateFile) Save(firing map[string]state.AlertRecord) error {
	store, err := state.Open(s.Path, state.Options{LockTimeout: s.LockWait})
	if err != nil {
		return err
	}
	if err := store.SetFiringAlerts(firing); err != nil {
		store.Close()
		return err
	}
	return store.Close()
}
