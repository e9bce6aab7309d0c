// Command benchtable runs the scale benchmarks, each stage and size in its
// own process (so that the peak-memory figure is that benchmark's), and
// prints one table: stage × size → time, allocations, peak memory, and the
// 100k/10k time ratio that shows whether a stage stays linear. `make bench`
// runs it.
package main

import (
	"bufio"
	"bytes"
	"cmp"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// stage is one benchmark, run at every size: Bench is the benchmark path
// with %s standing for the size name.
type stage struct {
	Name  string
	Pkg   string
	Bench string
}

func stages() []stage {
	return []stage{
		{"qstat parse", "./sources/qstat", "BenchmarkParseScale/%s"},
		{"manifest scan, first", "./sources/manifest", "BenchmarkScan/first/%s"},
		{"manifest scan, unchanged", "./sources/manifest", "BenchmarkScan/unchanged/%s"},
		{"plan", "./monitor", "BenchmarkPlan/%s"},
		{"state write, every record", "./state", "BenchmarkCommitCycle/all/%s"},
		{"state write, 1% of records", "./state", "BenchmarkCommitCycle/1pct/%s"},
		{"read-only cycle, first", "./cmd/webservicemonitor", "BenchmarkCycle/first/%s"},
		{"read-only cycle, steady", "./cmd/webservicemonitor", "BenchmarkCycle/steady/%s"},
		{"metrics observe + scrape, 5% down", "./internal/metrics", "BenchmarkObserveScrape/%s"},
		{"metrics observe, 1/7 of tools gone", "./internal/metrics", "BenchmarkObserveGone/%s"},
	}
}

// scrapeStage is the benchmark whose series count and scrape size make
// the metrics table (targets at 100k: under 15,000 series, under 2 MB).
func scrapeStage() stage {
	return stage{"metrics scrape, 5% of tools down", "./internal/metrics", "BenchmarkObserveScrape/%s"}
}

// singles are benchmarks with one size of their own.
func singles() []stage {
	return []stage{
		{"manifest scan, 10k with 5 ms NFS latency", "./sources/manifest", "BenchmarkScanNFSLatency"},
		{"state file after a simulated day, 100k", "./state", "BenchmarkSimulatedDay"},
	}
}

type result struct {
	nsPerOp float64
	metrics map[string]float64
}

var benchLine = regexp.MustCompile(`^Benchmark\S*\s+\d+\s+(.*)$`)

// parse reads the benchmark's lines (one per -test.count run) and keeps
// the run with the median time: on a shared machine one slow or lucky run
// must not decide a ratio.
func parse(out []byte) (result, error) {
	var runs []result
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		m := benchLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		r := result{metrics: map[string]float64{}}
		fields := strings.Fields(m[1])
		for i := 0; i+1 < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				continue
			}
			r.metrics[fields[i+1]] = v
		}
		r.nsPerOp = r.metrics["ns/op"]
		runs = append(runs, r)
	}
	if len(runs) == 0 {
		return result{}, fmt.Errorf("no benchmark line in output:\n%s", out)
	}
	slices.SortFunc(runs, func(a, b result) int { return cmp.Compare(a.nsPerOp, b.nsPerOp) })
	return runs[len(runs)/2], nil
}

func main() {
	sizes := flag.String("sizes", "1k,10k,100k", "sizes to run")
	out := flag.String("o", "", "also write the table to this file")
	flag.Parse()

	bindir, err := os.MkdirTemp("", "benchtable-")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(bindir)
	r := &runner{bindir: bindir, binaries: map[string]string{}}

	var table bytes.Buffer
	r.sizeTable(&table, strings.Split(*sizes, ","))
	fmt.Fprintln(&table)
	r.scrapeTable(&table, strings.Split(*sizes, ","))
	fmt.Fprintln(&table)
	r.singlesTable(&table)

	var w io.Writer = os.Stdout
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			fail(err)
		}
		defer f.Close()
		w = io.MultiWriter(os.Stdout, f)
	}
	fmt.Fprintf(w, "\n%s", table.String())
}

// runner runs benchmarks from test binaries built once per package into
// bindir, so that each run is a process of its own (for its peak memory)
// without rebuilding.
type runner struct {
	bindir   string
	binaries map[string]string // package → its test binary
}

// binary is pkg's test binary, built on first use.
func (r *runner) binary(pkg string) string {
	if b, ok := r.binaries[pkg]; ok {
		return b
	}
	b := filepath.Join(r.bindir, strings.ReplaceAll(strings.Trim(pkg, "./"), "/", "_")+".test")
	cmd := exec.Command("go", "test", "-c", "-o", b, pkg)
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		fail(fmt.Errorf("building %s: %w", pkg, err))
	}
	r.binaries[pkg] = b
	return b
}

// run runs the benchmark bench of stage s count times and returns its
// median run, telling stderr how it went as it goes (a full table takes a
// while).
func (r *runner) run(s stage, bench, benchtime string, count int) result {
	// Anchor every path element so that 1k does not also run 10k.
	var parts []string
	for _, p := range strings.Split(bench, "/") {
		parts = append(parts, "^"+regexp.QuoteMeta(p)+"$")
	}
	cmd := exec.Command(r.binary(s.Pkg), "-test.run", "^$", "-test.bench", strings.Join(parts, "/"),
		"-test.benchmem", "-test.benchtime", benchtime, "-test.count", strconv.Itoa(count))
	cmd.Dir = s.Pkg
	began := time.Now()
	o, err := cmd.CombinedOutput()
	if err != nil {
		fail(fmt.Errorf("%s %s: %w\n%s", s.Pkg, bench, err, o))
	}
	res, err := parse(o)
	if err != nil {
		fail(err)
	}
	fmt.Fprintf(os.Stderr, "%-45s %-5s %10s  (%s)\n", s.Name, sizeOf(bench), dur(res.nsPerOp), time.Since(began).Round(time.Second))
	return res
}

// sizeTable writes the stage × size table, with the 100k/10k time ratio
// that shows whether a stage stays linear.
func (r *runner) sizeTable(table io.Writer, names []string) {
	// Enough runs that one slow run on a shared machine does not decide.
	benchtime := map[string]string{"1k": "20x", "10k": "10x", "100k": "3x"}
	tw := tabwriter.NewWriter(table, 0, 0, 2, ' ', tabwriter.AlignRight)
	header := "stage\t"
	for _, n := range names {
		header += n + " time\t" + n + " allocs\t" + n + " peak MiB\t"
	}
	fmt.Fprintln(tw, header+"100k/10k\t")
	for _, s := range stages() {
		row := s.Name + "\t"
		times := map[string]float64{}
		for _, n := range names {
			res := r.run(s, fmt.Sprintf(s.Bench, n), benchtime[n], 3)
			times[n] = res.nsPerOp
			row += fmt.Sprintf("%s\t%s\t%.0f\t", dur(res.nsPerOp), count(res.metrics["allocs/op"]), res.metrics["peak-MiB"])
		}
		ratio := "-"
		if times["10k"] > 0 && times["100k"] > 0 {
			ratio = fmt.Sprintf("%.1f", times["100k"]/times["10k"])
		}
		fmt.Fprintln(tw, row+ratio+"\t")
	}
	tw.Flush()
}

// scrapeTable writes, per size, the series and bytes of one scrape of a
// fleet with 5 % of its tools down: what Prometheus stores and fetches
// every scrape.
func (r *runner) scrapeTable(table io.Writer, names []string) {
	s := scrapeStage()
	tw := tabwriter.NewWriter(table, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "tools (5% down)\tseries\tscrape MB\t")
	for _, n := range names {
		res := r.run(s, fmt.Sprintf(s.Bench, n), "1x", 1)
		fmt.Fprintf(tw, "%s\t%.0f\t%.2f\t\n", n, res.metrics["series"], res.metrics["scrape-MB"])
	}
	tw.Flush()
}

// singlesTable writes one line per single-size benchmark, with whichever
// of its own metrics it reports.
func (r *runner) singlesTable(table io.Writer) {
	for _, s := range singles() {
		res := r.run(s, s.Bench, "1x", 1)
		extra := ""
		for _, k := range []string{"max-open", "limit", "file-MiB", "peak-MiB"} {
			if v, ok := res.metrics[k]; ok {
				extra += fmt.Sprintf(", %s %.1f", k, v)
			}
		}
		fmt.Fprintf(table, "%s: %s%s\n", s.Name, dur(res.nsPerOp), extra)
	}
}

func sizeOf(bench string) string {
	return bench[strings.LastIndexByte(bench, '/')+1:]
}

func dur(ns float64) string {
	return time.Duration(ns).Round(time.Duration(max(ns/1000, 1))).String()
}

func count(n float64) string {
	switch {
	case n >= 1e6:
		return fmt.Sprintf("%.1fM", n/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.0fk", n/1e3)
	}
	return fmt.Sprintf("%.0f", n)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "benchtable:", err)
	os.Exit(1)
}
