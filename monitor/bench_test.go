package monitor

import (
	"context"
	"encoding/json"
	"os"
	"testing"
	"time"

	"webservicemonitor/internal/accounts"
	"webservicemonitor/internal/config"
	"webservicemonitor/internal/synth"
	"webservicemonitor/sources/manifest"
	"webservicemonitor/sources/proxy"
	"webservicemonitor/sources/qstat"
	"webservicemonitor/state"
)

// benchInputs reads a synthetic platform through the real sources once.
func benchInputs(b *testing.B, tools int) Inputs {
	b.Helper()
	p := synth.ForBenchmark(b, tools)
	cfg := config.Defaults()
	s := &manifest.Scanner{Root: p.Homes, Project: "tools", Accounts: accounts.NewPasswdFile(p.Passwd),
		WebTypes: cfg.WebTypes, Releases: cfg.Releases, DefaultRelease: cfg.DefaultRelease,
		Concurrency: cfg.ManifestWorkers, Timeout: cfg.ManifestTimeout}
	scan, err := s.Scan(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	f, err := os.Open(p.QstatXML)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	jobs, err := qstat.Parse(f, time.Local)
	if err != nil {
		b.Fatal(err)
	}
	data, err := os.ReadFile(p.ListJSON)
	if err != nil {
		b.Fatal(err)
	}
	snap := proxy.Snapshot{Proxy: "proxy-01", Enabled: true}
	if err := json.Unmarshal(data, &snap.Registrations); err != nil {
		b.Fatal(err)
	}
	// A history as a daemon has it: every tool seen, a few with attempts.
	now := synth.BenchOptions(tools).Now
	history := make(state.Records, 0, tools)
	for i, m := range scan.Manifests {
		rec := state.ToolRecord{UpSince: now.Add(-time.Hour), LastSeenUp: now.Add(-time.Hour)}
		if i%50 == 0 {
			rec = state.ToolRecord{DownSince: now.Add(-time.Hour), BackoffStep: 1,
				Attempts: []state.Attempt{{At: now.Add(-30 * time.Minute), Outcome: state.OutcomeFailed}}}
		}
		history = append(history, state.ToolHistory{Tool: m.Tool, Record: rec})
	}
	return Inputs{Manifests: scan, Jobs: jobs, Proxy: snap, History: history, Now: now, LastCycle: now.Add(-time.Minute)}
}

// BenchmarkPlan is the pure planner alone at each size.
func BenchmarkPlan(b *testing.B) {
	for _, size := range synth.Sizes() {
		in := benchInputs(b, size.Tools)
		p := testPolicy()
		p.Jitter = BackoffJitter // as the daemon has it
		p.ValveFraction = 1      // measure the planning, not a tripped valve
		b.Run(size.Name, func(b *testing.B) {
			b.ReportAllocs()
			var plan Plan
			for b.Loop() {
				plan = MakePlan(in, p)
			}
			if len(plan.Decisions) < size.Tools {
				b.Fatalf("%d decisions for %d tools", len(plan.Decisions), size.Tools)
			}
			synth.ReportPeakRSS(b)
		})
	}
}
