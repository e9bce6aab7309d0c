package ha

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"webservicemonitor/state"
)

// A history this host saw and that is gone is refused, never taken for a
// new one; a history seen for the first time is marked, another prefix's
// mark says nothing of this one.
func TestHistoryMarks(t *testing.T) {
	tests := []struct {
		name     string
		marked   string // the file's content before; "-": no file
		schema   int    // the history's layout as read (0: its key missing)
		readOnly bool   // an audit's check
		lost     bool
		markedTo string // the file's content after; "-": no file
	}{
		{"a new history, never seen", "-", 0, false, false, "-"},
		{"a history seen for the first time is marked", "-", 1, false, false, "/wsm/\n"},
		{"a history seen before", "/wsm/\n", 1, false, false, "/wsm/\n"},
		{"a history seen before and gone", "/other/\n/wsm/\n", 0, false, true, "/other/\n/wsm/\n"},
		{"another prefix seen: this one is new", "/other/\n", 0, false, false, "/other/\n"},
		{"another prefix seen: this one is marked beside it", "/other/\n", 1, false, false, "/other/\n/wsm/\n"},
		{"an audit checks without marking", "-", 1, true, false, "-"},
		{"an audit refuses a history gone", "/wsm/\n", 0, true, true, "/wsm/\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &HistoryMarks{Path: filepath.Join(t.TempDir(), "state.db.etcd-initialised"), ReadOnly: tt.readOnly}
			if tt.marked != "-" {
				if err := os.WriteFile(m.Path, []byte(tt.marked), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			err := m.check("/wsm/", tt.schema)
			if errors.Is(err, state.ErrHistoryLost) != tt.lost || (!tt.lost && err != nil) {
				t.Fatalf("check: %v, want lost %v", err, tt.lost)
			}
			if tt.lost && !strings.Contains(err.Error(), "state import --replace") {
				t.Errorf("the refusal does not say how to restore the history: %v", err)
			}
			got, rerr := os.ReadFile(m.Path)
			if tt.markedTo == "-" {
				if rerr == nil {
					t.Errorf("marks written: %q", got)
				}
				return
			}
			if string(got) != tt.markedTo {
				t.Errorf("marks %q, want %q", got, tt.markedTo)
			}
		})
	}
}
