package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/rs/zerolog"

	"webservicemonitor/internal/config"
	"webservicemonitor/internal/synth"
	"webservicemonitor/monitor"
)

// BenchmarkCycle is one whole read-only cycle through the binary's own
// wiring (config.Load, newAuditCycle) against a synthetic platform: qstat is
// `cat` of a captured-size document, the proxy a loopback server. "first"
// is a one-shot audit (fresh caches); "steady" the daemon's later cycles.
func BenchmarkCycle(b *testing.B) {
	for _, size := range synth.Sizes() {
		p := synth.ForBenchmark(b, size.Tools)
		list, err := os.ReadFile(p.ListJSON)
		if err != nil {
			b.Fatal(err)
		}
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write(list)
		}))
		dir := b.TempDir()
		proxyFile := filepath.Join(dir, "active-proxy")
		if err := os.WriteFile(proxyFile, []byte(srv.Listener.Addr().String()), 0o644); err != nil {
			b.Fatal(err)
		}
		cfg, err := config.Load([]string{
			"--homes", p.Homes, "--project-file", p.ProjectFile, "--passwd-file", p.Passwd, "--min-uid", "0",
			"--qstat", "/bin/cat " + p.QstatXML, "--active-proxy-file", proxyFile,
			"--proxy-list-url", "http://{proxy}/list", "--state-file", filepath.Join(dir, "state.db"),
			"--restart-command", "/bin/false", "--dry-run",
			"--qstat-job", "/bin/echo {job}", "--clear-command", "/bin/false {job}",
		}, io.Discard)
		if err != nil {
			b.Fatal(err)
		}
		applyMemoryLimit(cfg)
		check := func(b *testing.B, rep monitor.Report, err error) {
			if err != nil || rep.SourceFailed() || rep.Plan.Desired != size.Tools {
				b.Fatalf("cycle: %v, desired %d, sources %+v", err, rep.Plan.Desired, rep.Sources)
			}
		}
		ctx := context.Background()
		b.Run("first/"+size.Name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				cycle := newBenchCycle(b, cfg)
				rep, err := cycle.Run(ctx, ctx)
				check(b, rep, err)
			}
			synth.ReportPeakRSS(b)
		})
		b.Run("steady/"+size.Name, func(b *testing.B) {
			cycle := newBenchCycle(b, cfg)
			rep, err := cycle.Run(ctx, ctx)
			check(b, rep, err)
			b.ReportAllocs()
			for b.Loop() {
				rep, err := cycle.Run(ctx, ctx)
				check(b, rep, err)
				if os.Getenv("WSM_BENCH_VERBOSE") != "" {
					for _, s := range rep.Sources {
						b.Logf("%s %s", s.Name, s.Duration)
					}
					b.Logf("total %s", rep.Finished.Sub(rep.Started))
				}
			}
			synth.ReportPeakRSS(b)
		})
		srv.Close()
	}
}

// newBenchCycle is the audit's cycle without its printout: the benchmark
// measures the cycle, not the table.
func newBenchCycle(b *testing.B, cfg *config.Config) *monitor.Cycle {
	b.Helper()
	cycle, err := newAuditCycle(cfg, zerolog.Nop(), nil)
	if err != nil {
		b.Fatal(err)
	}
	return cycle
}
