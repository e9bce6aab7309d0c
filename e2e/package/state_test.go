//go:build e2e

package e2epackage

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"webservicemonitor/state"
)

// schemaOf reads a state file's schema the way an audit would: read-only.
func schemaOf(t *testing.T, path string) int {
	t.Helper()
	s, err := state.Open(path, state.Options{ReadOnly: true, LockTimeout: 2 * time.Second})
	if err != nil {
		t.Fatalf("opening %s read-only: %v", path, err)
	}
	defer s.Close()
	m, err := s.Meta()
	if err != nil {
		t.Fatal(err)
	}
	return m.Schema
}

func histories(t *testing.T, path string) map[string]state.ToolRecord {
	t.Helper()
	s, err := state.Open(path, state.Options{ReadOnly: true, LockTimeout: 2 * time.Second})
	if err != nil {
		t.Fatalf("opening %s read-only: %v", path, err)
	}
	defer s.Close()
	h, err := s.Histories()
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]state.ToolRecord, len(h))
	for _, th := range h {
		out[th.Tool] = th.Record
	}
	return out
}

// TestStateFileUpgradeRefusalAndRollback runs the real binary against state
// files of other releases (the fixtures in state/testdata, copied): an
// older one is migrated forward, a newer one is refused by every mode with
// exit status 3 and left byte-for-byte as it was, and --migrate-down takes a
// current file back for the release before.
func TestStateFileUpgradeRefusalAndRollback(t *testing.T) {
	root := repoRoot(t)
	monitorBin, demogridBin := buildBinaries(t)
	world := demoWorld(t, demogridBin)
	fixture := func(name string) string {
		path := filepath.Join(t.TempDir(), "state.db")
		copyFile(t, filepath.Join(root, "testdata", "state", name), path)
		return path
	}
	sup := func(stateFile string, args ...string) result {
		t.Helper()
		return runCmd(t, nil, append([]string{monitorBin, "--config", world.ConfigFile, "--state-file", stateFile, "--log-format", "json"}, args...)...)
	}

	t.Run("older schema is migrated forward", func(t *testing.T) {
		path := fixture("schema-0.db")
		if got := schemaOf(t, path); got != 0 {
			t.Fatalf("fixture schema %d, want 0", got)
		}
		if r := sup(path, "--check-config"); r.code != 0 || !strings.Contains(r.stdout, "schema 0, migrated to 1 at start") {
			t.Errorf("--check-config on a schema 0 file: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		if r := sup(path, "--once"); r.code == 3 || r.code == 2 {
			t.Fatalf("--once on a schema 0 file: exit %d\n%s", r.code, r.stderr)
		}
		if got := schemaOf(t, path); got != state.SchemaVersion {
			t.Errorf("schema after --once: %d, want %d", got, state.SchemaVersion)
		}
	})

	t.Run("newer schema is refused untouched by every mode", func(t *testing.T) {
		modes := []struct {
			name string
			args []string
		}{
			{"daemon", []string{"--interval", "1s"}},
			{"--once", []string{"--once"}},
			{"--dry-run", []string{"--dry-run"}},
			{"--dry-run json", []string{"--dry-run", "--output", "json"}},
			{"--check-config", []string{"--check-config"}},
			{"--migrate-down", []string{"--migrate-down=0"}},
		}
		for _, m := range modes {
			t.Run(m.name, func(t *testing.T) {
				path := fixture("schema-2.db")
				before := fileSum(t, path)
				r := sup(path, m.args...)
				if r.code != 3 {
					t.Errorf("exit %d, want 3\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
				}
				if out := r.stdout + r.stderr; !strings.Contains(out, "has schema 2, newer than this binary understands (1)") ||
					!strings.Contains(out, "--migrate-down=1") {
					t.Errorf("the refusal does not say what and how:\n%s", out)
				}
				if fileSum(t, path) != before {
					t.Error("the newer state file was changed")
				}
				leftovers, _ := filepath.Glob(path + ".schema-*")
				if len(leftovers) > 0 {
					t.Errorf("backup files written: %v", leftovers)
				}
			})
		}
	})

	t.Run("--migrate-down takes a current file back and keeps a backup", func(t *testing.T) {
		path := fixture("schema-0.db")
		if r := sup(path, "--once"); r.code == 3 {
			t.Fatalf("--once: exit 3\n%s", r.stderr)
		}
		// Not while a daemon holds the file: once it says it is starting,
		// it holds the daemon lock.
		daemon := exec.Command(monitorBin, "--config", world.ConfigFile, "--state-file", path, "--interval", "1s", "--log-format", "json")
		logs, err := daemon.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := daemon.Start(); err != nil {
			t.Fatal(err)
		}
		started := make(chan struct{})
		go func() {
			sc := bufio.NewScanner(logs)
			for sc.Scan() {
				if strings.Contains(sc.Text(), "webservicemonitor starting") {
					close(started)
					break
				}
			}
			io.Copy(io.Discard, logs)
		}()
		select {
		case <-started:
		case <-time.After(20 * time.Second):
			daemon.Process.Kill()
			daemon.Wait()
			t.Fatal("the daemon did not start")
		}
		r := sup(path, "--migrate-down=0")
		daemon.Process.Kill()
		daemon.Wait()
		if r.code != 3 || !strings.Contains(r.stderr, "stop the daemon first") {
			t.Errorf("--migrate-down beside a running daemon: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}

		r = sup(path, "--migrate-down=0")
		if r.code != 0 || !strings.Contains(r.stdout, "migrated from schema 1 down to 0") {
			t.Fatalf("--migrate-down=0: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		if got := schemaOf(t, path); got != 0 {
			t.Errorf("schema after --migrate-down=0: %d", got)
		}
		// The backup is bbolt's consistent copy of the file as it was (not
		// byte-identical: bbolt rewrites its meta pages when copying).
		if got := schemaOf(t, path+".schema-1.bak"); got != 1 {
			t.Errorf("backup schema %d, want 1", got)
		}
		if got, want := histories(t, path+".schema-1.bak"), histories(t, path); len(got) == 0 || len(got) != len(want) {
			t.Errorf("backup holds %d tool histories, the rolled-back file %d", len(got), len(want))
		}
		if r := sup(path, "--migrate-down=0"); r.code != 0 || !strings.Contains(r.stdout, "nothing to do") {
			t.Errorf("second --migrate-down=0: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		// This release, started again, takes it forward again.
		if r := sup(path, "--once"); r.code == 3 {
			t.Fatalf("--once after the rollback: exit 3\n%s", r.stderr)
		}
		if got := schemaOf(t, path); got != state.SchemaVersion {
			t.Errorf("schema after --once: %d", got)
		}
	})

	t.Run("the daemon exits on a newer file instead of retrying", func(t *testing.T) {
		path := fixture("schema-2.db")
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, monitorBin, "--config", world.ConfigFile, "--state-file", path).CombinedOutput()
		if ctx.Err() != nil {
			t.Fatalf("the daemon kept running on a newer state file:\n%s", out)
		}
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
			t.Errorf("daemon: %v, want exit status 3\n%s", err, out)
		}
		if _, err := os.Stat(path); err != nil {
			t.Fatal(err)
		}
	})
}
