package synth

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// Size is one benchmark size.
type Size struct {
	Name  string
	Tools int
}

// Sizes returns the benchmark sizes, smallest first: N tools with 2N
// unrelated jobs.
func Sizes() []Size {
	return []Size{{"1k", 1000}, {"10k", 10000}, {"100k", 100000}}
}

// BenchOptions are the options every benchmark uses at a size: 5 % down,
// 2 % unregistered, 2N unrelated jobs, a fixed seed and clock.
func BenchOptions(tools int) Options {
	return Options{
		Tools: tools, ExtraJobs: 2 * tools, DownFraction: 0.05, UnregisteredFrac: 0.02,
		Seed: 42, Now: time.Date(2026, 11, 21, 12, 0, 0, 0, time.Local),
	}
}

// ForBenchmark returns the cached platform of a size, generating it on first
// use under $WSM_SYNTH_DIR (default: the system temp dir).
func ForBenchmark(b testing.TB, tools int) *Platform {
	b.Helper()
	root := os.Getenv("WSM_SYNTH_DIR")
	if root == "" {
		root = filepath.Join(os.TempDir(), "webservicemonitor-synth")
	}
	p, err := Cached(root, BenchOptions(tools))
	if err != nil {
		b.Fatalf("generating the synthetic platform: %v", err)
	}
	return p
}

// ReportPeakRSS reports the process's peak resident memory. `make bench`
// runs every stage and size in its own process, so the figure is that
// benchmark's peak.
func ReportPeakRSS(b *testing.B) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		b.ReportMetric(float64(ru.Maxrss)/1024, "peak-MiB")
	}
}
