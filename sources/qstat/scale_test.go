package qstat

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"testing"
	"time"

	"webservicemonitor/internal/demo"
	"webservicemonitor/internal/synth"
)

// scaleGrid is a platform of the given number of tools in the shape the
// performance issue fixes: each tool's web service job plus two unrelated
// jobs (batch work of a few thousand other accounts), so 3×tools jobs. Most
// run; some wait, are held, are in error or are being deleted.
func scaleGrid(tools int) demo.Grid {
	t0 := time.Date(2017, 1, 23, 11, 0, 0, 0, time.Local)
	g := demo.Grid{Jobs: make([]demo.Job, 0, 3*tools)}
	for i := range tools {
		web := demo.Job{
			Number:    1_000_000 + 3*i,
			Name:      fmt.Sprintf("lighttpd-tool%06d", i),
			Owner:     fmt.Sprintf("tools.tool%06d", i),
			State:     "r",
			Queue:     fmt.Sprintf("webgrid-lighttpd@tools-webgrid-lighttpd-14%02d.tools.eqiad.wmflabs", i%40),
			Started:   t0.Add(-time.Duration(i) * time.Second),
			Submitted: t0.Add(-time.Duration(i)*time.Second - time.Minute),
		}
		switch {
		case i%97 == 0:
			web.State, web.Queue, web.Started = "Eqw", "", time.Time{}
		case i%50 == 0:
			web.State, web.Queue, web.Started = "qw", "", time.Time{}
		}
		g.Jobs = append(g.Jobs, web)
		for k := 1; k <= 2; k++ {
			n := 2*i + k
			other := demo.Job{
				Number:    1_000_000 + 3*i + k,
				Name:      fmt.Sprintf("cron-%d", n%5000),
				Owner:     fmt.Sprintf("tools.batch%04d", n%3000),
				State:     "r",
				Queue:     fmt.Sprintf("task@tools-exec-14%02d.tools.eqiad.wmflabs", n%60),
				Started:   t0.Add(-time.Duration(n) * time.Second),
				Submitted: t0.Add(-time.Duration(n)*time.Second - time.Minute),
			}
			switch {
			case n%31 == 0:
				other.State, other.Queue, other.Started = "qw", "", time.Time{}
			case n%53 == 0:
				other.State, other.Queue, other.Started = "hqw", "", time.Time{}
			case n%71 == 0:
				other.State = "dr"
			}
			g.Jobs = append(g.Jobs, other)
		}
	}
	return g
}

// BenchmarkParseScale parses a whole platform's qstat document at 1k, 10k
// and 100k tools (3×N jobs). ns/job and allocs/job make sizes comparable;
// the 100k/10k time ratio shows the parser stays linear.
func BenchmarkParseScale(b *testing.B) { benchmarkScale(b, Parse) }

// BenchmarkParseScaleReference is the same for encoding/xml alone, to show
// what the fast path gains.
func BenchmarkParseScaleReference(b *testing.B) {
	benchmarkScale(b, func(r io.Reader, loc *time.Location) ([]Job, error) {
		return referenceParse(r, loc, math.MaxInt64)
	})
}

func benchmarkScale(b *testing.B, parse func(io.Reader, *time.Location) ([]Job, error)) {
	for _, size := range synth.Sizes() {
		// The synthetic platform's document, read from disk as qstat's pipe
		// would deliver it: memory is the parser's, not a buffered copy's.
		p := synth.ForBenchmark(b, size.Tools)
		b.Run(size.Name, func(b *testing.B) {
			b.SetBytes(p.XMLBytes)
			b.ReportAllocs()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			runs := 0
			for b.Loop() {
				f, err := os.Open(p.QstatXML)
				if err != nil {
					b.Fatal(err)
				}
				got, err := parse(bufio.NewReaderSize(f, 64<<10), nil)
				f.Close()
				if err != nil || len(got) != p.Jobs {
					b.Fatalf("parse = %d jobs, %v; want %d", len(got), err, p.Jobs)
				}
				runs++
			}
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(runs*p.Jobs), "ns/job")
			b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(runs*p.Jobs), "allocs/job")
			synth.ReportPeakRSS(b)
		})
	}
}
