// Command webservicemonitor keeps a grid platform's tool web services up.
// This file only parses the configuration, wires the parts together and
// picks the command: the daemon (run), one acting cycle (--once), a
// read-only audit (--dry-run), or an admin command.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"webservicemonitor/internal/accounts"
	"webservicemonitor/internal/buildinfo"
	"webservicemonitor/internal/config"
	"webservicemonitor/monitor"
	"webservicemonitor/state"
)

// Exit statuses. The audit's 0/1/2 are a contract with other tools.
// onceCampaignSlack is how long past a lease --once waits to win: a
// leader that died leaves its key for one lease at most.
const onceCampaignSlack = 5 * time.Second

const (
	exitOK         = 0
	exitNotAllUp   = 1
	exitBadConfig  = 2 // also: a source failed
	exitStateError = 3 // the state file is locked, unreadable, damaged, lost or from a newer release; etcd did not answer or its leadership is held
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	cfg, err := config.Load(args, stdout)
	switch {
	case errors.Is(err, config.ErrHelpShown):
		return exitOK
	case err != nil:
		printLines(stderr, "webservicemonitor: ", err.Error())
		return exitBadConfig
	case cfg.Version:
		fmt.Fprintln(stdout, buildinfo.Get())
		return exitOK
	case unshared(cfg) != "":
		fmt.Fprintf(stderr, "webservicemonitor: %s is not available with etcd-endpoints: it would use this host's state file, which a daemon sharing its history in etcd does not read\n", unshared(cfg))
		if instead := insteadInHA(unshared(cfg)); instead != "" {
			fmt.Fprintf(stderr, "webservicemonitor: instead: %s\n", instead)
		}
		return exitBadConfig
	case cfg.Command == config.CommandCheckConfig:
		return checkConfig(cfg, stdout, stderr)
	case cfg.MigrateDown >= 0:
		return migrateDown(cfg, stdout, stderr)
	case cfg.ResetHistory:
		return resetHistory(cfg, stdout, stderr)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	switch cfg.Command {
	case config.CommandStatus:
		return statusCommand(ctx, cfg, stdout, stderr)
	case config.CommandPause, config.CommandResume, config.CommandForget, config.CommandRetry, config.CommandValveRelease:
		return adminCommand(ctx, cfg, stdout, stderr)
	case config.CommandStateExport:
		return stateExport(ctx, cfg, stdout, stderr)
	case config.CommandStateImport:
		return stateImport(ctx, cfg, stdout, stderr)
	}
	applyMemoryLimit(cfg)
	log := newLogger(cfg, stderr)
	for _, w := range cfg.Warnings {
		log.Warn().Msg(w)
	}
	switch {
	case cfg.DryRun:
		defer survivingHangups(log)()
		return audit(ctx, cfg, stdout, log)
	case cfg.Once:
		defer survivingHangups(log)()
		return once(ctx, cfg, log)
	}
	return daemon(ctx, cfg, log, args)
}

// checkConfig prints the configuration's warnings, checks the state file
// and, with etcd-endpoints, etcd, and says the configuration is OK (its
// errors were printed by run).
func checkConfig(cfg *config.Config, stdout, stderr io.Writer) int {
	for _, w := range cfg.Warnings {
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}
	if shared(cfg) {
		// The state file is not this host's history any more: only its
		// lock is used, and etcd is checked instead.
		if err := checkEtcd(cfg, stdout, stderr); err != nil {
			fmt.Fprintf(stderr, "webservicemonitor: %v\n", err)
			return exitStateError
		}
		fmt.Fprintf(stdout, "configuration OK (project %q, homes %s, history in etcd at %s)\n", cfg.Project, cfg.Homes, cfg.EtcdPrefix)
		return exitOK
	}
	note, err := checkStateFile(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "webservicemonitor: %v\n", err)
		return exitStateError
	}
	fmt.Fprintf(stdout, "configuration OK (project %q, homes %s, state %s: %s)\n", cfg.Project, cfg.Homes, cfg.StateFile, note)
	return exitOK
}

// printLines prints each line of text (each of the errors config.Load
// joined) on its own line, after prefix.
func printLines(w io.Writer, prefix, text string) {
	for _, line := range strings.Split(text, "\n") {
		fmt.Fprintf(w, "%s%s\n", prefix, line)
	}
}

// survivingHangups keeps SIGHUP, whose default action would kill the
// process in the middle of a restart and orphan it, from doing anything but
// a log line, in the one-cycle modes (the daemon reloads on it). It returns
// the function that stops listening.
func survivingHangups(log zerolog.Logger) func() {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-hup:
				log.Warn().Msg("SIGHUP received: a single cycle does not reload its configuration; carrying on")
			case <-done:
				return
			}
		}
	}()
	return func() {
		signal.Stop(hup)
		close(done)
	}
}

// applyMemoryLimit sets the heap's soft limit unless GOMEMLIMIT, the
// runtime's own knob, was given.
func applyMemoryLimit(cfg *config.Config) {
	if cfg.MemoryLimit > 0 && os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(cfg.MemoryLimit)
	}
}

// audit runs one read-only cycle, which prints itself. With etcd-endpoints
// it reads the history in etcd and names the leader, without campaigning.
func audit(ctx context.Context, cfg *config.Config, stdout io.Writer, log zerolog.Logger) int {
	cl, err := joinCluster(cfg, log)
	if err != nil {
		log.Error().Err(err).Msg("cannot reach the hosts sharing the history")
		return exitBadConfig
	}
	if cl != nil {
		defer disconnect(cl)
	}
	cycle, err := newAuditCycle(cfg, log, cl, monitor.AuditPrinter{Out: stdout, Format: cfg.Output})
	if err != nil {
		log.Error().Err(err).Msg("audit failed")
		return exitBadConfig
	}
	rep, err := cycle.Run(ctx, ctx)
	switch {
	case err != nil:
		log.Error().Err(err).Msg("audit failed")
		return exitBadConfig
	case len(rep.ReportFailures) > 0:
		return exitBadConfig // the audit could not be printed (logged by the cycle)
	}
	for _, s := range rep.Sources {
		if errors.Is(s.Err, state.ErrNewerSchema) {
			return exitStateError // a rollback to do, not a source to retry
		}
	}
	return rep.ExitCode()
}

// lockDaemon makes sure only one acting supervisor runs against a state file
// and that the file is one this binary understands, before any cycle. A
// lost or damaged history does not stop it (a crash loop would help no one):
// it is logged, and every acting cycle then reports the state source failed
// and restarts nothing, which pages, until an admin runs --reset-history.
func lockDaemon(cfg *config.Config, log zerolog.Logger) (func() error, error) {
	// Waits a little: a predecessor killed with SIGKILL may hold the lock for
	// a moment after its death (see state.AcquireDaemonLockWait).
	release, err := state.AcquireDaemonLockWait(cfg.StateFile+".lock", cfg.StateLockWait)
	if err != nil {
		return nil, err
	}
	if shared(cfg) {
		// The history is in etcd: the lock only keeps a second daemon off
		// this host, and the state file is neither created nor read.
		return release, nil
	}
	err = openStateAtStart(cfg, log)
	if unusableHistory(err) {
		log.Error().Err(err).Str("state_file", cfg.StateFile).
			Msg("the restart history is unusable: carrying on without restarting anything until an admin runs --reset-history")
		return release, nil
	}
	if err != nil {
		release()
		return nil, err
	}
	return release, nil
}

func once(ctx context.Context, cfg *config.Config, log zerolog.Logger) int {
	release, err := lockDaemon(cfg, log)
	if err != nil {
		log.Error().Err(err).Msg("cannot use the state file")
		return exitStateError
	}
	defer release()
	// The alerts of one acting cycle are sent too (no metrics listener:
	// nothing would be there to scrape it).
	obs, err := startObservability(cfg, log, false)
	if err != nil {
		log.Error().Err(err).Msg("cannot set up alerting")
		return exitBadConfig
	}
	defer obs.stop()
	cl, err := joinCluster(cfg, log)
	if err != nil {
		log.Error().Err(err).Msg("cannot join the hosts sharing the history")
		return exitBadConfig
	}
	leading := true
	if cl != nil {
		obs.share(cl)
		cl.rememberHistories(cfg)
		defer cl.campaign()()
		leading = cl.awaitLeadership(ctx, cfg.LeaderTTL+onceCampaignSlack)
	}
	cycle, err := onceCycle(cfg, log, obs.oneShotReporters(cfg), cl, leading)
	if err != nil {
		log.Error().Err(err).Msg("cannot compose the cycle")
		return exitBadConfig
	}
	kill, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	context.AfterFunc(ctx, func() {
		time.AfterFunc(cfg.ShutdownGrace, cancel)
	})
	rep, err := cycle.Run(ctx, kill)
	if err != nil && leading {
		return exitStateError
	}
	return rep.ExitCode()
}

// onceCycle is --once's cycle: the acting one, unless this host of a
// cluster did not win in time; it then stands by for the one cycle, read-only,
// and says so (its exit is the report's, as the audit's).
func onceCycle(cfg *config.Config, log zerolog.Logger, reporters []monitor.Reporter, cl *cluster, leading bool) (*monitor.Cycle, error) {
	if leading {
		return newActingCycle(cfg, log, reporters, nil, cl)
	}
	log.Warn().Str("host", cl.host).Dur("waited", cfg.LeaderTTL+onceCampaignSlack).
		Msg("this host is not the leader: it restarts nothing this cycle, it only reads and reports (another host acts)")
	return newAuditCycle(cfg, log, cl, reporters...)
}

func daemon(ctx context.Context, cfg *config.Config, log zerolog.Logger, args []string) int {
	release, err := lockDaemon(cfg, log)
	if err != nil {
		log.Error().Err(err).Msg("cannot use the state file")
		return exitStateError
	}
	defer release()
	if cfg.PasswdFile == "" && !accounts.NSSViaLibc() {
		log.Warn().Msg("built without cgo: accounts are resolved from /etc/passwd only, not through NSS/LDAP")
	}
	info := buildinfo.Get()
	log.Info().Str("version", info.Version).Str("commit", info.Commit).Dur("interval", cfg.Interval).
		Str("homes", cfg.Homes).Str("state_file", cfg.StateFile).Msg("webservicemonitor starting")
	obs, err := startObservability(cfg, log, true)
	if err != nil {
		log.Error().Err(err).Msg("cannot start metrics or alerting")
		return exitBadConfig
	}
	defer obs.stop()
	cl, err := joinCluster(cfg, log)
	if err != nil {
		log.Error().Err(err).Msg("cannot join the hosts sharing the history")
		return exitBadConfig
	}
	gained := make(chan struct{}, 1)
	if cl != nil {
		obs.share(cl)
		cl.rememberHistories(cfg)
		cl.whenGained(notifyOn(gained)) // before the campaign: no win is missed
		defer cl.campaign()()           // after the last cycle: its outcomes are still recorded
		log.Info().Str("host", cl.host).Strs("etcd", cfg.EtcdEndpoints).Str("prefix", cfg.EtcdPrefix).
			Dur("leader_ttl", cfg.LeaderTTL).Msg("sharing the restart history through etcd: acting only while leading, standing by otherwise")
	}
	obs.startSending()
	reporters := obs.daemonReporters()
	var watchdog monitor.ProgressObserver
	if systemd := startSystemd(ctx, cfg, log); systemd != nil { // nil: systemd did not start the daemon
		reporters, watchdog = append(reporters, systemd), systemd
	}
	build := func(c *config.Config) (monitor.Cycles, error) {
		return newDaemonCycles(c, log, reporters, watchdog, cl)
	}
	cycles, err := build(cfg)
	if err != nil {
		log.Error().Err(err).Msg("cannot compose the cycle")
		return exitBadConfig
	}
	obs.metrics.SetPauseMax(cfg.PauseMax)
	obs.metrics.ConfigLoaded(true, time.Now())
	d := &monitor.Daemon{Cycle: cycles.Acting, Standby: cycles.Standby, Interval: cfg.Interval, ShutdownGrace: cfg.ShutdownGrace}
	if cl != nil {
		d.Role, d.Gained = cl, gained
	}
	(&reloader{args: args, current: cfg, daemon: d, build: build, metrics: obs.metrics, log: log}).watch(ctx)
	if err := d.Run(ctx); err != nil {
		log.Error().Err(err).Msg("webservicemonitor stopped")
		return exitStateError
	}
	log.Info().Msg("webservicemonitor stopped")
	return exitOK
}
