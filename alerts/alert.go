// Package alerts pages humans through Alertmanager: it turns each cycle's
// report into the set of alerts that should be firing (a tool given up, a
// source failing cycle after cycle, the safety valve holding), keeps their
// lifecycle the way Prometheus does (re-sent while firing with the original
// start, sent once resolved when the condition clears, remembered in the
// state file across restarts), and pushes them to every configured
// Alertmanager over its API v2 without ever blocking the cycle.
//
// It never decides anything about tools: every alert's text is the
// decision's own Reason, and whether a tool is given up is the planner's
// verdict read from the report.
package alerts

import (
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Alert names: the alertname label, stable because routes and silences
// match on it. Every alert of the supervisor, these and the shipped
// Prometheus rules', is named WebserviceMonitor…, so one matcher
// (alertname=~"WebserviceMonitor.*") routes them all.
const (
	NameGivenUp       = "WebserviceMonitorGivenUp"
	NameSourceFailing = "WebserviceMonitorSourceFailing"
	NameValve         = "WebserviceMonitorSafetyValve"
)

// RunbookURL is the runbook of the alert named name under base: base with
// the alert's anchor (its name in lower case, as the README's runbook
// headings are anchored) in place of any fragment base had; "" when base
// is "".
func RunbookURL(base, name string) string {
	if base == "" {
		return ""
	}
	u, err := url.Parse(base)
	if err != nil { // the configuration checked it; never drop the link
		return base + "#" + strings.ToLower(name)
	}
	u.Fragment, u.RawFragment = strings.ToLower(name), ""
	return u.String()
}

// Names lists every alert this package sends.
func Names() []string { return []string{NameGivenUp, NameSourceFailing, NameValve} }

// Alert is one alert in Alertmanager's API v2 shape (postableAlert).
type Alert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// Identity is the alert's key: its labels, sorted. Alertmanager
// fingerprints an alert by its labels alone, so two alerts with the same
// identity are the same alert to it, whoever sends them and whenever.
func (a Alert) Identity() string { return identity(a.Labels) }

func identity(labels map[string]string) string {
	var b strings.Builder
	for i, k := range slices.Sorted(maps.Keys(labels)) {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(labels[k])
	}
	return b.String()
}

func (a Alert) clone() Alert {
	a.Labels = maps.Clone(a.Labels)
	a.Annotations = maps.Clone(a.Annotations)
	return a
}
