package metrics

import (
	"fmt"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"webservicemonitor/internal/buildinfo"
	"webservicemonitor/monitor"
	"webservicemonitor/state/etcdstore"
)

// The leader gauge follows the leadership at each scrape, named by host,
// and only a daemon that exports it has it, or any cluster series.
func TestLeaderGauge(t *testing.T) {
	single := New(buildinfo.Get(), time.Minute, time.Now)
	if got := scrape(t, single); strings.Contains(got, "webservicemonitor_leader") || strings.Contains(got, "webservicemonitor_store_") {
		t.Error("a single host's scrape has cluster series:\n" + grep(got, "leader", "store_"))
	}
	m := New(buildinfo.Get(), time.Minute, time.Now)
	var leading atomic.Bool // the registry collects in goroutines of its own
	m.ExportLeadership("cron-a", leading.Load)
	for _, want := range []string{`webservicemonitor_leader{host="cron-a"} 0`, `webservicemonitor_leader{host="cron-a"} 1`} {
		if got := scrape(t, m); !has(got, want) {
			t.Errorf("scrape lacks %q", want)
		}
		leading.Store(true)
	}
}

// The cluster's series after each event, cumulatively: every op and result
// is zero before its first, store_up follows whether etcd answered the last
// operation (a refusal is an answer), leader_since is 0 while not leading.
func TestClusterSeries(t *testing.T) {
	m := New(buildinfo.Get(), time.Minute, time.Now)
	c := m.ExportLeadership("cron-b", func() bool { return false })
	won := time.Date(2026, 11, 30, 5, 0, 0, 0, time.UTC)
	steps := []struct {
		name  string
		event func()
		want  []string
	}{
		{"before any", func() {}, []string{
			`webservicemonitor_store_requests_total{host="cron-b",op="keepalive",result="unavailable"} 0`,
			`webservicemonitor_store_request_duration_seconds_count{host="cron-b",op="dump"} 0`,
			`webservicemonitor_leader_changes_total{change="gained",host="cron-b"} 0`,
			`webservicemonitor_leader_changes_total{change="lost",host="cron-b"} 0`,
			`webservicemonitor_leader_since_timestamp_seconds{host="cron-b"} 0`,
		}},
		{"session opened", func() { c.StoreRequest(etcdstore.OpCampaign, 4*time.Millisecond, nil) }, []string{
			`webservicemonitor_store_requests_total{host="cron-b",op="campaign",result="ok"} 1`,
			`webservicemonitor_store_request_duration_seconds_bucket{host="cron-b",op="campaign",le="0.005"} 1`,
			`webservicemonitor_store_up{host="cron-b"} 1`,
		}},
		{"gained", func() { c.LeadershipChanged(true, won) }, []string{
			`webservicemonitor_leader_changes_total{change="gained",host="cron-b"} 1`,
			fmt.Sprintf(`webservicemonitor_leader_since_timestamp_seconds{host="cron-b"} %g`, float64(won.Unix())),
		}},
		{"no answer", func() {
			c.StoreRequest(etcdstore.OpCommit, 15*time.Second, fmt.Errorf("committing: %w", etcdstore.ErrUnavailable))
		}, []string{
			`webservicemonitor_store_requests_total{host="cron-b",op="commit",result="unavailable"} 1`,
			`webservicemonitor_store_request_duration_seconds_bucket{host="cron-b",op="commit",le="10"} 0`,
			`webservicemonitor_store_request_duration_seconds_bucket{host="cron-b",op="commit",le="+Inf"} 1`,
			`webservicemonitor_store_up{host="cron-b"} 0`,
		}},
		{"keepalive unreachable", func() {
			c.StoreRequest(etcdstore.OpKeepAlive, time.Second, status.Error(codes.Unavailable, "connection refused"))
		}, []string{
			`webservicemonitor_store_requests_total{host="cron-b",op="keepalive",result="unavailable"} 1`,
			`webservicemonitor_store_up{host="cron-b"} 0`,
		}},
		{"fence refused: etcd answered", func() {
			c.StoreRequest(etcdstore.OpCommit, 3*time.Millisecond, fmt.Errorf("committing: %w", etcdstore.ErrNotLeader))
		}, []string{
			`webservicemonitor_store_requests_total{host="cron-b",op="commit",result="not-leader"} 1`,
			`webservicemonitor_store_up{host="cron-b"} 1`,
		}},
		{"lost", func() { c.LeadershipChanged(false, won.Add(time.Minute)) }, []string{
			`webservicemonitor_leader_changes_total{change="lost",host="cron-b"} 1`,
			`webservicemonitor_leader_changes_total{change="gained",host="cron-b"} 1`,
			`webservicemonitor_leader_since_timestamp_seconds{host="cron-b"} 0`,
		}},
		{"a read", func() { c.StoreRequest(etcdstore.OpRead, 30*time.Millisecond, nil) }, []string{
			`webservicemonitor_store_requests_total{host="cron-b",op="read",result="ok"} 1`,
			`webservicemonitor_store_requests_total{host="cron-b",op="commit",result="unavailable"} 1`,
			`webservicemonitor_store_up{host="cron-b"} 1`,
		}},
	}
	for _, st := range steps {
		st.event()
		got := scrape(t, m)
		for _, line := range st.want {
			if !has(got, line) {
				t.Errorf("after %s: missing %s; have\n%s", st.name, line, grep(got, "leader", "store_up", "store_requests_total"))
			}
		}
	}
	if _, err := exec.LookPath("promtool"); err == nil {
		cmd := exec.Command("promtool", "check", "metrics")
		cmd.Stdin = strings.NewReader(scrape(t, m))
		if out, err := cmd.CombinedOutput(); err != nil || len(out) > 0 {
			t.Errorf("promtool check metrics: %v\n%s", err, out)
		}
	}
}

// A restart another host may still be running holds the tool for a time,
// as a backoff does: counted with them, its code telling it apart.
func TestInFlightElsewhereHeldLikeBackoff(t *testing.T) {
	m := New(buildinfo.Get(), time.Minute, func() time.Time { return t0 })
	m.Observe(report(t0, []monitor.Decision{
		decision("alpha", "lighttpd", monitor.ActionHold, monitor.CodeInFlightElsewhere, monitor.PhaseNone, t0),
		decision("bravo", "lighttpd", monitor.ActionHold, monitor.CodeBackoff, monitor.PhaseNone, t0),
		decision("charlie", "lighttpd", monitor.ActionHold, monitor.CodePaused, monitor.PhaseNone, t0),
	}, nil), nil)
	got := scrape(t, m)
	for _, line := range []string{
		`webservicemonitor_tools_held_by_backoff 2`,
		`webservicemonitor_tool_reason{code="in-flight-elsewhere",tool="alpha"} 1`,
		`webservicemonitor_tools{status="not-running"} 3`,
		`webservicemonitor_tools_held_by_valve 0`,
	} {
		if !has(got, line) {
			t.Errorf("missing %s; have\n%s", line, grep(got, "held_by", "tool_reason", "tools{"))
		}
	}
}
