package main

// The state file outside a cycle: what --check-config says about it and the
// --migrate-down rollback.

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"webservicemonitor/internal/config"
	"webservicemonitor/state"
)

// checkStateFile tells whether this binary can use the state file, without
// writing it: --check-config runs before a (re)start and in the package's
// postinst, so a file from a newer release (a downgrade) stops the new
// binary there, not in its first cycle. A file locked by a running daemon
// cannot be read and is only noted: that daemon already uses it.
func checkStateFile(cfg *config.Config) (string, error) {
	fi, err := os.Stat(cfg.StateFile)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "no state file yet", nil
	case err != nil:
		return "", fmt.Errorf("state-file: %w", err)
	case fi.Size() == 0:
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
	if meta.Schema < state.SchemaVersion {
		return fmt.Sprintf("schema %d, migrated to %d at start", meta.Schema, state.SchemaVersion), nil
	}
	return fmt.Sprintf("schema %d", meta.Schema), nil
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
