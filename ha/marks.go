package ha

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"webservicemonitor/state"
)

// HistoryMarks remember, in a file of this host, each etcd history (by
// prefix) it has seen, so that one whose keys are gone — deleted, the
// cluster rebuilt empty, the endpoints pointed at another cluster — is not
// taken for a new one: a fresh history would give every tool a fresh
// restart budget. The state file's marker does the same for one host.
type HistoryMarks struct {
	Path string
	// ReadOnly checks without marking: an audit's, status's (the daemon's
	// cycles mark; they hold the state file's lock).
	ReadOnly bool
}

// MarksPath is where the marks of the daemon using stateFile's lock live.
func MarksPath(stateFile string) string { return stateFile + ".etcd-initialised" }

// check returns state.ErrHistoryLost when the history at prefix has no
// layout (never written, or lost) although this host saw it, and marks a
// history seen for the first time.
func (m *HistoryMarks) check(prefix string, schema int) error {
	seen, err := m.seen(prefix)
	switch {
	case err != nil:
		return err
	case schema == 0 && seen:
		return fmt.Errorf("%w: the history in etcd at %s is gone (its %s key is missing), but %s says this host saw it; "+
			"it is not re-created silently: stop the daemons and restore it with `webservicemonitor state import --replace EXPORT`, "+
			"or, to start a fresh history deliberately, remove that line from %s on every host",
			state.ErrHistoryLost, prefix, "meta/schema", m.Path, m.Path)
	case schema > 0 && !seen && !m.ReadOnly:
		return m.mark(prefix)
	}
	return nil
}

func (m *HistoryMarks) seen(prefix string) (bool, error) {
	f, err := os.Open(m.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading the etcd histories this host saw: %w", err)
	}
	defer f.Close()
	lines := bufio.NewScanner(f)
	for lines.Scan() {
		if strings.TrimSpace(lines.Text()) == prefix {
			return true, nil
		}
	}
	if err := lines.Err(); err != nil {
		return false, fmt.Errorf("reading %s: %w", m.Path, err)
	}
	return false, nil
}

// mark appends prefix, synced: once the history is seen, its loss must be
// noticed even after a power cut.
func (m *HistoryMarks) mark(prefix string) error {
	f, err := os.OpenFile(m.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("marking the etcd history at %s as seen: %w", prefix, err)
	}
	_, werr := f.WriteString(prefix + "\n")
	serr := f.Sync()
	if err := errors.Join(werr, serr, f.Close()); err != nil {
		return fmt.Errorf("marking the etcd history at %s as seen in %s: %w", prefix, m.Path, err)
	}
	return nil
}
