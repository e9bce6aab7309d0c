package qstat

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // DST-gap cases need a real zone whatever the host has
)

// qmasterZone is a fixed non-UTC zone, so a parser that ignored the
// location (or read the times as UTC) gets every instant wrong.
var qmasterZone = time.FixedZone("qmaster", -8*60*60)

func at(s string) time.Time {
	t, err := time.ParseInLocation(timeLayout, s, qmasterZone)
	if err != nil {
		panic(err)
	}
	return t
}

func TestParseFixtures(t *testing.T) {
	tests := []struct {
		file     string
		wantJobs int    // when wantErr is empty
		wantErr  string // substring of the error
	}{
		{file: "mixed-states.xml", wantJobs: 18},
		{file: "zero-jobs.xml", wantJobs: 0},
		{file: "unknown-elements.xml", wantJobs: 1},
		{file: "empty.txt", wantErr: "qstat printed nothing"},
		{file: "garbage.txt", wantErr: `qstat printed text that is not XML: "error: commlib error`},
		{file: "declaration-only.xml", wantErr: "qstat printed no <job_info> element"},
		{file: "truncated.xml", wantErr: "ends at line 18 inside <JB_owner>: output is truncated"},
		{file: "wrong-root.xml", wantErr: "root element is <detailed_job_info>, want <job_info>"},
		{file: "mismatched-tags.xml", wantErr: "line 8: <JB_owner> closed by </JB_name>"},
		{file: "text-after-root.xml", wantErr: `text after </job_info>: "\nerror: failed receiving gdi request`},
		{file: "missing-job-number.xml", wantErr: "job_list #2 at line 14: missing or empty <JB_job_number>"},
		{file: "missing-name.xml", wantErr: "job_list #2 at line 14 (job 6094855): missing or empty <JB_name>"},
		{file: "missing-owner.xml", wantErr: `job_list #2 at line 14 (job 6094855 "uwsgi-python-other"): missing or empty <JB_owner>`},
		{file: "empty-owner.xml", wantErr: `job_list #2 at line 14 (job 6094855 "uwsgi-python-other"): missing or empty <JB_owner>`},
		{file: "missing-state.xml", wantErr: `(job 6094855 "uwsgi-python-other"): missing or empty <state>`},
		{file: "bad-job-number.xml", wantErr: `job_list #2 at line 14: JB_job_number "6094x855" is not a whole number`},
		{file: "bad-start-time.xml", wantErr: `JAT_start_time "2017-02-30T10:56:01" is not a time`},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		seen[tt.file] = true
		t.Run(tt.file, func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			jobs, err := Parse(f, qmasterZone)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("Parse = %d jobs, nil error; want error containing %q", len(jobs), tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Parse error = %q; want it to contain %q", err, tt.wantErr)
				}
				if jobs != nil {
					t.Errorf("Parse returned %d jobs along with the error; want none", len(jobs))
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if jobs == nil {
				t.Fatal("Parse returned a nil slice; want non-nil even for zero jobs")
			}
			if len(jobs) != tt.wantJobs {
				t.Fatalf("Parse = %d jobs, want %d", len(jobs), tt.wantJobs)
			}
		})
	}
	// Every fixture must be walked, so a new one cannot be forgotten.
	entries, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.IsDir() && !seen[e.Name()] {
			t.Errorf("testdata/%s is not in the table", e.Name())
		}
	}
}

func TestParseMixedStates(t *testing.T) {
	jobs := parseFile(t, "mixed-states.xml")

	var states []string
	running := 0
	for _, j := range jobs {
		states = append(states, j.State)
		if j.Running {
			running++
		}
	}
	wantStates := "r Rr hr dr t s S T r r r r r qw hqw Eqw qw qw"
	if got := strings.Join(states, " "); got != wantStates {
		t.Errorf("states in document order = %q, want %q", got, wantStates)
	}
	if running != 13 {
		t.Errorf("%d jobs marked running, want 13 (those under queue_info)", running)
	}

	const lighttpd1401 = "webgrid-lighttpd@tools-webgrid-lighttpd-1401.tools.eqiad.wmflabs"
	want := map[int]Job{
		0: {Number: 6094854, Name: "lighttpd-mytool", Owner: "tools.mytool", State: "r",
			Queue: lighttpd1401, Slots: 1, Started: at("2017-01-23T10:55:22"), Running: true},
		1: {Number: 6094855, Name: "uwsgi-python-other", Owner: "tools.other", State: "Rr",
			Queue: "webgrid-generic@tools-webgrid-generic-1402.tools.eqiad.wmflabs", Slots: 1,
			Started: at("2017-01-23T10:56:01"), Running: true},
		8:  {Number: 6094862, Name: "update", Owner: "tools.alpha", State: "r", Queue: "task@tools-exec-1409.tools.eqiad.wmflabs", Slots: 1, Started: at("2017-01-23T09:00:00"), Running: true},
		9:  {Number: 6094863, Name: "update", Owner: "tools.beta", State: "r", Queue: "task@tools-exec-1410.tools.eqiad.wmflabs", Slots: 1, Started: at("2017-01-23T09:00:05"), Running: true},
		10: {Number: 6094864, Name: "report<2017>", Owner: "tools.reporter", State: "r", Queue: "task@tools-exec-1411.tools.eqiad.wmflabs", Slots: 1, Started: at("2017-01-23T07:30:00"), Running: true},
		12: {Number: 6094870, Name: "build-index", Owner: "tools.indexer", State: "r", Queue: "task@tools-exec-1413.tools.eqiad.wmflabs", Slots: 1, Tasks: "2", Started: at("2017-01-23T10:00:00"), Running: true},
		15: {Number: 6094882, Name: "lighttpd-broken", Owner: "tools.broken", State: "Eqw", Slots: 1, Submitted: at("2017-01-19T04:15:00")},
		16: {Number: 6094870, Name: "build-index", Owner: "tools.indexer", State: "qw", Slots: 1, Tasks: "3-10:1", Submitted: at("2017-01-23T09:59:30")},
		17: {Number: 6094883, Name: "fetch&store", Owner: "tools.fetcher", State: "qw", Slots: 1, Submitted: at("2017-01-23T11:03:00")},
	}
	for i, w := range want {
		if msg := diffJob(jobs[i], w); msg != "" {
			t.Errorf("job %d: %s", i, msg)
		}
	}
	// The instant, not just the wall clock: 10:55:22 at UTC-8 is 18:55:22 UTC.
	if got, want := jobs[0].Started.UTC(), time.Date(2017, 1, 23, 18, 55, 22, 0, time.UTC); !got.Equal(want) {
		t.Errorf("job 0 started at %v UTC, want %v", got, want)
	}
}

func TestParseSkipsUnknownElements(t *testing.T) {
	jobs := parseFile(t, "unknown-elements.xml")
	w := Job{Number: 6094854, Name: "lighttpd-mytool", Owner: "tools.mytool", State: "r",
		Queue: "webgrid-lighttpd@tools-webgrid-lighttpd-1401.tools.eqiad.wmflabs", Slots: 1,
		Started: at("2017-01-23T10:55:22"), Running: true}
	if msg := diffJob(jobs[0], w); msg != "" {
		t.Error(msg)
	}
}

func TestParseNilLocationMeansLocal(t *testing.T) {
	jobs := parseFile(t, "mixed-states.xml")
	f, err := os.Open(filepath.Join("testdata", "mixed-states.xml"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	local, err := Parse(f, nil)
	if err != nil {
		t.Fatal(err)
	}
	if local[0].Started.Location() != time.Local {
		t.Errorf("location = %v, want time.Local", local[0].Started.Location())
	}
	y, m, d := local[0].Started.Date()
	if y != 2017 || m != 1 || d != 23 || local[0].Started.Hour() != jobs[0].Started.Hour() {
		t.Errorf("wall clock = %v, want 2017-01-23 10:55:22 local", local[0].Started)
	}
}

// The hand-rolled fast path must agree with time.ParseInLocation.
func TestParseLocalTimeMatchesTimePackage(t *testing.T) {
	newYork, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	for _, loc := range []*time.Location{time.UTC, qmasterZone, newYork} {
		for _, s := range []string{
			"2017-01-23T10:55:22",
			"2016-02-29T00:00:00",
			"2017-02-29T00:00:00",
			"2017-02-30T10:56:01",
			"2017-13-01T00:00:00",
			"2017-00-01T00:00:00",
			"2017-01-00T00:00:00",
			"2017-01-23T24:00:00",
			"2017-01-23T23:60:00",
			"2017-01-23T23:59:60",
			"2017-03-12T02:30:00", // inside New York's spring-forward gap
			"2017-11-05T01:30:00", // New York's ambiguous hour
			"2017-01-23T10:55:22.123",
			"2017-1-23T10:55:22",
			"2017-01-23 10:55:22",
			"+017-01-23T10:55:22",
			"2017-01-23T10:55:2x",
			"",
		} {
			want, werr := time.ParseInLocation(timeLayout, s, loc)
			got, ok := parseLocalTime([]byte(s), loc)
			if ok != (werr == nil) || (ok && !got.Equal(want)) {
				t.Errorf("parseLocalTime(%q, %v) = %v, %v; time.ParseInLocation = %v, %v", s, loc, got, ok, want, werr)
			}
		}
	}
}

func TestUnescapeName(t *testing.T) {
	for in, want := range map[string]string{
		"lighttpd-mytool":    "lighttpd-mytool",
		"report%lt;2017%gt;": "report<2017>",
		"fetch%amp;store":    "fetch&store",
		"%amp;lt;":           "&lt;",
		"%%lt;":              "%<",
		"100%":               "100%",
		"%lt":                "%lt",
		"%quot;":             "%quot;",
	} {
		if got := unescapeName([]byte(in)); got != want {
			t.Errorf("unescapeName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseCount(t *testing.T) {
	for in, want := range map[string]int{"0": 0, "6094854": 6094854, "9223372036854775807": 9223372036854775807} {
		if got, ok := parseCount([]byte(in)); !ok || got != want {
			t.Errorf("parseCount(%q) = %d, %v; want %d", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "-1", "+1", "1e3", "12a", "9223372036854775808", "99999999999999999999"} {
		if got, ok := parseCount([]byte(in)); ok {
			t.Errorf("parseCount(%q) = %d, ok; want failure", in, got)
		}
	}
}

// TestParseHugeGrid parses a grid ten times larger than today's, written to
// a real file, to show the parser neither chokes nor drops jobs at scale.
func TestParseHugeGrid(t *testing.T) {
	if testing.Short() {
		t.Skip("writes and parses an 80 MB document")
	}
	n := 200_000
	if raceEnabled {
		n = 20_000
		t.Logf("race detector on: %d jobs instead of 200,000", n)
	}
	path := filepath.Join(t.TempDir(), "huge.xml")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeGrid(f, n); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	jobs, err := Parse(f, qmasterZone)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if len(jobs) != n {
		t.Fatalf("Parse = %d jobs, want %d", len(jobs), n)
	}
	running := 0
	for _, j := range jobs {
		if j.Running {
			running++
		}
	}
	if running != n*9/10 {
		t.Errorf("%d running, want %d", running, n*9/10)
	}
	last := jobs[n-1]
	if last.Number != 1_000_000+n-1 || last.Name != fmt.Sprintf("lighttpd-tool%d", n-1) || last.State != "qw" || last.Running {
		t.Errorf("last job = %+v", last)
	}
}

func BenchmarkParse(b *testing.B) {
	var doc bytes.Buffer
	if err := writeGrid(&doc, 20_000); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(doc.Len()))
	b.ReportAllocs()
	for b.Loop() {
		jobs, err := Parse(bytes.NewReader(doc.Bytes()), qmasterZone)
		if err != nil || len(jobs) != 20_000 {
			b.Fatalf("Parse = %d jobs, %v", len(jobs), err)
		}
	}
}

func FuzzParse(f *testing.F) {
	entries, err := os.ReadDir("testdata")
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join("testdata", e.Name()))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		jobs, err := Parse(bytes.NewReader(doc), qmasterZone)
		if err != nil {
			if jobs != nil {
				t.Fatalf("error %v came with %d jobs", err, len(jobs))
			}
			return
		}
		if jobs == nil {
			t.Fatal("success with a nil slice")
		}
		for i, j := range jobs {
			if j.Name == "" || j.Owner == "" || j.State == "" {
				t.Fatalf("job %d parsed without name, owner or state: %+v", i, j)
			}
		}
	})
}

func parseFile(t *testing.T, name string) []Job {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	jobs, err := Parse(f, qmasterZone)
	if err != nil {
		t.Fatalf("Parse(%s): %v", name, err)
	}
	return jobs
}

// diffJob compares times as instants and by zone, which == on Job cannot.
func diffJob(got, want Job) string {
	sameTime := func(a, b time.Time) bool {
		return a.Equal(b) && a.IsZero() == b.IsZero() && (a.IsZero() || a.Location().String() == b.Location().String())
	}
	g, w := got, want
	g.Started, g.Submitted, w.Started, w.Submitted = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if g != w || !sameTime(got.Started, want.Started) || !sameTime(got.Submitted, want.Submitted) {
		return fmt.Sprintf("got  %+v\nwant %+v", got, want)
	}
	return ""
}

// writeGrid writes an SGE 8.1.9 document with n web jobs, the first 90 %
// running and the rest pending, numbered from 1,000,000.
func writeGrid(w io.Writer, n int) error {
	bw := bufio.NewWriter(w)
	bw.WriteString("<?xml version='1.0'?>\n<job_info  xmlns:xsd=\"http://arc.liv.ac.uk/repos/darcs/sge/source/dist/util/resources/schemas/qstat/qstat.xsd\">\n  <queue_info>\n")
	running := n * 9 / 10
	for i := range n {
		if i == running {
			bw.WriteString("  </queue_info>\n  <job_info>\n")
		}
		if i < running {
			fmt.Fprintf(bw, `    <job_list state="running">
      <JB_job_number>%d</JB_job_number>
      <JAT_prio>0.25000</JAT_prio>
      <JB_name>lighttpd-tool%d</JB_name>
      <JB_owner>tools.tool%d</JB_owner>
      <state>r</state>
      <JAT_start_time>2017-01-23T10:%02d:%02d</JAT_start_time>
      <queue_name>webgrid-lighttpd@tools-webgrid-lighttpd-14%02d.tools.eqiad.wmflabs</queue_name>
      <slots>1</slots>
    </job_list>
`, 1_000_000+i, i, i, i/60%60, i%60, i%40)
			continue
		}
		fmt.Fprintf(bw, `    <job_list state="pending">
      <JB_job_number>%d</JB_job_number>
      <JAT_prio>0.00000</JAT_prio>
      <JB_name>lighttpd-tool%d</JB_name>
      <JB_owner>tools.tool%d</JB_owner>
      <state>qw</state>
      <JB_submission_time>2017-01-23T11:%02d:%02d</JB_submission_time>
      <queue_name></queue_name>
      <slots>1</slots>
    </job_list>
`, 1_000_000+i, i, i, i/60%60, i%60)
	}
	if running == n {
		bw.WriteString("  </queue_info>\n  <job_info>\n")
	}
	bw.WriteString("  </job_info>\n</job_info>\n")
	return bw.Flush()
}
