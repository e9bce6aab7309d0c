package qstat

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// Huge tokens (a comment, text between elements, a CDATA section in an
// unknown element) must stream through the fixed window, not be buffered.
func TestParseHoldsOneWindow(t *testing.T) {
	const big = 8 << 20
	docs := map[string]string{
		"comment":     "<!--" + strings.Repeat("x", big) + "-->" + doc(runJob("n", "tools.a", "r")),
		"white space": doc(strings.Repeat(" \n", big/2) + runJob("n", "tools.a", "r")),
		"CDATA":       doc(runJob("n", "tools.a", "r") + "<x><![CDATA[" + strings.Repeat("é<", big/3) + "]]></x>"),
		"directive":   "<!DOCTYPE job_info '" + strings.Repeat("<", big) + "'>" + doc(runJob("n", "tools.a", "r")),
	}
	for name, d := range docs {
		t.Run(name, func(t *testing.T) {
			p := newParser(strings.NewReader(d), qmasterZone, windowSize, lookahead)
			jobs, err := p.run()
			if err != nil || len(jobs) != 1 {
				t.Fatalf("parse = %d jobs, %v; want 1", len(jobs), err)
			}
			held := len(p.s.buf) + cap(p.tbuf) + cap(p.text) + cap(p.outText) + cap(p.names)
			if held > 2*windowSize {
				t.Errorf("parser holds %d bytes of buffers for a %d-byte document; want at most %d", held, len(d), 2*windowSize)
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
	p := newParser(strings.NewReader(doc(jobs.String())), qmasterZone, windowSize, lookahead)
	got, err := p.run()
	if err != nil {
		t.Fatal(err)
	}
	if len(p.interned) > maxInterned {
		t.Errorf("intern map holds %d strings, bound is %d", len(p.interned), maxInterned)
	}
	for _, i := range []int{0, maxInterned - 1, maxInterned, n - 1} {
		if want := fmt.Sprintf("tools.t%d", i); got[i].Owner != want || got[i].State != "r" || got[i].Queue != "q" {
			t.Errorf("job %d = owner %q state %q queue %q; want %q r q", i, got[i].Owner, got[i].State, got[i].Queue, want)
		}
	}
}
