package main

// status: each tool's current decision (one read-only cycle, as the audit
// makes it), its whole retained restart history and the admin actions that
// concern it; with etcd-endpoints, first who leads and since when.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rs/zerolog"

	"webservicemonitor/ha"
	"webservicemonitor/internal/config"
	"webservicemonitor/monitor"
	"webservicemonitor/state"
)

// toolStatus is one tool as status shows it.
type toolStatus struct {
	Tool     string          `json:"tool"`
	Web      string          `json:"web"`
	Action   monitor.Action  `json:"action"`
	Code     monitor.Code    `json:"code"`
	Reason   string          `json:"reason"`
	Attempts []statusAttempt `json:"attempts"`
	Actions  []statusAction  `json:"admin_actions"`
}

type statusAttempt struct {
	At       time.Time `json:"at"`
	Outcome  string    `json:"outcome"`
	Duration string    `json:"duration"`
	Reason   string    `json:"reason"`
	Detail   string    `json:"detail"` // what the restart printed, or what was seen instead
	Forgiven bool      `json:"forgiven"`
}

type statusAction struct {
	state.Action
	Sentence string `json:"sentence"`
}

func statusCommand(ctx context.Context, cfg *config.Config, stdout, stderr io.Writer) int {
	var cl *cluster
	if shared(cfg) {
		var err error
		if cl, err = dialCluster(cfg); err != nil {
			fmt.Fprintf(stderr, "webservicemonitor status: %v\n", err)
			return exitStateError
		}
		defer disconnect(cl)
	}
	view, err := readStatus(ctx, cfg, cl)
	if err != nil {
		fmt.Fprintf(stderr, "webservicemonitor status: %v\n", err)
		return exitStateError
	}
	tools, unknown := statusOf(view.rep, view.records, view.actions, cfg.Admin.Tools)
	if cfg.Output == "json" {
		doc := map[string]any{"generated_at": view.rep.Started.UTC(), "tools": tools, "unknown_tools": unknown}
		if cl != nil {
			doc["leader"] = leaderJSON(view.leader)
		}
		err = json.NewEncoder(stdout).Encode(doc)
	} else {
		if cl != nil {
			fmt.Fprintln(stdout, leaderSentence(view.leader))
		}
		err = writeStatus(stdout, tools, view.rep.Started)
	}
	for _, t := range unknown {
		fmt.Fprintf(stderr, "webservicemonitor status: tool %q: no manifest asks for a web service and it has no history\n", t)
	}
	switch {
	case err != nil:
		return exitBadConfig
	case len(unknown) > 0:
		return exitNotAllUp
	}
	return exitOK
}

// statusView is what status shows: who leads (with etcd), each tool's
// decision, the history and the admin actions.
type statusView struct {
	leader  *ha.LeaderInfo
	rep     monitor.Report
	records state.Records
	actions []state.Action
}

// readStatus reads it all, read-only: from the state file, or from etcd
// when cl is not nil (who leads first: an etcd that does not answer stops
// status there).
func readStatus(ctx context.Context, cfg *config.Config, cl *cluster) (statusView, error) {
	var v statusView
	var err error
	if cl != nil {
		if v.leader, err = readLeader(ctx, cfg, cl); err != nil {
			return v, err
		}
	}
	if v.rep, err = quietAudit(ctx, cfg, cl); err != nil {
		return v, err
	}
	if cl == nil {
		v.records, v.actions, err = readHistory(cfg)
		return v, err
	}
	snap, err := cl.store.Read(ctx)
	if err != nil {
		return v, fmt.Errorf("%s: %w", etcdAt(cfg), err)
	}
	v.records, v.actions = snap.Records, snap.Actions
	return v, nil
}

// quietAudit makes the audit's read-only cycle, printing nothing; with cl,
// it reads the history in etcd.
func quietAudit(ctx context.Context, cfg *config.Config, cl *cluster) (monitor.Report, error) {
	cycle, err := newAuditCycle(cfg, zerolog.Nop(), cl)
	if err != nil {
		return monitor.Report{}, err
	}
	rep, err := cycle.Run(ctx, ctx)
	return rep, err
}

// readHistory reads every tool's record and the admin actions, read-only;
// none when there is no state file yet.
func readHistory(cfg *config.Config) (state.Records, []state.Action, error) {
	store, err := state.Open(cfg.StateFile, state.Options{ReadOnly: true, LockTimeout: cfg.StateLockWait})
	if err != nil {
		if isNotExist(err) {
			return nil, nil, nil
		}
		return nil, nil, fmt.Errorf("the state file is not usable: %w", err)
	}
	defer store.Close()
	records, err := store.Histories()
	if err != nil {
		return nil, nil, err
	}
	actions, err := store.Actions()
	return records, actions, err
}

// statusOf is the status of the tools asked for (every tool with a
// decision or a history when none), and the names asked for that are
// neither.
func statusOf(rep monitor.Report, records state.Records, actions []state.Action, asked []string) ([]toolStatus, []string) {
	byTool := map[string]*toolStatus{}
	for _, d := range rep.Plan.Decisions {
		byTool[d.Tool] = &toolStatus{Tool: d.Tool, Web: d.Web, Action: d.Action, Code: d.Code, Reason: d.Reason}
	}
	for _, th := range records {
		ts, ok := byTool[th.Tool]
		if !ok {
			ts = &toolStatus{Tool: th.Tool, Reason: "no manifest asks for a web service; history kept until it ages out"}
			byTool[th.Tool] = ts
		}
		ts.Attempts = statusAttempts(th.Record.Attempts)
	}
	names := asked
	if len(names) == 0 {
		for tool := range byTool {
			names = append(names, tool)
		}
		slices.Sort(names)
	}
	var out []toolStatus
	var unknown []string
	for _, tool := range names {
		ts, ok := byTool[tool]
		if !ok {
			unknown = append(unknown, tool)
			continue
		}
		for i := range actions {
			// One naming no tool (a pause, a resume, a valve release)
			// concerns every tool; forget and retry always name theirs.
			if actions[i].Concerns(tool) {
				ts.Actions = append(ts.Actions, statusAction{Action: actions[i], Sentence: monitor.ActionSentence(&actions[i])})
			}
		}
		out = append(out, *ts)
	}
	return out, unknown
}

func statusAttempts(attempts []state.Attempt) []statusAttempt {
	out := make([]statusAttempt, 0, len(attempts))
	for _, a := range attempts {
		out = append(out, statusAttempt{At: a.At.UTC(), Outcome: string(a.Outcome), Duration: a.Duration.Round(time.Millisecond).String(),
			Reason: a.Reason, Detail: a.Detail, Forgiven: a.Forgiven})
	}
	return out
}

// writeStatus prints the tools as admins read them: the decision, then
// one line per attempt and per admin action, each with its date.
func writeStatus(w io.Writer, tools []toolStatus, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for i, ts := range tools {
		if i > 0 {
			fmt.Fprintln(tw)
		}
		fmt.Fprintf(tw, "%s (%s): %s/%s: %s\n", ts.Tool, dashIfEmpty(ts.Web), ts.Action, ts.Code, ts.Reason)
		if len(ts.Attempts) == 0 {
			fmt.Fprintln(tw, "  no restart attempt in the retained history")
		}
		for _, a := range ts.Attempts {
			outcome := a.Outcome
			if a.Forgiven {
				outcome += " (forgiven)"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", a.At.Format(time.DateTime), outcome, a.Duration, attemptText(a))
		}
		for _, act := range ts.Actions {
			line := act.Sentence
			if !act.Ended.IsZero() && act.Kind != state.ActionResume && act.Kind != state.ActionForget {
				line += "; ended " + act.Ended.UTC().Format(time.DateTime) + ": " + act.EndedBecause
			}
			fmt.Fprintf(tw, "  %s\tadmin\t-\t%s\n", act.At.UTC().Format(time.DateTime), line)
		}
	}
	return tw.Flush()
}

// attemptText is why an attempt was made and how it ended, in one line.
func attemptText(a statusAttempt) string {
	if a.Detail == "" {
		return a.Reason
	}
	return strings.TrimSpace(a.Reason) + " — " + a.Detail
}

func dashIfEmpty(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
