//go:build e2e

package observability

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"webservicemonitor/e2e/internal/rig"
	"webservicemonitor/internal/demo"
	"webservicemonitor/state"
)

// The down tools of the demo platform, by the statuses the dashboard and
// the rules call down (only tools that are not up have the series).
const downQuery = `webservicemonitor_tool_down_since_timestamp_seconds{job="webservicemonitor", status=~"not-running|error|deleting|unregistered"}`

const runbook = "https://runbooks.example/webservicemonitor"

type suite struct {
	t          *testing.T
	root       string // the repository
	world      *demo.World
	daemonAddr string
	am         *rig.Alertmanager
	prom       prometheus
	hook       *rig.Webhook
}

// TestObservabilityAgainstRealPrometheusAndAlertmanager runs the built
// daemon against the demo platform, scraped by Debian's Prometheus and
// paging Debian's Alertmanager, through the whole life of a page.
func TestObservabilityAgainstRealPrometheusAndAlertmanager(t *testing.T) {
	s := newSuite(t)
	s.staticChecks()

	s.am.Start()

	// 1. Every restart held by the safety valve (its limit set to 0): the
	// down tools show in Prometheus, the valve pages.
	d := s.startDaemon("--valve-min", "0", "--valve-fraction", "0")
	s.startPrometheus()
	wantDown := []string{"bravo", "charlie", "delta", "echo", "juliet"}
	rig.WaitFor(t, 30*time.Second, "Prometheus to show the five down tools held by the valve", func() (bool, string) {
		got, err := s.prom.query(`(` + downQuery + ` > 0) * on (tool) group_left (code) webservicemonitor_tool_reason`)
		if err != nil {
			return false, err.Error()
		}
		return slices.Equal(labelSet(got, "tool"), wantDown) && allLabel(got, "code", "valve"), fmt.Sprint(got)
	})
	s.checkStatuses(map[string]string{"bravo": "not-running", "charlie": "error", "delta": "unregistered", "echo": "not-running", "juliet": "not-running"})
	rig.WaitFor(t, 30*time.Second, "the valve page in Alertmanager and at the receiver", func() (bool, string) {
		alerts, err := s.am.Alerts()
		valve := rig.Named(alerts, "WebserviceMonitorSafetyValve")
		return err == nil && len(valve) == 1 && slices.Contains(s.hook.Seen("alertname", "WebserviceMonitorSafetyValve"), "firing"),
			fmt.Sprint(alerts, err)
	})
	d.Kill(syscall.SIGTERM)

	// 2. A normal daemon: the valve page, remembered in the state file,
	// resolves on its first cycle; the tools are restarted and leave the
	// down list, except echo, whose restarts always fail: once its budget
	// is spent it is paged, with the reason.
	d = s.startDaemon()
	rig.WaitFor(t, 30*time.Second, "the valve page to resolve after the daemon's restart", func() (bool, string) {
		seen := s.hook.Seen("alertname", "WebserviceMonitorSafetyValve")
		alerts, err := s.am.Alerts()
		return err == nil && len(rig.Named(alerts, "WebserviceMonitorSafetyValve")) == 0 && slices.Contains(seen, "resolved"), fmt.Sprint(seen)
	})
	rig.WaitFor(t, 30*time.Second, "Prometheus to show only echo down", func() (bool, string) {
		got, err := s.prom.query(downQuery)
		if err != nil {
			return false, err.Error()
		}
		return slices.Equal(labelSet(got, "tool"), []string{"echo"}), fmt.Sprint(got)
	})
	page := s.waitForEchoPage()
	want := map[string]string{"alertname": "WebserviceMonitorGivenUp", "tool": "echo", "severity": "page"}
	if fmt.Sprint(page.Labels) != fmt.Sprint(want) {
		t.Errorf("echo's page has labels %v, want exactly %v", page.Labels, want)
	}
	for key, part := range map[string]string{
		"description": "no generic-echo job on the grid; gave up after 3 restarts in 10m0s",
		"runbook_url": runbook + "#webservicemonitorgivenup",
		"tool_url":    "https://echo.toolforge.org/",
		"summary":     "echo",
	} {
		if !strings.Contains(page.Annotations[key], part) {
			t.Errorf("echo's page: annotation %s = %q, want it to contain %q", key, page.Annotations[key], part)
		}
	}
	if !strings.Contains(page.Annotations["description"], "quota is exhausted") {
		t.Errorf("echo's page does not say what the last restart answered: %q", page.Annotations["description"])
	}
	givenUpAt := s.echoGivenUpAt()
	if d := page.StartsAt.Sub(givenUpAt); d < -time.Millisecond || d > time.Millisecond { // Alertmanager keeps milliseconds
		t.Errorf("echo's page starts at %s, want when it was given up (%s)", page.StartsAt, givenUpAt)
	}
	rig.WaitFor(t, 30*time.Second, "the receiver to be notified of echo's page", func() (bool, string) {
		seen := s.hook.Seen("tool", "echo")
		return slices.Contains(seen, "firing"), fmt.Sprint(seen)
	})

	// 3. Alertmanager restarts with empty storage, after the daemon saw it
	// down: the page is back after the next cycle, with its original start.
	s.am.Proc.Kill(syscall.SIGTERM)
	rig.WaitFor(t, 30*time.Second, "the daemon to count a failed push", func() (bool, string) {
		v, _ := metricValue(scrape(t, s.daemonAddr), "webservicemonitor_alert_send_failures_total")
		return v > 0, fmt.Sprint(v)
	})
	s.am.Start()
	again := s.waitForEchoPage()
	if again.Fingerprint != page.Fingerprint || !again.StartsAt.Equal(page.StartsAt) {
		t.Errorf("after Alertmanager's restart echo's page is %s from %s, want %s from %s",
			again.Fingerprint, again.StartsAt, page.Fingerprint, page.StartsAt)
	}
	rig.WaitFor(t, 30*time.Second, "the daemon's queue to drain", func() (bool, string) {
		v, ok := metricValue(scrape(t, s.daemonAddr), "webservicemonitor_alert_queue_length")
		return ok && v == 0, fmt.Sprint(v)
	})
	// A pause of a tool that is up: its series exist only while one is in
	// effect, and the pause rule queries them.
	bin := filepath.Join(s.root, "bin", "webservicemonitor")
	run(t, nil, bin, "--config", s.world.ConfigFile, "pause", "--reason", "e2e: every series", "--for", "10m", "alpha")
	var exposition []byte
	rig.WaitFor(t, 30*time.Second, "the pause in the metrics", func() (bool, string) {
		exposition = scrape(t, s.daemonAddr) // echo down and paged, restarts done, a pause: every series there is
		return strings.Contains(string(exposition), "webservicemonitor_pause_started_timestamp_seconds{"), ""
	})
	s.checkExposition(exposition)
	run(t, nil, bin, "--config", s.world.ConfigFile, "resume", "alpha")

	// 4. kill -9 the daemon and start it again: the same page (same labels,
	// same fingerprint, same start), not a second one, and nothing left
	// firing that should not be.
	d.Kill(syscall.SIGKILL)
	notified := len(s.hook.Seen("tool", "echo"))
	d = s.startDaemon()
	rig.WaitFor(t, 30*time.Second, "three pushes from the restarted daemon", func() (bool, string) {
		v, _ := metricValue(scrape(t, s.daemonAddr), "webservicemonitor_alerts_sent_total")
		return v >= 3, fmt.Sprint(v)
	})
	alerts, err := s.am.Alerts()
	if err != nil {
		t.Fatal(err)
	}
	if len(alerts) != 1 || alerts[0].Fingerprint != page.Fingerprint || !alerts[0].StartsAt.Equal(page.StartsAt) {
		t.Errorf("after kill -9 and restart Alertmanager has %+v, want only echo's page %s from %s", alerts, page.Fingerprint, page.StartsAt)
	}
	if n := len(s.hook.Seen("tool", "echo")); n != notified {
		t.Errorf("the restarted daemon caused %d new notification(s) for echo: %v", n-notified, s.hook.Seen("tool", "echo"))
	}

	// 5. An admin fixes echo (its quota) and restarts it: it is seen up,
	// leaves the down list, and its page resolves by itself.
	if err := s.world.Grid.Update(func(g *demo.Grid) error { g.Broken = nil; return nil }); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.world.Grid.Restart(ctx, "echo", "generic", time.Now); err != nil {
		t.Fatalf("restarting echo as an admin would: %v", err)
	}
	rig.WaitFor(t, 30*time.Second, "echo's page to resolve", func() (bool, string) {
		alerts, err := s.am.Alerts()
		seen := s.hook.Seen("tool", "echo")
		resolvedAfterFiring := slices.Index(seen, "firing") >= 0 && slices.Index(seen[slices.Index(seen, "firing"):], "resolved") > 0
		return err == nil && len(rig.Named(alerts, "WebserviceMonitorGivenUp")) == 0 && resolvedAfterFiring, fmt.Sprint(alerts, seen, err)
	})
	rig.WaitFor(t, 30*time.Second, "Prometheus to show no tool down", func() (bool, string) {
		got, err := s.prom.query(downQuery)
		return err == nil && len(got) == 0, fmt.Sprint(got, err)
	})
	s.checkRulesHealthy()
	d.Kill(syscall.SIGTERM)
	if code := d.Cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("the daemon exited %d on SIGTERM, want 0", code)
	}
}

func newSuite(t *testing.T) *suite {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	for _, prog := range []string{"prometheus", "promtool", rig.AlertmanagerBinary} {
		if _, err := exec.LookPath(prog); err != nil {
			t.Fatalf("%s is not installed (make e2e-observability installs it): %v", prog, err)
		}
	}
	for _, bin := range []string{"webservicemonitor", "demogrid"} {
		if _, err := os.Stat(filepath.Join(root, "bin", bin)); err != nil {
			t.Fatalf("bin/%s missing: run make build first: %v", bin, err)
		}
	}
	world, stop, err := demo.Start(t.TempDir(), filepath.Join(root, "bin", "demogrid"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	hook := rig.NewWebhook(t)
	return &suite{t: t, root: root, world: world, daemonAddr: rig.FreePort(t), am: rig.NewAlertmanager(t, hook.URL), hook: hook}
}

// staticChecks: the shipped rules are valid and pass their unit tests.
func (s *suite) staticChecks() {
	rules := filepath.Join(s.root, "deploy", "prometheus", "webservicemonitor.rules.yml")
	out := run(s.t, nil, "promtool", "check", "rules", rules)
	if !strings.Contains(out, "SUCCESS: 8 rules found") || strings.Contains(strings.ToLower(out), "warn") {
		s.t.Errorf("promtool check rules:\n%s", out)
	}
	out = run(s.t, nil, "promtool", "check", "rules", filepath.Join(s.root, "deploy", "prometheus", "ha.rules.yml"))
	if !strings.Contains(out, "SUCCESS: 3 rules found") || strings.Contains(strings.ToLower(out), "warn") {
		s.t.Errorf("promtool check rules ha.rules.yml:\n%s", out)
	}
	for _, file := range []string{"webservicemonitor.rules.test.yml", "fleet.rules.test.yml", "ha.rules.test.yml"} {
		out = run(s.t, nil, "promtool", "test", "rules", filepath.Join(s.root, "deploy", "prometheus", file))
		if !strings.Contains(out, "SUCCESS") {
			s.t.Errorf("promtool test rules %s:\n%s", file, out)
		}
	}
}

// startPrometheus starts Debian's Prometheus scraping the daemon every
// second, with the shipped rules loaded, and waits for its first scrape.
func (s *suite) startPrometheus() *rig.Proc {
	dir := s.t.TempDir()
	addr := rig.FreePort(s.t)
	config := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
  external_labels:
    runbook_base: %s
rule_files:
  - %s
  - %s
scrape_configs:
  - job_name: webservicemonitor
    static_configs:
      - targets: ['%s']
`, runbook, filepath.Join(s.root, "deploy", "prometheus", "webservicemonitor.rules.yml"),
		filepath.Join(s.root, "deploy", "prometheus", "ha.rules.yml"), s.daemonAddr)
	path := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(path, []byte(config), 0o644); err != nil {
		s.t.Fatal(err)
	}
	p := rig.Start(s.t, "prometheus", "prometheus",
		"--config.file="+path,
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr)
	s.prom = prometheus{base: "http://" + addr}
	rig.WaitFor(s.t, 60*time.Second, "Prometheus to be ready", rig.Ready(s.prom.base+"/-/ready"))
	rig.WaitFor(s.t, 60*time.Second, "Prometheus's first scrape of the daemon", func() (bool, string) {
		got, err := s.prom.query(`up{job="webservicemonitor"} == 1`)
		return err == nil && len(got) == 1, fmt.Sprint(got, err)
	})
	return p
}

// startDaemon starts the built daemon against the demo platform, a cycle
// a second, and waits for its first cycle.
func (s *suite) startDaemon(extra ...string) *rig.Proc {
	args := []string{filepath.Join(s.root, "bin", "webservicemonitor"),
		"--config", s.world.ConfigFile,
		"--interval", "1s", "--backoff-initial", "0s",
		"--listen", s.daemonAddr,
		"--alertmanager-url", s.am.URL(),
		"--runbook-url", runbook,
		"--log-format", "json"}
	p := rig.Start(s.t, "webservicemonitor", append(args, extra...)...)
	rig.WaitFor(s.t, 30*time.Second, "the daemon's first cycle (/readyz)", func() (bool, string) {
		if p.Exited() {
			s.t.Fatalf("the daemon exited: %s", rig.Tail(p.Log, 20))
		}
		return rig.Ready("http://" + s.daemonAddr + "/readyz")()
	})
	if ok, detail := rig.Ready("http://" + s.daemonAddr + "/healthz")(); !ok {
		s.t.Errorf("/healthz of a running daemon: %s", detail)
	}
	return p
}

func (s *suite) waitForEchoPage() rig.AMAlert {
	var page rig.AMAlert
	rig.WaitFor(s.t, 60*time.Second, "echo's page in Alertmanager", func() (bool, string) {
		alerts, err := s.am.Alerts()
		if err != nil {
			return false, err.Error()
		}
		given := rig.Named(alerts, "WebserviceMonitorGivenUp")
		if len(given) != 1 || given[0].Labels["tool"] != "echo" || given[0].Status.State != "active" {
			return false, fmt.Sprint(alerts)
		}
		page = given[0]
		return true, ""
	})
	return page
}

// echoGivenUpAt reads when echo was given up from the state file (read
// only, as the audit does, between two cycles).
func (s *suite) echoGivenUpAt() time.Time {
	var at time.Time
	rig.WaitFor(s.t, 10*time.Second, "a read-only look at the state file", func() (bool, string) {
		store, err := state.Open(filepath.Join(s.world.Dir, "state.db"), state.Options{ReadOnly: true, LockTimeout: time.Second})
		if err != nil {
			return false, err.Error()
		}
		defer store.Close()
		h, err := store.Histories()
		if err != nil {
			return false, err.Error()
		}
		rec, _ := h.Get("echo")
		at = rec.GivenUpAt
		return !at.IsZero(), fmt.Sprintf("echo's record: %+v", rec)
	})
	return at
}

func (s *suite) checkStatuses(want map[string]string) {
	got, err := s.prom.query(downQuery)
	if err != nil {
		s.t.Fatal(err)
	}
	for _, smp := range got {
		if w := want[smp.Metric["tool"]]; smp.Metric["status"] != w {
			s.t.Errorf("%s: status %q, want %q", smp.Metric["tool"], smp.Metric["status"], w)
		}
	}
}

// checkExposition: a real scrape passes promtool's lint, and every metric
// the rules and the dashboard query is in it; every dashboard query is
// valid PromQL to the real Prometheus.
func (s *suite) checkExposition(exposition []byte) {
	if out := run(s.t, exposition, "promtool", "check", "metrics"); strings.TrimSpace(out) != "" {
		s.t.Errorf("promtool check metrics on a real scrape:\n%s", out)
	}
	have := sampleNames(exposition)
	queried := map[string][]string{}
	rules, err := os.ReadFile(filepath.Join(s.root, "deploy", "prometheus", "webservicemonitor.rules.yml"))
	if err != nil {
		s.t.Fatal(err)
	}
	for _, name := range metricNames(string(rules)) {
		queried[name] = append(queried[name], "rules")
	}
	exprs := dashboardQueries(s.t, filepath.Join(s.root, "deploy", "grafana", "webservicemonitor-dashboard.json"))
	for _, e := range exprs {
		for _, name := range metricNames(e) {
			queried[name] = append(queried[name], "dashboard")
		}
		q := strings.NewReplacer("$job", "webservicemonitor", "$instance", ".*", "$__rate_interval", "1m").Replace(e)
		// A template variable's label_values(selector, label) is Grafana's;
		// the selector in it is PromQL.
		q = regexp.MustCompile(`^label_values\((.*),\s*\w+\)$`).ReplaceAllString(q, "$1")
		if _, err := s.prom.query(q); err != nil {
			s.t.Errorf("dashboard query refused by Prometheus: %v", err)
		}
	}
	if len(queried) < 10 {
		s.t.Fatalf("found only %d metric names in the rules and the dashboard: %v", len(queried), queried)
	}
	for name, where := range queried {
		if !have[name] && !clusterOnly(name) {
			s.t.Errorf("%s (queried by the %s) is not in a scrape of the daemon", name, strings.Join(slices.Compact(where), " and "))
		}
	}
}

// clusterOnly says whether a series is exported only by a host sharing its
// history through etcd (the dashboard's "Who leads" and etcd panels): this
// suite's daemon is a single host. internal/metrics'
// TestDeployQueriesNameExportedMetrics checks them against a cluster
// host's registry.
func clusterOnly(name string) bool {
	return name == "webservicemonitor_leader" || strings.HasPrefix(name, "webservicemonitor_leader_") ||
		strings.HasPrefix(name, "webservicemonitor_store_")
}

// metricNames finds the metric names a PromQL text uses: the daemon's
// (webservicemonitor_*) and the process collector's. up is Prometheus's own.
func metricNames(promql string) []string {
	return slices.Compact(slices.Sorted(slices.Values(regexp.MustCompile(`\b(?:webservicemonitor|process)_[a-z0-9_]+\b`).FindAllString(promql, -1))))
}

func dashboardQueries(t *testing.T, path string) []string {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var exprs []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if s, ok := x.(string); ok && (k == "expr" || k == "query" || k == "definition") {
					exprs = append(exprs, s)
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(doc)
	return exprs
}

func (s *suite) checkRulesHealthy() {
	var resp struct {
		Data struct {
			Groups []struct {
				Rules []struct {
					Name      string `json:"name"`
					Health    string `json:"health"`
					LastError string `json:"lastError"`
				} `json:"rules"`
			} `json:"groups"`
		} `json:"data"`
	}
	if err := rig.GetJSON(s.prom.base+"/api/v1/rules", &resp); err != nil {
		s.t.Fatal(err)
	}
	n := 0
	for _, g := range resp.Data.Groups {
		for _, r := range g.Rules {
			n++
			if r.Health != "ok" {
				s.t.Errorf("rule %s evaluated against the real daemon: health %q %s", r.Name, r.Health, r.LastError)
			}
		}
	}
	if n != 11 {
		s.t.Errorf("Prometheus loaded %d rules, want 11 (8 and ha.rules.yml's 3)", n)
	}
	// A single host has no leader: the cluster's rules neither fire nor
	// wait to (pending).
	got, err := s.prom.query(`ALERTS{alertname=~"WebserviceMonitor(NoLeader|TwoLeaders|EtcdUnavailable)"}`)
	if err != nil || len(got) != 0 {
		s.t.Errorf("cluster alerts active against a single host: %v %v", got, err)
	}
}

func allLabel(samples []sample, label, value string) bool {
	for _, s := range samples {
		if s.Metric[label] != value {
			return false
		}
	}
	return len(samples) > 0
}
