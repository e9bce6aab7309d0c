package qstat

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"runtime"
	"strings"
	"testing"

	"webservicemonitor/internal/demo"
)

// allocated is how many bytes f allocated, garbage included.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// repeated is n copies of c, made as they are read, so that a huge token
// costs the test no memory of its own.
type repeated struct {
	c byte
	n int64
}

func (r *repeated) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), r.n)]
	for i := range p {
		p[i] = r.c
	}
	r.n -= int64(len(p))
	return len(p), nil
}

// huge is a document with n bytes of c between before and after.
func huge(before string, c byte, n int64, after string) io.Reader {
	return io.MultiReader(strings.NewReader(before), &repeated{c: c, n: n}, strings.NewReader(after))
}

// A token longer than the bound is refused by both readings, and neither
// buffers it whole: what a parse allocates stays a few times the bound,
// however long the token.
func TestParseRefusesATokenOverTheLimit(t *testing.T) {
	const limit, size = 1 << 20, 64 << 20
	pre := "<?xml version='1.0'?>\n<job_info>\n  <queue_info>\n    <job_list state=\"running\">\n      <JB_job_number>7</JB_job_number>\n"
	cases := []struct {
		name          string
		before, after string
		c             byte
	}{
		{"text of a field", pre + "<JB_name>", "</JB_name>", 'x'},
		{"text of an unknown element", pre + "<JAT_prio>", "</JAT_prio>", '0'},
		{"text with references", pre + "<JB_name>&amp;", "</JB_name>", 'x'},
		{"white space before the root", "", "<job_info/>", ' '},
		{"element name", pre + "<a", "/>", 'a'},
		{"attribute name", pre + "<a b", "='1'/>", 'b'},
		{"attribute value", pre + "<a b='", "'/>", 'v'},
		{"comment", pre + "<!--", "-->", 'c'},
		{"CDATA", pre + "<JB_name><![CDATA[", "]]></JB_name>", 'x'},
	}
	readings := map[string]func(io.Reader) ([]Job, error){
		"parse":     func(r io.Reader) ([]Job, error) { return parse(r, qmasterZone, limit) },
		"reference": func(r io.Reader) ([]Job, error) { return referenceParse(r, qmasterZone, limit) },
	}
	for _, tc := range cases {
		for name, read := range readings {
			t.Run(tc.name+"/"+name, func(t *testing.T) {
				var err error
				n := allocated(func() { _, err = read(huge(tc.before, tc.c, size, tc.after)) })
				if err == nil || !strings.Contains(err.Error(), "longer than the 1048576-byte limit") {
					t.Fatalf("error = %v; want the token limit", err)
				}
				if n > 8*limit {
					t.Errorf("a %d-byte token with a %d-byte limit allocated %d bytes; want at most %d", size, limit, n, 8*limit)
				}
			})
		}
	}
}

// The bound counts a token's bytes with the byte that ends it (the '<'
// after a text, the '>' of a tag), the same for both readings.
func TestParseTokenLimitIsExact(t *testing.T) {
	name, elem := strings.Repeat("n", 200), strings.Repeat("e", 200)
	docs := []struct {
		name  string
		doc   string
		limit int64 // the smallest that reads doc
	}{
		{"text", "<job_info><queue_info><job_list><JB_job_number>1</JB_job_number><JB_name>" + name +
			"</JB_name><JB_owner>o</JB_owner><state>r</state></job_list></queue_info></job_info>", 201},
		{"tag", "<job_info><" + elem + "/></job_info>", 203},
		{"text at the end", "<job_info/>" + strings.Repeat(" ", 300), 300},
	}
	for _, tc := range docs {
		t.Run(tc.name, func(t *testing.T) {
			for _, limit := range []int64{tc.limit - 1, tc.limit} {
				for _, window := range []int{5, 64, windowSize} {
					_, err := newParser(strings.NewReader(tc.doc), qmasterZone, limit, window, min(window, lookahead)).run()
					_, refErr := referenceParse(strings.NewReader(tc.doc), qmasterZone, limit)
					if ok := limit == tc.limit; (err == nil) != ok || (refErr == nil) != ok {
						t.Errorf("limit %d, %d-byte window: error %v, reference error %v; want ok=%v", limit, window, err, refErr, ok)
					}
				}
			}
		})
	}
}

// Long tokens under the bound are read. White space, the bulk of what qstat
// prints, streams through the window; a comment, a CDATA section or a
// directive goes to encoding/xml, which holds it whole, so it costs memory
// in proportion to its length: about four times as its buffer doubles,
// eight under the race detector (the bound caps that).
func TestParseLongTokensUnderTheLimit(t *testing.T) {
	const big = 8 << 20
	docs := []struct {
		name     string
		doc      string
		maxAlloc uint64
	}{
		{"white space", doc(strings.Repeat(" \n", big/2) + runJob("n", "tools.a", "r")), 4 * windowSize},
		{"comment", "<!--" + strings.Repeat("x", big) + "-->" + doc(runJob("n", "tools.a", "r")), 10 * big},
		{"CDATA", doc(runJob("n", "tools.a", "r") + "<x><![CDATA[" + strings.Repeat("é<", big/3) + "]]></x>"), 10 * big},
		{"directive", "<!DOCTYPE job_info '" + strings.Repeat("<", big) + "'>" + doc(runJob("n", "tools.a", "r")), 10 * big},
	}
	for _, tc := range docs {
		t.Run(tc.name, func(t *testing.T) {
			var jobs []Job
			var err error
			n := allocated(func() { jobs, err = parse(strings.NewReader(tc.doc), qmasterZone, math.MaxInt64) })
			if err != nil || len(jobs) != 1 {
				t.Fatalf("parse = %d jobs, %v; want 1", len(jobs), err)
			}
			if n > tc.maxAlloc {
				t.Errorf("parse allocated %d bytes for a %d-byte document; want at most %d", n, len(tc.doc), tc.maxAlloc)
			}
		})
	}
}

func TestParseAllocatesPerBlockNotPerJob(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes allocation counts")
	}
	var grid bytes.Buffer
	if err := writeGrid(&grid, 5000); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(3, func() {
		if _, err := Parse(bytes.NewReader(grid.Bytes()), qmasterZone); err != nil {
			t.Fatal(err)
		}
	})
	if perJob := allocs / 5000; perJob > 0.2 {
		t.Errorf("%.0f allocations for 5000 jobs (%.2f per job); want at most 0.2 per job", allocs, perJob)
	}
}

// A grid of distinct owners must not grow the intern map without bound,
// and interned values must still be right.
func TestParseInternsWithinBound(t *testing.T) {
	var jobs strings.Builder
	n := maxInterned + 1000
	for i := range n {
		jobs.WriteString(runJob("n", fmt.Sprintf("tools.t%d", i), "r"))
	}
	p := newParser(strings.NewReader(doc(jobs.String())), qmasterZone, math.MaxInt64, windowSize, lookahead)
	got, err := p.run()
	if err != nil {
		t.Fatal(err)
	}
	if len(p.doc.job.interned) > maxInterned {
		t.Errorf("intern map holds %d strings, bound is %d", len(p.doc.job.interned), maxInterned)
	}
	for _, i := range []int{0, maxInterned - 1, maxInterned, n - 1} {
		if want := fmt.Sprintf("tools.t%d", i); got[i].Owner != want || got[i].State != "r" || got[i].Queue != "q" {
			t.Errorf("job %d = owner %q state %q queue %q; want %q r q", i, got[i].Owner, got[i].State, got[i].Queue, want)
		}
	}
}

// The generated grids have the real captures' shape (see real_test.go):
// the fast path reads them without encoding/xml.
func TestFastPathReadsGeneratedGrids(t *testing.T) {
	var grid, demoGrid bytes.Buffer
	if err := writeGrid(&grid, 100); err != nil {
		t.Fatal(err)
	}
	if err := demo.WriteQstatXML(&demoGrid, scaleGrid(100)); err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"writeGrid": grid.Bytes(), "demo": demoGrid.Bytes()} {
		p := newParser(bytes.NewReader(b), qmasterZone, math.MaxInt64, windowSize, lookahead)
		if _, err := p.run(); err != nil || p.slow > 0 {
			t.Errorf("%s: error %v, %d tokens left to encoding/xml; want none", name, err, p.slow)
		}
	}
}
