package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"webservicemonitor/internal/config"
	"webservicemonitor/state"
)

// usedStateFile is a state file a daemon has run with: initialised, with a
// history and its marker.
func usedStateFile(t *testing.T) *config.Config {
	t.Helper()
	cfg := &config.Config{StateFile: filepath.Join(t.TempDir(), "state.db"), StateLockWait: time.Second}
	s, err := state.Open(cfg.StateFile, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rec := state.ToolRecord{Attempts: []state.Attempt{{At: time.Now(), Outcome: state.OutcomeFailed, Reason: "no grid job"}}}
	if err := s.Commit(state.Changes{At: time.Now(), Put: map[string]state.ToolRecord{"mytool": rec}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestCheckConfigAndResetOnAnUnusableHistory: --check-config fails on a
// lost or damaged file, naming it and the command that fixes it; that
// command sets the file aside, and then --check-config passes.
func TestCheckConfigAndResetOnAnUnusableHistory(t *testing.T) {
	cases := []struct {
		name   string
		damage func(path string) error
	}{
		{"deleted", os.Remove},
		{"emptied", func(p string) error { return os.Truncate(p, 0) }},
		{"meta page overwritten", func(p string) error {
			f, err := os.OpenFile(p, os.O_WRONLY, 0)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = f.WriteAt(bytes.Repeat([]byte{0xAA}, 64), 16)
			return err
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := usedStateFile(t)
			if err := c.damage(cfg.StateFile); err != nil {
				t.Fatal(err)
			}
			_, err := checkStateFile(cfg)
			if err == nil || !strings.Contains(err.Error(), cfg.StateFile) || !strings.Contains(err.Error(), "--reset-history") {
				t.Fatalf("--check-config: %v; want an error naming the file and --reset-history", err)
			}
			var out, errOut bytes.Buffer
			if code := resetHistory(cfg, &out, &errOut); code != exitOK {
				t.Fatalf("--reset-history: exit %d\n%s%s", code, out.String(), errOut.String())
			}
			if c.name != "deleted" && !strings.Contains(out.String(), "renamed "+cfg.StateFile+" to "+cfg.StateFile+".unusable-") {
				t.Errorf("--reset-history does not say what it renamed:\n%s", out.String())
			}
			if note, err := checkStateFile(cfg); err != nil {
				t.Errorf("--check-config after the reset: %v", err)
			} else if !strings.Contains(note, "schema") {
				t.Errorf("--check-config after the reset: %s", note)
			}
		})
	}
	t.Run("a usable file is kept", func(t *testing.T) {
		cfg := usedStateFile(t)
		var out, errOut bytes.Buffer
		if code := resetHistory(cfg, &out, &errOut); code != exitOK || !strings.Contains(out.String(), "nothing was changed") {
			t.Fatalf("--reset-history on a usable file: exit %d\n%s%s", code, out.String(), errOut.String())
		}
	})
	t.Run("first use is fine", func(t *testing.T) {
		cfg := &config.Config{StateFile: filepath.Join(t.TempDir(), "state.db")}
		if note, err := checkStateFile(cfg); err != nil || note != "no state file yet" {
			t.Fatalf("--check-config before first use: %q, %v", note, err)
		}
	})
}
