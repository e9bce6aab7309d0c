package monitor

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rs/zerolog"

	"webservicemonitor/internal/sanitize"
	"webservicemonitor/sources/manifest"
	"webservicemonitor/state"
)

// Report is everything one cycle saw and did.
type Report struct {
	Started  time.Time
	Finished time.Time
	DryRun   bool // an audit: nothing was recorded or restarted
	Plan     Plan
	Sources  []SourceStatus
	Results  []Result
	Cleared  []ClearResult // stuck jobs removed beside up tools' jobs
	// Leader is which host led when the cycle asked, when this host is one
	// of several sharing the history; nil on a single host.
	Leader *LeaderSeen
	// ReportFailures are the reporters that failed or ran past their
	// deadline with this report (filled in after they ran).
	ReportFailures []error
}

// SourceFailed reports whether any source failed this cycle.
func (r Report) SourceFailed() bool {
	for _, s := range r.Sources {
		if s.Err != nil {
			return true
		}
	}
	return false
}

// ExitCode is the audit's verdict: 0 every desired service is up, 1 some are
// not, 2 a source failed.
func (r Report) ExitCode() int {
	if r.SourceFailed() {
		return 2
	}
	for _, d := range r.Plan.Decisions {
		if d.Backend == manifest.BackendGridEngine && !d.Up() {
			return 1
		}
	}
	return 0
}

// AuditPrinter prints the report as the audit: the table admins read, or
// one JSON object (Format "json").
type AuditPrinter struct {
	Out    io.Writer
	Format string
}

// Name names the reporter in the log.
func (AuditPrinter) Name() string { return "audit" }

// Report prints the report.
func (a AuditPrinter) Report(_ context.Context, rep Report, _ error) error {
	if a.Format == "json" {
		return rep.WriteJSON(a.Out)
	}
	return rep.WriteTable(a.Out)
}

// LogReporter writes each report to the log (see Report.Log).
type LogReporter struct{ Log zerolog.Logger }

// Name names the reporter in the log.
func (LogReporter) Name() string { return "log" }

// Report logs the report.
func (l LogReporter) Report(_ context.Context, rep Report, cycleErr error) error {
	rep.Log(l.Log, cycleErr)
	return nil
}

// jsonReport is the --output json shape; other tools rely on its names.
type jsonReport struct {
	GeneratedAt time.Time             `json:"generated_at"`
	DryRun      bool                  `json:"dry_run"`
	Leader      **jsonLeader          `json:"leader,omitempty"` // see Report.leaderJSON
	Sources     map[string]jsonSource `json:"sources"`
	Valve       jsonValve             `json:"valve"`
	Pauses      []*jsonAction         `json:"pauses"` // the admin's pauses in effect
	Summary     map[string]int        `json:"summary"`
	Tools       []jsonTool            `json:"tools"`
}

type jsonSource struct {
	Status     string  `json:"status"` // "ok" or "error"
	Error      *string `json:"error"`
	Items      int     `json:"items"`
	DurationMS int64   `json:"duration_ms"`
	Note       string  `json:"note,omitempty"`
}

type jsonValve struct {
	Tripped  bool        `json:"tripped"`
	Wanting  int         `json:"wanting"`
	Limit    int         `json:"limit"`
	Allowed  int         `json:"allowed"`
	Reason   string      `json:"reason,omitempty"`
	Released *jsonAction `json:"released"` // the admin's valve release in effect, or null
}

// jsonAction is an admin action as the JSON report shows it.
type jsonAction struct {
	ID     uint64     `json:"id"`
	Kind   string     `json:"kind"`
	Tools  []string   `json:"tools"` // empty: the whole platform
	Who    string     `json:"who"`
	At     time.Time  `json:"at"`
	Until  *time.Time `json:"until,omitempty"`
	AtMost int        `json:"at_most,omitempty"`
	Reason string     `json:"reason"`
}

func toJSONAction(a *state.Action) *jsonAction {
	if a == nil {
		return nil
	}
	tools := a.Tools
	if tools == nil {
		tools = []string{}
	}
	return &jsonAction{ID: a.ID, Kind: string(a.Kind), Tools: tools, Who: a.Who, At: a.At.UTC(),
		Until: optTime(a.Until), AtMost: a.AtMost, Reason: a.Reason}
}

func toJSONValve(v Valve) jsonValve {
	return jsonValve{Tripped: v.Tripped, Wanting: v.Wanting, Limit: v.Limit, Allowed: v.Allowed,
		Reason: v.Reason, Released: toJSONAction(v.Release)}
}

type jsonTool struct {
	Tool        string     `json:"tool"`
	Web         string     `json:"web"`
	Backend     string     `json:"backend,omitempty"`
	Job         int        `json:"job,omitempty"`
	GridState   string     `json:"grid_state"`
	Phase       Phase      `json:"phase,omitempty"`
	Queue       string     `json:"queue,omitempty"`
	Registered  *bool      `json:"registered"`
	Action      Action     `json:"action"`
	Code        Code       `json:"code"`
	Reason      string     `json:"reason"`
	Attempts    int        `json:"attempts"`
	NextRestart *time.Time `json:"next_restart"`
	DownSince   *time.Time `json:"down_since"`
	GivenUp     bool       `json:"given_up"`
	Outcome     string     `json:"outcome,omitempty"`
	// LastAttempt is the tool's last restart attempt, as its history
	// holds it after this cycle; null when it has none.
	LastAttempt *jsonAttempt `json:"last_attempt"`
	// Clear lists the job numbers removed (or, in an audit, to be removed)
	// this cycle before its restart or beside the job that serves.
	Clear []int `json:"clear,omitempty"`
}

type jsonAttempt struct {
	At      time.Time `json:"at"`
	Outcome string    `json:"outcome"`
	Detail  string    `json:"detail"`
}

// lastAttempt is the decision's last attempt for the JSON report: with the
// outcome its command had, when it ran this cycle; the one before it when
// this cycle's did not run (an audit only plans it).
func lastAttempt(d Decision, now time.Time, outcome string, detail string) *jsonAttempt {
	if d.Next == nil {
		return nil
	}
	attempts := d.Next.Attempts
	if n := len(attempts); n > 0 && attempts[n-1].Outcome == state.OutcomeStarted && attempts[n-1].At.Equal(now) {
		if outcome != "" {
			return &jsonAttempt{At: now.UTC(), Outcome: outcome, Detail: detail}
		}
		attempts = attempts[:n-1]
	}
	if len(attempts) == 0 {
		return nil
	}
	a := attempts[len(attempts)-1]
	return &jsonAttempt{At: a.At.UTC(), Outcome: string(a.Outcome), Detail: a.Detail}
}

func jobNumbers(jobs []StuckJob) []int {
	var out []int
	for _, j := range jobs {
		out = append(out, j.Number)
	}
	return out
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// Summary counts the decisions by action, plus desired and up.
func (r Report) Summary() map[string]int {
	s := map[string]int{"desired": r.Plan.Desired}
	for _, a := range []Action{ActionNone, ActionRestart, ActionWait, ActionHold, ActionGiveUp, ActionSkip} {
		s[string(a)] = 0
	}
	for _, d := range r.Plan.Decisions {
		s[string(d.Action)]++
	}
	return s
}

// WriteJSON writes the report as one JSON object.
func (r Report) WriteJSON(w io.Writer) error {
	out := jsonReport{
		GeneratedAt: r.Started.UTC(),
		DryRun:      r.DryRun,
		Leader:      r.leaderJSON(),
		Sources:     map[string]jsonSource{},
		Valve:       toJSONValve(r.Plan.Valve),
		Pauses:      make([]*jsonAction, 0, len(r.Plan.Pauses)),
		Summary:     r.Summary(),
		Tools:       make([]jsonTool, 0, len(r.Plan.Decisions)),
	}
	for i := range r.Plan.Pauses {
		out.Pauses = append(out.Pauses, toJSONAction(&r.Plan.Pauses[i]))
	}
	for _, s := range r.Sources {
		js := jsonSource{Status: "ok", Items: s.Items, DurationMS: s.Duration.Milliseconds(), Note: s.Note}
		if s.Err != nil {
			msg := s.Err.Error()
			js.Status, js.Error = "error", &msg
		}
		out.Sources[s.Name] = js
	}
	outcomes, details := r.outcomes(), map[string]string{}
	for _, res := range r.Results {
		details[res.Tool] = res.Detail
	}
	for _, d := range r.Plan.Decisions {
		out.Tools = append(out.Tools, jsonTool{
			Tool: d.Tool, Web: d.Web, Backend: d.Backend, Job: d.JobNumber, GridState: d.GridState,
			Phase: d.Phase, Queue: d.Queue, Registered: d.Registered, Action: d.Action, Code: d.Code,
			Reason: d.Reason, Attempts: d.Attempts, NextRestart: optTime(d.NextRestart),
			DownSince: optTime(d.DownSince()), GivenUp: d.GivenUp, Outcome: outcomes[d.Tool],
			LastAttempt: lastAttempt(d, r.Plan.Now, outcomes[d.Tool], details[d.Tool]), Clear: jobNumbers(d.Clear),
		})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func (r Report) outcomes() map[string]string {
	m := make(map[string]string, len(r.Results))
	for _, res := range r.Results {
		m[res.Tool] = string(res.Outcome)
	}
	return m
}

// WriteTable writes the report as the audit table admins read.
func (r Report) WriteTable(w io.Writer) error {
	if r.Leader != nil {
		fmt.Fprintf(w, "LEADER: %s\n\n", r.Leader)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SOURCE\tSTATUS\tITEMS\tTIME\tDETAIL")
	for _, s := range r.Sources {
		status, detail := "ok", s.Note
		if s.Err != nil {
			status, detail = "FAILED", s.Err.Error()
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", s.Name, status, s.Items, s.Duration.Round(time.Millisecond), detail)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)

	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TOOL\tWEB\tGRID\tPROXY\tDECISION\tATTEMPTS\tNEXT RESTART\tREASON")
	for _, d := range r.Plan.Decisions {
		grid := "-"
		if d.GridState != "" {
			grid = fmt.Sprintf("%s (%d)", d.GridState, d.JobNumber)
		}
		reg := registrationWord(d, r.sourceFailed(SourceProxy))
		next := "-"
		if !d.NextRestart.IsZero() {
			next = auditTime(d.NextRestart, r.Started)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n",
			displayTool(d.Tool), dash(d.Web), grid, reg, d.Action, d.Attempts, next, d.Reason)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	if r.Plan.Valve.Tripped {
		fmt.Fprintln(w, "VALVE: "+r.Plan.Valve.Reason)
	}
	for i := range r.Plan.Pauses {
		fmt.Fprintln(w, "PAUSED: "+PauseSentence(&r.Plan.Pauses[i]))
	}
	s := r.Summary()
	fmt.Fprintf(w, "%d desired grid web services: %d up, %d to restart, %d waiting, %d held, %d given up; %d skipped\n",
		s["desired"], s[string(ActionNone)], s[string(ActionRestart)], s[string(ActionWait)],
		s[string(ActionHold)], s[string(ActionGiveUp)], s[string(ActionSkip)])
	return nil
}

// registrationWord is what the audit table says of a tool's registration
// with the proxy: a word, never a bare "?".
func registrationWord(d Decision, proxyFailed bool) string {
	switch {
	case d.Registered != nil && *d.Registered:
		return "registered"
	case d.Registered != nil:
		return "missing"
	case d.Code == CodeProxyUnknown || (proxyFailed && d.Phase == PhaseRunning):
		return "unknown"
	case d.Code == CodeUnchecked:
		return "unchecked"
	}
	return "-" // not looked at: no running job, or not ours
}

// sourceFailed reports whether the named source failed this cycle.
func (r Report) sourceFailed(name string) bool {
	for _, s := range r.Sources {
		if s.Name == name && s.Err != nil {
			return true
		}
	}
	return false
}

// PauseSentence says what a pause holds, who made it, since and until
// when, and why: the audit, the log and status show it so.
func PauseSentence(p *state.Action) string {
	what := "restarts of every tool"
	if len(p.Tools) > 0 {
		what = "restarts of " + strings.Join(p.Tools, ", ")
	}
	return fmt.Sprintf("%s paused by %s since %s until %s: %q (action %d)",
		what, p.Who, stamp(p.At), stamp(p.Until), p.Reason, p.ID)
}

// auditTime is a time as the audit table shows it (UTC): the time of day
// when it falls on the day of the report, with the date otherwise — a
// next restart a year away must not read as later today.
func auditTime(t, today time.Time) string {
	t, today = t.UTC(), today.UTC()
	if t.Year() == today.Year() && t.YearDay() == today.YearDay() {
		return t.Format(time.TimeOnly)
	}
	return t.Format(time.DateTime)
}

// maxShownName bounds a name the audit shows that is not a safe tool name.
const maxShownName = 80

// displayTool is a tool's name as the audit table shows it: as it is when
// it is a safe tool name, quoted and cut otherwise (a /list key is any
// string a proxy sent).
func displayTool(name string) string {
	if manifest.SafeToolName(name) {
		return name
	}
	return sanitize.Text(strconv.QuoteToASCII(name), maxShownName)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return sanitize.Text(s, maxShownName)
}

// Log writes the report to the log: one line per tool that is not simply up
// (at debug for those that are), one per failed source, and a summary.
func (r Report) Log(log zerolog.Logger, err error) {
	r.logPlatform(log)
	outcomes := r.outcomes()
	for _, d := range r.Plan.Decisions {
		logDecision(log, d, outcomes, r.standby())
	}
	r.logEndings(log)
	r.logAdmin(log)
	r.logLeader(log)
	s := r.Summary()
	ev := log.Info()
	if err != nil {
		ev = log.Error().Err(err)
	}
	if r.Leader != nil && r.Leader.Known {
		ev = ev.Str("leader", r.Leader.Host).Time("leader_since", r.Leader.Since)
	}
	ev.Bool("dry_run", r.DryRun).Int("desired", s["desired"]).Int("up", s[string(ActionNone)]).
		Int("restart", s[string(ActionRestart)]).Int("wait", s[string(ActionWait)]).
		Int("hold", s[string(ActionHold)]).Int("give_up", s[string(ActionGiveUp)]).
		Int("skip", s[string(ActionSkip)]).Dur("took", r.Finished.Sub(r.Started)).
		Msg("cycle finished")
}

// logPlatform logs what concerns every tool: the failed sources, the
// valve, the pauses in effect.
func (r Report) logPlatform(log zerolog.Logger) {
	for _, s := range r.Sources {
		if s.Err != nil {
			log.Error().Str("source", s.Name).Err(s.Err).Msg("source failed: nothing is restarted on its account")
		}
	}
	if r.Plan.Valve.Tripped {
		log.Error().Int("wanting", r.Plan.Valve.Wanting).Int("limit", r.Plan.Valve.Limit).Msg(r.Plan.Valve.Reason)
	}
	for i := range r.Plan.Pauses {
		p := &r.Plan.Pauses[i]
		log.Info().Uint64("action", p.ID).Str("who", p.Who).Time("since", p.At).Time("until", p.Until).
			Strs("tools", p.Tools).Msg(PauseSentence(p))
	}
}

// logDecision logs one tool's decision. Restarts and refusals are logged
// every cycle; steady states (up, waiting, skipped) only when they change,
// or the log of a platform with thousands of tools would drown what
// matters. A standby's are at debug: the leader's log says what is done.
func logDecision(log zerolog.Logger, d Decision, outcomes map[string]string, standby bool) {
	if d.ClockCorrected {
		log.Warn().Str("tool", d.Tool).Msg("restart history dated in the future (the clock was stepped back?): those times are taken as now")
	}
	ev := log.Debug()
	switch {
	case d.Action == ActionGiveUp && (d.RecordChanged || d.Notice != ""):
		ev = log.Warn() // when it gives up, not every cycle after
	case d.Action == ActionRestart || d.Action == ActionHold || d.Notice != "":
		ev = log.Info()
	case d.Action != ActionNone && d.RecordChanged:
		ev = log.Info()
	}
	if standby {
		ev = log.Debug()
	}
	ev = ev.Str("tool", d.Tool).Str("web", d.Web).Str("grid_state", d.GridState).
		Str("action", string(d.Action)).Str("code", string(d.Code)).Int("attempts", d.Attempts)
	if d.Registered != nil {
		ev = ev.Bool("registered", *d.Registered)
	}
	if o, ok := outcomes[d.Tool]; ok {
		ev = ev.Str("outcome", o)
	}
	ev.Msg(d.Reason)
}

// logAdmin logs the admin actions an acting cycle acted on first, and
// those that ended.
func (r Report) logAdmin(log zerolog.Logger) {
	if r.DryRun {
		return
	}
	for _, a := range r.Plan.FirstSeen() {
		log.Info().Uint64("action", a.ID).Str("kind", string(a.Kind)).Str("who", a.Who).Strs("tools", a.Tools).
			Msg("acting on admin action: " + ActionSentence(&a))
	}
	for _, a := range r.Plan.Actions {
		if !a.Ended.IsZero() && a.Kind != state.ActionResume && a.Kind != state.ActionForget {
			log.Info().Uint64("action", a.ID).Str("kind", string(a.Kind)).Msg("admin action ended: " + a.EndedBecause)
		}
	}
}

// logEndings logs how restarts ended: the commands that failed, the
// restarts settled (seen up, or not up in time), the stuck jobs removed.
func (r Report) logEndings(log zerolog.Logger) {
	for _, res := range r.Results {
		if res.Detail != "" {
			log.Warn().Str("tool", res.Tool).Str("outcome", string(res.Outcome)).Dur("took", res.Duration).Msg(res.Detail)
		}
	}
	for _, d := range r.Plan.Decisions {
		if a := d.Settled; a != nil && !r.DryRun {
			ev := log.Info()
			if a.Outcome != state.OutcomeSucceeded {
				ev = log.Warn()
			}
			ev.Str("tool", d.Tool).Str("outcome", string(a.Outcome)).Time("attempt_at", a.At).Msg(a.Detail)
		}
	}
	for _, c := range r.Cleared {
		if c.Detail != "" {
			log.Warn().Str("tool", c.Tool).Int("job", c.Job.Number).Str("grid_state", c.Job.State).Msg("could not remove the stuck job: " + c.Detail)
		} else {
			log.Info().Str("tool", c.Tool).Int("job", c.Job.Number).Str("grid_state", c.Job.State).Msg("removed the stuck job beside the one that serves")
		}
	}
}
