package manifest

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"webservicemonitor/internal/accounts"
	"webservicemonitor/internal/synth"
)

func benchScanner(p *synth.Platform) *Scanner {
	// The account cache is what the daemon runs with: lookups cost a map
	// read after the first cycle.
	resolver := accounts.NewCache(accounts.NewPasswdFile(p.Passwd), time.Hour, time.Minute, time.Now)
	return asDaemon(&Scanner{Root: p.Homes, Project: "tools", Accounts: resolver})
}

func scanOrFail(b *testing.B, s *Scanner, want int) {
	scan, err := s.Scan(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	if len(scan.Manifests) != want {
		b.Fatalf("%d manifests, want %d (%d skipped)", len(scan.Manifests), want, len(scan.Skipped))
	}
}

// BenchmarkScan measures one scan of N homes on local disk: "first" is a
// fresh supervisor (every manifest parsed), "unchanged" a daemon's later
// cycle (manifests only stat'ed, parses reused).
func BenchmarkScan(b *testing.B) {
	for _, size := range synth.Sizes() {
		p := synth.ForBenchmark(b, size.Tools)
		b.Run("first/"+size.Name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				scanOrFail(b, benchScanner(p), size.Tools)
			}
			synth.ReportPeakRSS(b)
		})
		b.Run("unchanged/"+size.Name, func(b *testing.B) {
			s := benchScanner(p)
			scanOrFail(b, s, size.Tools)
			b.ReportAllocs()
			for b.Loop() {
				scanOrFail(b, s, size.Tools)
			}
			synth.ReportPeakRSS(b)
		})
	}
}

// BenchmarkScanNFSLatency injects 5 ms per manifest read (an NFS round
// trip) into a first scan of 10,000 homes: bounded concurrency hides it,
// and never more than Concurrency manifests are open at once.
func BenchmarkScanNFSLatency(b *testing.B) {
	p := synth.ForBenchmark(b, 10000)
	var open, peak atomic.Int64
	limit := int64(benchScanner(p).Concurrency)
	for b.Loop() {
		s := benchScanner(p)
		s.opened = func() {
			n := open.Add(1)
			for {
				old := peak.Load()
				if n <= old || peak.CompareAndSwap(old, n) {
					break
				}
			}
			time.Sleep(5 * time.Millisecond)
			open.Add(-1)
		}
		scanOrFail(b, s, 10000)
	}
	if peak.Load() > limit {
		b.Fatalf("%d manifests open at once, limit %d", peak.Load(), limit)
	}
	b.ReportMetric(float64(peak.Load()), "max-open")
	b.ReportMetric(float64(limit), "limit")
}
