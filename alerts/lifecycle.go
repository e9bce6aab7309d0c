package alerts

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"webservicemonitor/monitor"
	"webservicemonitor/state"
)

// Settings shape the alerts.
type Settings struct {
	// Interval is the cycle interval; Resend how often a firing alert is
	// pushed again (0: every cycle).
	Interval time.Duration
	Resend   time.Duration
	// SourceAfter is how many consecutive failed cycles of a source page.
	SourceAfter int
	// RunbookURL is the base of every alert's runbook_url annotation: each
	// alert adds its own anchor (see RunbookURL); "" for none.
	RunbookURL string
	// ToolURL links to a tool in its alert; {tool} is replaced.
	ToolURL string
}

// EndsAtHorizon is how far in the future a firing alert's endsAt is put:
// four re-send periods (as Prometheus does), and at least minHorizon, so
// that a late or failed push, or a supervisor restarting, never lets the
// alert lapse, while the alerts of a supervisor that died resolve by
// themselves within minutes rather than firing forever.
func (s Settings) EndsAtHorizon() time.Duration { return max(4*max(s.Interval, s.Resend), minHorizon) }

const minHorizon = time.Minute

// Outbox takes each cycle's alerts for delivery (a Notifier).
type Outbox interface {
	Notify(firing, resolved []Alert, resend bool)
}

// Scope is what one host's alerts speak for, among several sharing the
// history.
type Scope int

const (
	// ScopeAll is every alert: the leader's scope, and a single host's.
	ScopeAll Scope = iota
	// ScopeSelf is this host's own reach to the shared history only (the
	// state source failing: etcd unreachable or without quorum, when no
	// leader may be left to page), labelled with its host so that each
	// host's stay apart: a standby's scope, and that of a host cut off from
	// etcd. Everything else is the leader's to send.
	ScopeSelf
)

// ClusterScope is the scope of one host among several: its own health for
// a standby's cycle (which acted on nothing) and for a cycle that stopped
// for not leading; everything for the leader's.
func ClusterScope(rep monitor.Report, cycleErr error) Scope {
	if rep.DryRun || errors.Is(cycleErr, monitor.ErrNotLeader) {
		return ScopeSelf
	}
	return ScopeAll
}

// Lifecycle decides, cycle after cycle, which alerts fire and which
// resolve, and hands them to the Outbox. Observe is called from one
// goroutine (the daemon's cycle) only.
type Lifecycle struct {
	Settings Settings
	Memory   Memory // nil: the firing set does not survive a restart (tests)
	Out      Outbox
	Observer Observer // may be nil
	Log      zerolog.Logger
	Now      func() time.Time
	// Host labels the supervisor's own health alerts (host=...) when it is
	// one of several hosts; "" on a single host.
	Host string
	// Scope is what a cycle's alerts speak for; nil: ScopeAll.
	Scope func(rep monitor.Report, cycleErr error) Scope

	firing      map[string]Alert // by identity; EndsAt unset
	sourceFails map[string]int   // consecutive failed cycles by source
	loaded      bool             // Memory read (or nil)
	reload      atomic.Bool      // read Memory again: this host won the leadership
	dirty       bool             // the firing set differs from what Memory holds
	lastResend  time.Time
}

// Reload makes the next cycle in ScopeAll read the memory again, in place
// of what this host knew of the tools' and valve's alerts: called on each
// win, it makes a new leader go on with the alerts as the last one left
// them (their original start), however long ago this host last led. Safe
// to call from any goroutine.
func (l *Lifecycle) Reload() { l.reload.Store(true) }

// Name names the lifecycle among the cycle's reporters.
func (l *Lifecycle) Name() string { return "alerts" }

// Report is the lifecycle as one of the cycle's reporters: Observe at the
// time of the call. It never waits for an Alertmanager.
func (l *Lifecycle) Report(_ context.Context, rep monitor.Report, cycleErr error) error {
	l.Observe(rep, cycleErr, l.Now())
	return nil
}

// OneShot is the reporter of a single acting cycle (--once): the lifecycle,
// then the delivery of its alerts at once, within FlushTimeout, as there is
// no next cycle to deliver them in.
type OneShot struct {
	Lifecycle    *Lifecycle
	Notifier     *Notifier
	FlushTimeout time.Duration
}

// Name names the reporter in the log.
func (o OneShot) Name() string { return "alerts" }

// Report observes the report and delivers the alerts.
func (o OneShot) Report(ctx context.Context, rep monitor.Report, cycleErr error) error {
	if err := o.Lifecycle.Report(ctx, rep, cycleErr); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, o.FlushTimeout)
	defer cancel()
	if err := o.Notifier.Flush(ctx); err != nil {
		return fmt.Errorf("alerts not delivered: %w", err)
	}
	return nil
}

// Observe turns one cycle's report into alert transitions: new alerts fire
// with their start, live ones are re-sent with their original start and a
// fresh endsAt, cleared ones are sent once more with endsAt = now. A
// condition this cycle could not see (its source failed) keeps its alert as
// it was: "don't know" never resolves a page.
func (l *Lifecycle) Observe(rep monitor.Report, cycleErr error, now time.Time) {
	if l.firing == nil {
		l.firing, l.sourceFails = map[string]Alert{}, map[string]int{}
	}
	scope := l.enter(rep, cycleErr)

	want, unknown := l.conditions(rep, cycleErr, scope)
	changed := false
	for id, a := range want {
		if live, ok := l.firing[id]; ok {
			a.StartsAt = live.StartsAt
		} else {
			changed = true
			l.Log.Warn().Str("alertname", a.Labels["alertname"]).Str("alert", id).
				Time("starts_at", a.StartsAt).Msg("alert firing: " + a.Annotations["description"])
		}
		l.firing[id] = a
	}
	var resolved []Alert
	for _, id := range slices.Sorted(maps.Keys(l.firing)) {
		a := l.firing[id]
		if _, ok := want[id]; ok || unknown(a) {
			continue
		}
		delete(l.firing, id)
		changed = true
		a.EndsAt = now
		resolved = append(resolved, a)
		l.Log.Info().Str("alertname", a.Labels["alertname"]).Str("alert", id).Msg("alert resolved")
	}
	if changed {
		l.dirty = true
	}
	if scope == ScopeAll { // the memory is the leader's to write
		l.save()
	}

	resend := changed || l.Settings.Resend <= 0 || now.Sub(l.lastResend) >= l.Settings.Resend
	if resend {
		l.lastResend = now
	}
	firing := make([]Alert, 0, len(l.firing))
	byName := map[string]int{}
	for _, name := range Names() {
		byName[name] = 0
	}
	for _, id := range slices.Sorted(maps.Keys(l.firing)) {
		a := l.firing[id].clone()
		a.EndsAt = now.Add(l.Settings.EndsAtHorizon())
		firing = append(firing, a)
		byName[a.Labels["alertname"]]++
	}
	if l.Observer != nil {
		l.Observer.AlertsFiring(byName)
	}
	l.Out.Notify(firing, resolved, resend)
}

// enter returns what this cycle's alerts speak for. Speaking for itself
// only, or having just won, this host drops what it knew of the shared
// alerts; speaking for all, it reads them from the memory when it has not.
func (l *Lifecycle) enter(rep monitor.Report, cycleErr error) Scope {
	scope := ScopeAll
	if l.Scope != nil {
		scope = l.Scope(rep, cycleErr)
	}
	if scope == ScopeSelf || l.reload.Swap(false) {
		l.forgetShared()
	}
	if scope == ScopeAll {
		l.load()
	}
	return scope
}

// forgetShared drops, without resolving them, the alerts that are not this
// host's own health (the leader sends and resolves those), and has the
// memory read again when this host next speaks for all.
func (l *Lifecycle) forgetShared() {
	for id, a := range l.firing {
		if !ownHealth(a) {
			delete(l.firing, id)
		}
	}
	l.loaded = false
}

// ownHealth reports whether a is about the supervisor itself rather than
// the platform.
func ownHealth(a Alert) bool { return a.Labels["alertname"] == NameSourceFailing }

// load merges the remembered firing set into the live one, once. Until it
// succeeds nothing is saved, so a state file that was briefly locked at
// start cannot lose what it remembers. Another host's own health alerts
// are its own to send and resolve.
func (l *Lifecycle) load() {
	if l.loaded {
		return
	}
	if l.Memory == nil {
		l.loaded = true
		return
	}
	recs, err := l.Memory.Load()
	if err != nil {
		l.Log.Warn().Err(err).Msg("could not read the remembered firing alerts (state file or etcd); trying again next cycle")
		return
	}
	for id, r := range recs {
		if h := r.Labels["host"]; h != "" && h != l.Host {
			continue
		}
		if _, ok := l.firing[id]; !ok {
			l.firing[id] = Alert{Labels: r.Labels, Annotations: r.Annotations, StartsAt: r.StartsAt}
		}
	}
	l.loaded = true
	if len(recs) > 0 {
		l.Log.Info().Int("alerts", len(recs)).Msg("firing alerts restored from memory (state file or etcd)")
	}
}

func (l *Lifecycle) save() {
	if !l.dirty || !l.loaded || l.Memory == nil {
		return
	}
	recs := make(map[string]state.AlertRecord, len(l.firing))
	for id, a := range l.firing {
		recs[id] = state.AlertRecord{Labels: a.Labels, Annotations: a.Annotations, StartsAt: a.StartsAt}
	}
	if err := l.Memory.Save(recs); err != nil {
		l.Log.Warn().Err(err).Msg("could not record the firing alerts (state file or etcd); pushing them anyway, recording them again next cycle")
		return
	}
	l.dirty = false
}

// sourceConditions adds the alerts of the sources failing long enough,
// and returns the sources the report saw and whether the manifests were
// read.
func (l *Lifecycle) sourceConditions(rep monitor.Report, scope Scope, add func(Alert)) (seen map[string]bool, manifestsOK bool) {
	seen = map[string]bool{}
	for _, s := range rep.Sources {
		seen[s.Name] = true
		if s.Err == nil {
			l.sourceFails[s.Name] = 0
			manifestsOK = manifestsOK || s.Name == monitor.SourceManifests
			continue
		}
		l.sourceFails[s.Name]++
		if scope == ScopeSelf && s.Name != monitor.SourceState {
			// Every host reads the same manifests, grid and proxy: the
			// leader pages for them, so that a standby pushes nothing
			// while etcd answers it (its own is resolved on stepping down).
			continue
		}
		a := l.sourceAlert(s, l.sourceFails[s.Name], rep.Started)
		if _, live := l.firing[a.Identity()]; live || l.sourceFails[s.Name] >= max(l.Settings.SourceAfter, 1) {
			add(a)
		}
	}
	return seen, manifestsOK
}

// conditions returns the alerts this report says should fire, keyed by
// identity, and which live alerts it cannot judge.
func (l *Lifecycle) conditions(rep monitor.Report, cycleErr error, scope Scope) (map[string]Alert, func(Alert) bool) {
	want := map[string]Alert{}
	add := func(a Alert) { want[a.Identity()] = a }
	seen, manifestsOK := l.sourceConditions(rep, scope, add)

	// Without the manifests (or without a plan at all) nobody knows which
	// tools are given up; with them, a tool missing from the plan is no
	// longer desired and its page resolves.
	toolsKnown := cycleErr == nil && manifestsOK
	if toolsKnown && scope == ScopeAll {
		for _, d := range rep.Plan.Decisions {
			if d.Action == monitor.ActionSkip || d.Next.GivenUpAt.IsZero() {
				continue
			}
			a := l.toolAlert(d)
			if live, ok := l.firing[a.Identity()]; ok && d.Action != monitor.ActionGiveUp {
				// Not re-judged this cycle (its job is pending, say): the
				// page keeps the reason it was given up for.
				a.Annotations = live.Annotations
			}
			add(a)
		}
	}

	valveKnown := cycleErr == nil && !rep.SourceFailed()
	// A valve an admin released is answered: nobody is paged for it.
	if valveKnown && scope == ScopeAll && rep.Plan.Valve.Tripped && rep.Plan.Valve.Release == nil {
		add(l.valveAlert(rep))
	}

	unknown := func(a Alert) bool {
		switch a.Labels["alertname"] {
		case NameGivenUp:
			return !toolsKnown
		case NameValve:
			return !valveKnown
		case NameSourceFailing:
			return !seen[a.Labels["source"]]
		}
		return false // not ours (any more): resolve it
	}
	return want, unknown
}

func (l *Lifecycle) valveAlert(rep monitor.Report) Alert {
	v := rep.Plan.Valve
	return Alert{
		Labels: map[string]string{"alertname": NameValve, "severity": "page"},
		Annotations: l.annotate(NameValve, map[string]string{
			"summary":     fmt.Sprintf("Safety valve holding restarts: %d tools need one at once (limit %d)", v.Wanting, v.Limit),
			"description": v.Reason,
		}),
		StartsAt: rep.Started,
	}
}

func (l *Lifecycle) sourceAlert(s monitor.SourceStatus, fails int, at time.Time) Alert {
	labels := map[string]string{"alertname": NameSourceFailing, "source": s.Name, "severity": "page"}
	if l.Host != "" {
		labels["host"] = l.Host
	}
	return Alert{
		Labels: labels,
		Annotations: l.annotate(NameSourceFailing, map[string]string{
			"summary":     fmt.Sprintf("Source %s has failed %d cycles in a row: nothing is restarted on its account", s.Name, fails),
			"description": s.Err.Error(),
		}),
		StartsAt: at,
	}
}

func (l *Lifecycle) toolAlert(d monitor.Decision) Alert {
	ann := map[string]string{
		"summary":     fmt.Sprintf("Web service of tool %s (%s) is down and no longer restarted", d.Tool, d.Web),
		"description": d.Reason + attemptsText(d),
	}
	if l.Settings.ToolURL != "" {
		ann["tool_url"] = strings.ReplaceAll(l.Settings.ToolURL, "{tool}", d.Tool)
	}
	return Alert{
		Labels:      map[string]string{"alertname": NameGivenUp, "tool": d.Tool, "severity": "page"},
		Annotations: l.annotate(NameGivenUp, ann),
		StartsAt:    d.Next.GivenUpAt,
	}
}

func (l *Lifecycle) annotate(name string, ann map[string]string) map[string]string {
	if u := RunbookURL(l.Settings.RunbookURL, name); u != "" {
		ann["runbook_url"] = u
	}
	return ann
}

// attemptsText lists the restart attempts of the current window, and what
// the last one said when it failed.
func attemptsText(d monitor.Decision) string {
	atts := d.Next.Attempts
	if n := d.Attempts; n > 0 && n < len(atts) {
		atts = atts[len(atts)-n:]
	}
	if len(atts) == 0 {
		return ""
	}
	parts := make([]string, len(atts))
	for i, a := range atts {
		parts[i] = a.At.UTC().Format(time.RFC3339) + " " + string(a.Outcome)
	}
	text := ". Restart attempts: " + strings.Join(parts, ", ")
	// What the last one said when it failed, or what was seen instead of
	// the tool up. (Before the detail had a field of its own, a failed
	// attempt's reason carried it after " — ".)
	last := atts[len(atts)-1]
	if last.Detail != "" {
		text += ". Last attempt: " + last.Detail
	} else if _, detail, ok := strings.Cut(last.Reason, " — "); ok {
		text += ". Last attempt: " + detail
	}
	return text
}
