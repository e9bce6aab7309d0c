package metrics

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"webservicemonitor/internal/buildinfo"
	"webservicemonitor/monitor"
	"webservicemonitor/sources/manifest"
	"webservicemonitor/state"
)

// benchSizes are the fleet sizes of the scale benchmarks (the names
// internal/benchtable runs).
var benchSizes = []struct {
	name  string
	tools int
}{{"1k", 1_000}, {"10k", 10_000}, {"100k", 100_000}}

// fleetDown is a fleet of n desired tools of which one in twenty (5 %) is
// not up, in a fixed mix of what a supervisor sees of down tools: one
// restarted now, one waiting for its backoff, one held by the valve (no
// attempt yet), one given up. Every restarted tool reports a result.
func fleetDown(n int, at time.Time) monitor.Report {
	kinds := []struct {
		action   monitor.Action
		code     monitor.Code
		phase    monitor.Phase
		attempts int
	}{
		{monitor.ActionRestart, monitor.CodeNoJob, monitor.PhaseNone, 1},
		{monitor.ActionHold, monitor.CodeBackoff, monitor.PhaseRunning, 1},
		{monitor.ActionHold, monitor.CodeValve, monitor.PhaseError, 0},
		{monitor.ActionGiveUp, monitor.CodeBudgetExhausted, monitor.PhaseNone, 3},
	}
	no := false
	ds := make([]monitor.Decision, n)
	var results []monitor.Result
	for i := range ds {
		tool := fmt.Sprintf("tool%06d", i)
		d := monitor.Decision{Tool: tool, Manifest: &manifest.Manifest{Tool: tool, Web: "lighttpd", Backend: "gridengine"},
			Action: monitor.ActionNone, Code: monitor.CodeHealthy, Phase: monitor.PhaseRunning, Next: &state.ToolRecord{}}
		if i%20 == 0 {
			k := kinds[(i/20)%len(kinds)]
			d.Action, d.Code, d.Phase, d.Attempts = k.action, k.code, k.phase, k.attempts
			d.Next = &state.ToolRecord{DownSince: at.Add(-time.Duration(i%600) * time.Second)}
			if k.phase == monitor.PhaseRunning {
				d.Registered = &no
			}
			if k.action == monitor.ActionRestart {
				results = append(results, monitor.Result{Tool: tool, Outcome: state.OutcomeFailed})
			}
		}
		ds[i] = d
	}
	return report(at, ds, results)
}

// scrapeSize scrapes m as Prometheus does and counts its samples.
func scrapeSize(b testing.TB, h http.Handler) (series, size int) {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		b.Fatalf("/metrics: %d", rec.Code)
	}
	body := rec.Body.Bytes()
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if line := sc.Bytes(); len(line) > 0 && line[0] != '#' {
			series++
		}
	}
	return series, len(body)
}

// BenchmarkObserveScrape is one cycle's Observe and one scrape, steady
// (the same fleet as the cycle before), with the scrape's series count
// and size, which `make bench` reports.
func BenchmarkObserveScrape(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(size.name, func(b *testing.B) {
			m := New(buildinfo.Info{Version: "bench"}, time.Minute, func() time.Time { return t0 })
			h := m.Handler()
			rep := fleetDown(size.tools, t0)
			m.Observe(rep, nil)
			var series, bytes int
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				m.Observe(rep, nil)
				series, bytes = scrapeSize(b, h)
			}
			b.ReportMetric(float64(series), "series")
			b.ReportMetric(float64(bytes)/1e6, "scrape-MB")
		})
	}
}

// BenchmarkObserveGone is the cycle after one tool in seven stopped being
// desired: every series of theirs is deleted, in time linear in the
// fleet.
func BenchmarkObserveGone(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(size.name, func(b *testing.B) {
			full := fleetDown(size.tools, t0)
			rest := full
			rest.Plan.Decisions = nil
			for i, d := range full.Plan.Decisions {
				if i%7 != 3 {
					rest.Plan.Decisions = append(rest.Plan.Decisions, d)
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				m := New(buildinfo.Info{Version: "bench"}, time.Minute, func() time.Time { return t0 })
				m.Observe(full, nil)
				b.StartTimer()
				m.Observe(rest, nil)
			}
		})
	}
}
