package main

// state export and state import: the whole history carried between the
// state file and etcd, to move a single host to several sharing their
// history and back.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"webservicemonitor/internal/config"
	"webservicemonitor/state"
	"webservicemonitor/state/etcdstore"
)

// importCampaignSlack is how long past a lease state import waits to lead:
// a daemon stopped just before leaves its key for one lease at most.
const importCampaignSlack = 10 * time.Second

// stateExport writes the configured store's history to --output or
// standard output. It only reads: a daemon may run meanwhile.
func stateExport(ctx context.Context, cfg *config.Config, stdout, stderr io.Writer) int {
	d, from, err := exportHistory(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "webservicemonitor state export: %v\n", err)
		return exitStateError
	}
	data, err := encodeDump(d)
	if err == nil {
		err = writeOutput(cfg.Transfer.File, data, stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "webservicemonitor state export: %v\n", err)
		return exitBadConfig
	}
	to := cfg.Transfer.File
	if to == "" {
		to = "standard output"
	}
	fmt.Fprintf(stderr, "exported %s from %s to %s\n", dumpSummary(d), from, to)
	return exitOK
}

// exportHistory reads the whole history: the state file read-only (it
// waits for a running daemon's cycle to end, as status does), or etcd at
// one revision (no leadership needed).
func exportHistory(ctx context.Context, cfg *config.Config) (state.Dump, string, error) {
	if shared(cfg) {
		cl, err := dialCluster(cfg)
		if err != nil {
			return state.Dump{}, "", err
		}
		defer disconnect(cl)
		d, err := cl.store.Export(ctx)
		return d, etcdAt(cfg), err
	}
	from := "state file " + cfg.StateFile
	if _, err := os.Stat(cfg.StateFile); err != nil {
		return state.Dump{}, "", fmt.Errorf("%s: %w: no history to export", from, err)
	}
	store, err := state.Open(cfg.StateFile, state.Options{ReadOnly: true, LockTimeout: cfg.StateLockWait})
	if err != nil {
		return state.Dump{}, "", fmt.Errorf("the state file is not usable: %w", err)
	}
	d, err := store.Export()
	return d, from, errors.Join(err, store.Close())
}

// writeOutput writes data to file, whole or not at all (a temporary file
// renamed), or to stdout when file is "".
func writeOutput(file string, data []byte, stdout io.Writer) error {
	if file == "" {
		_, err := stdout.Write(data)
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", file, err)
	}
	_, err = tmp.Write(data)
	err = errors.Join(err, tmp.Sync(), tmp.Close())
	if err == nil {
		err = os.Rename(tmp.Name(), file)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("writing %s: %w", file, err)
	}
	return nil
}

// dumpSummary counts what a history holds, for the admin.
func dumpSummary(d state.Dump) string {
	return fmt.Sprintf("%d tools' records, %d admin actions (last ID given %d), %d firing alerts",
		len(d.Records), len(d.Actions), d.ActionsSeq, len(d.Alerts))
}

// stateImport writes an exported history into the configured store.
func stateImport(ctx context.Context, cfg *config.Config, stdout, stderr io.Writer) int {
	fail := func(code int, err error) int {
		fmt.Fprintf(stderr, "webservicemonitor state import: %v\n", err)
		return code
	}
	data, err := os.ReadFile(cfg.Transfer.File)
	if err != nil {
		return fail(exitBadConfig, err)
	}
	d, err := decodeDump(cfg.Transfer.File, data)
	switch {
	case errors.Is(err, errNewerDump):
		return fail(exitStateError, err)
	case err != nil:
		return fail(exitBadConfig, err)
	}
	var into string
	if shared(cfg) {
		into, err = importIntoEtcd(ctx, cfg, d, stderr)
	} else {
		into, err = importIntoStateFile(cfg, d)
	}
	if errors.Is(err, state.ErrNotEmpty) {
		err = fmt.Errorf("%w (the flag is --replace; state export first keeps a copy of what it replaces)", err)
	}
	if err != nil {
		return fail(exitStateError, err)
	}
	fmt.Fprintf(stdout, "imported %s from %s into %s\n", dumpSummary(d), cfg.Transfer.File, into)
	return exitOK
}

// importIntoStateFile writes d into the state file with the daemon lock
// held: not while a daemon (or --once) runs against it.
func importIntoStateFile(cfg *config.Config, d state.Dump) (string, error) {
	into := "state file " + cfg.StateFile
	release, err := state.AcquireDaemonLockWait(cfg.StateFile+".lock", cfg.StateLockWait)
	if err != nil {
		return into, fmt.Errorf("%w: stop the daemon first (systemctl stop webservicemonitor)", err)
	}
	defer release()
	store, err := state.Open(cfg.StateFile, state.Options{LockTimeout: cfg.StateLockWait})
	if err != nil {
		return into, fmt.Errorf("the state file is not usable: %w", err)
	}
	err = store.Import(d, cfg.Transfer.Replace)
	return into, errors.Join(err, store.Close())
}

// importIntoEtcd writes d into etcd as the leader: an import is a write of
// the history, fenced like a cycle's, so that no daemon's cycle can
// interleave with it. It campaigns on the daemons' election, waiting a
// lease and some for a stopped daemon's key to go, and gives the
// leadership up (its lease revoked) as soon as the import is done.
func importIntoEtcd(ctx context.Context, cfg *config.Config, d state.Dump, stderr io.Writer) (string, error) {
	into := etcdAt(cfg)
	cl, err := dialCluster(cfg)
	if err != nil {
		return into, err
	}
	leave := cl.campaign()
	defer leave()
	wait := cfg.LeaderTTL + importCampaignSlack
	fmt.Fprintf(stderr, "taking the leadership of %s to import (waiting up to %s)\n", into, wait)
	cl.awaitLeadership(ctx, wait)
	fence, ok := cl.elector.Leading()
	if !ok {
		return into, leadershipHeld(ctx, cfg, cl, wait)
	}
	err = cl.store.Import(ctx, fence, d, cfg.Transfer.Replace)
	if errors.Is(err, etcdstore.ErrNotLeader) {
		err = fmt.Errorf("%w: the leadership was lost during the import: run it again with --replace", err)
	}
	return into, err
}

// leadershipHeld is why an import could not lead: a daemon holds the
// leadership (or etcd did not answer).
func leadershipHeld(ctx context.Context, cfg *config.Config, cl *cluster, waited time.Duration) error {
	leader, err := readLeader(ctx, cfg, cl)
	switch {
	case err != nil:
		return err
	case leader == nil:
		return fmt.Errorf("%s: not the leader after %s: stop the daemons (or wait) and run the import again", etcdAt(cfg), waited)
	}
	return fmt.Errorf("%s: %s holds the leadership (pid %d, since %s): stop the daemons (or wait) and run the import again",
		etcdAt(cfg), leader.Host, leader.PID, leader.Since.UTC().Format(time.DateTime+" MST"))
}
