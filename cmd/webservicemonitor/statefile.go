package main

// The state file outside a cycle: what --check-config says about it and the
// --migrate-down rollback.

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/rs/zerolog"

	"webservicemonitor/internal/config"
	"webservicemonitor/state"
)

// checkStateFile tells whether this binary can use the state file, without
// writing it: --check-config runs before a (re)start and in the package's
// postinst, so a file from a newer release (a downgrade), a damaged file or
// a lost history stops the new binary there (and the unit's ExecStartPre
// refuses to start it), not in its first cycle. A file locked by a running
// daemon cannot be read and is only noted: that daemon already uses it.
func checkStateFile(cfg *config.Config) (string, error) {
	fi, err := os.Stat(cfg.StateFile)
	switch {
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("state-file: %w", err)
	case err != nil || fi.Size() == 0:
		if _, merr := os.Lstat(state.MarkerPath(cfg.StateFile)); merr == nil {
			break // a lost history: Open says so
		}
		if err != nil {
			return "no state file yet", nil
		}
		return "empty state file, initialised at start", nil
	}
	store, err := state.Open(cfg.StateFile, state.Options{ReadOnly: true, LockTimeout: cfg.StateLockWait})
	if errors.Is(err, state.ErrLocked) {
		return "state file in use by a running daemon, schema not checked", nil
	}
	if err != nil {
		return "", err
	}
	defer store.Close()
	meta, err := store.Meta()
	if err != nil {
		return "", err
	}
	if err := store.Check(); err != nil {
		return "", err
	}
	if meta.Schema < state.SchemaVersion {
		return fmt.Sprintf("schema %d, migrated to %d at start", meta.Schema, state.SchemaVersion), nil
	}
	return fmt.Sprintf("schema %d", meta.Schema), nil
}

// unusableHistory tells a lost or damaged history, which the daemon
// survives (each cycle then fails its state source), from the errors that
// stop it (a newer release's file, another daemon).
func unusableHistory(err error) bool {
	return errors.Is(err, state.ErrDamaged) || errors.Is(err, state.ErrHistoryLost)
}

// openStateAtStart opens the state file read-write once before the first
// cycle: it creates it on first use (said once, here), migrates an older
// schema, and runs bbolt's full check, which cycles do not.
func openStateAtStart(cfg *config.Config, log zerolog.Logger) error {
	store, err := state.Open(cfg.StateFile, state.Options{LockTimeout: cfg.StateLockWait})
	if err != nil {
		return err
	}
	if store.Created() {
		log.Info().Str("state_file", cfg.StateFile).Str("marker", state.MarkerPath(cfg.StateFile)).
			Msg("no state file yet: created it, with an empty restart history (first use)")
	}
	checkErr := store.Check()
	return errors.Join(checkErr, store.Close())
}

// resetHistory is the admin's --reset-history: with the daemon lock held (so
// not while a daemon runs), a lost or damaged state file is set aside and a
// fresh history started.
func resetHistory(cfg *config.Config, stdout, stderr io.Writer) int {
	release, err := state.AcquireDaemonLockWait(cfg.StateFile+".lock", cfg.StateLockWait)
	if err != nil {
		fmt.Fprintf(stderr, "webservicemonitor: --reset-history: %v: stop the daemon first (systemctl stop webservicemonitor)\n", err)
		return exitStateError
	}
	defer release()
	r, err := state.ResetHistory(cfg.StateFile, time.Now(), state.Options{LockTimeout: cfg.StateLockWait})
	switch {
	case errors.Is(err, state.ErrNothingToReset):
		fmt.Fprintf(stdout, "state file %s is usable: its restart history is kept, nothing was changed\n", cfg.StateFile)
		return exitOK
	case err != nil:
		fmt.Fprintf(stderr, "webservicemonitor: --reset-history: %v\n", err)
		return exitStateError
	}
	fmt.Fprintf(stdout, "state file %s was unusable: %v\n", cfg.StateFile, r.Reason)
	if r.SetAside != "" {
		fmt.Fprintf(stdout, "renamed %s to %s (kept, not deleted)\n", cfg.StateFile, r.SetAside)
	}
	fmt.Fprintf(stdout, "started a fresh, empty restart history in %s: every tool's restart budget starts again\n", cfg.StateFile)
	return exitOK
}

// migrateDown rewrites the state file for the release before this one, with
// the daemon lock held so that no daemon or --once runs meanwhile.
func migrateDown(cfg *config.Config, stdout, stderr io.Writer) int {
	release, err := state.AcquireDaemonLockWait(cfg.StateFile+".lock", cfg.StateLockWait)
	if err != nil {
		fmt.Fprintf(stderr, "webservicemonitor: --migrate-down: %v: stop the daemon first (systemctl stop webservicemonitor)\n", err)
		return exitStateError
	}
	defer release()
	rb, err := state.MigrateDown(cfg.StateFile, cfg.MigrateDown, state.Options{LockTimeout: cfg.StateLockWait})
	if err != nil {
		fmt.Fprintf(stderr, "webservicemonitor: --migrate-down: %v\n", err)
		return exitStateError
	}
	if rb.From == rb.To {
		fmt.Fprintf(stdout, "state file %s is at schema %d already: nothing to do\n", cfg.StateFile, rb.From)
		return exitOK
	}
	fmt.Fprintf(stdout, "state file %s migrated from schema %d down to %d; the file as it was is kept in %s.\n"+
		"Install the release that reads schema %d before starting the daemon again: this one would migrate the file forward at its next start.\n",
		cfg.StateFile, rb.From, rb.To, rb.Backup, rb.To)
	return exitOK
}
