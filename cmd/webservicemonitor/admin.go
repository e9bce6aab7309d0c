package main

// The admin commands: pause, resume, forget, retry and valve release write
// an action to the state file (with who, when and why) for the daemon's
// next cycle to act on; status shows each tool's decision, history and the
// actions that concern it. They work while the daemon runs: it holds the
// file only during a cycle. With etcd-endpoints the action goes to etcd
// instead, from any host, for whichever host leads.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"slices"
	"strconv"
	"time"

	"webservicemonitor/internal/config"
	"webservicemonitor/monitor"
	"webservicemonitor/state"
)

// adminCommand records the admin action the command line asks for: in the
// state file, or in etcd when the hosts share their history there.
func adminCommand(ctx context.Context, cfg *config.Config, stdout, stderr io.Writer) int {
	a, err := newAction(cfg, time.Now().UTC())
	if err != nil {
		fmt.Fprintf(stderr, "webservicemonitor %s: %v\n", cfg.Command, err)
		return exitBadConfig
	}
	if shared(cfg) {
		return sharedAdminCommand(ctx, cfg, a, stdout, stderr)
	}
	recorded, notes, err := recordAction(cfg, a)
	if err != nil {
		fmt.Fprintf(stderr, "webservicemonitor %s: %v\n", cfg.Command, err)
		return exitStateError
	}
	fmt.Fprintf(stdout, "action %d recorded in %s: %s\n", recorded.ID, cfg.StateFile, monitor.ActionSentence(&recorded))
	printNotes(stdout, notes)
	fmt.Fprintln(stdout, "the daemon acts on it at its next cycle; `webservicemonitor status` shows it")
	return exitOK
}

// sharedAdminCommand records a in etcd, from whichever host the admin is on.
func sharedAdminCommand(ctx context.Context, cfg *config.Config, a state.Action, stdout, stderr io.Writer) int {
	recorded, leader, notes, err := recordSharedAction(ctx, cfg, a)
	if err != nil {
		fmt.Fprintf(stderr, "webservicemonitor %s: %v\n", cfg.Command, err)
		return exitStateError
	}
	fmt.Fprintf(stdout, "action %d recorded in etcd %s (%s): %s\n", recorded.ID, cfg.EtcdPrefix, actingHost(leader), monitor.ActionSentence(&recorded))
	printNotes(stdout, notes)
	fmt.Fprintln(stdout, "the leader acts on it at its next cycle; `webservicemonitor status` shows it")
	return exitOK
}

func printNotes(w io.Writer, notes []string) {
	for _, n := range notes {
		fmt.Fprintln(w, "note: "+n)
	}
}

// newAction is the action the command line describes, made now by whoever
// runs the command.
func newAction(cfg *config.Config, now time.Time) (state.Action, error) {
	a := state.Action{Tools: cfg.Admin.Tools, Who: whoAmI(), At: now, Reason: cfg.Admin.Reason}
	switch cfg.Command {
	case config.CommandPause:
		a.Kind, a.Until = state.ActionPause, now.Add(cfg.Admin.For)
	case config.CommandResume:
		a.Kind = state.ActionResume
	case config.CommandForget:
		a.Kind = state.ActionForget
	case config.CommandRetry:
		a.Kind = state.ActionRetry
	case config.CommandValveRelease:
		a.Kind, a.AtMost = state.ActionValveRelease, cfg.Admin.AtMost
	default:
		return state.Action{}, fmt.Errorf("%q is not an admin action", cfg.Command)
	}
	if a.Kind == state.ActionResume || a.Kind == state.ActionForget {
		// They take effect as they are made: nothing of them lasts.
		a.Ended, a.EndedBecause = now, "done"
	}
	return a, nil
}

// whoAmI is the admin behind the command: the one who ran sudo, else the
// user running it.
func whoAmI() string {
	if u := os.Getenv("SUDO_USER"); u != "" {
		return u
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return "uid " + strconv.Itoa(os.Getuid())
}

// recordAction writes the action to the state file. notes say what the
// admin should know (a tool without history).
func recordAction(cfg *config.Config, a state.Action) (state.Action, []string, error) {
	store, err := state.Open(cfg.StateFile, state.Options{LockTimeout: cfg.StateLockWait})
	if err != nil {
		return a, nil, fmt.Errorf("the state file is not usable: %w", err)
	}
	var notes []string
	if a.Kind == state.ActionForget {
		var records state.Records
		records, err = store.Histories()
		notes = withoutHistory(records, a)
	}
	if err == nil {
		// Only the action: the daemon's cycle that first sees a forget
		// forgives the attempts in its own records, so that none of its
		// writes can undo it.
		a, err = store.RecordAction(a, nil)
	}
	return a, notes, errors.Join(err, store.Close())
}

// withoutHistory notes, for a forget, the tools that have no restart
// history in records: nothing to forget.
func withoutHistory(records state.Records, a state.Action) []string {
	if a.Kind != state.ActionForget {
		return nil
	}
	var notes []string
	for _, tool := range a.Tools {
		rec, ok := records.Get(tool)
		switch {
		case !ok:
			notes = append(notes, "tool "+tool+" has no restart history: nothing to forget")
		case rec.BackoffStep == 0 && rec.GivenUpAt.IsZero() && !slices.ContainsFunc(rec.Attempts, func(at state.Attempt) bool { return !at.Forgiven }):
			notes = append(notes, "tool "+tool+" has no attempt, backoff or give-up to forget")
		}
	}
	return notes
}
