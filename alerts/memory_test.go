package alerts

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"webservicemonitor/state"
)

// TestMemoryNeverRecreatesALostHistory: the alerts' memory opens the state
// file read-write; a lost history (file gone, marker there) stays lost, for
// the admin's --reset-history to deal with.
func TestMemoryNeverRecreatesALostHistory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := state.Open(path, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	m := StateFile{Path: path, LockWait: time.Second}
	if _, err := m.Load(); !errors.Is(err, state.ErrHistoryLost) {
		t.Errorf("Load: %v, want ErrHistoryLost", err)
	}
	if err := m.Save(map[string]state.AlertRecord{"a": {StartsAt: time.Now()}}); !errors.Is(err, state.ErrHistoryLost) {
		t.Errorf("Save: %v, want ErrHistoryLost", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the lost state file was re-created: %v", err)
	}
}
