package state

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"webservicemonitor/internal/synth"
)

// BenchmarkCommitCycle is the write of one cycle's changes at each size:
// "all" is the worst case, a first cycle where every tool's record is new
// (a fresh file each time); "1pct" a busy steady-state cycle where 1 % of
// the records of a populated file change.
func BenchmarkCommitCycle(b *testing.B) {
	for _, size := range synth.Sizes() {
		recs := firstCycleRecords(size.Tools, 0)
		b.Run("all/"+size.Name, func(b *testing.B) { benchmarkFirstCommit(b, recs) })
		b.Run("1pct/"+size.Name, func(b *testing.B) {
			s, err := Open(filepath.Join(b.TempDir(), "state.db"), Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			if err := s.Commit(Changes{At: t0, Put: recs}); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			c := 0
			for b.Loop() {
				c++
				put := make(map[string]ToolRecord, size.Tools/100)
				for k := range size.Tools / 100 {
					tool := synth.ToolName((c*997 + k*101) % size.Tools)
					rec := recs[tool]
					rec.DownSince = t0.Add(time.Duration(c) * time.Minute)
					put[tool] = rec
				}
				if err := s.Commit(Changes{At: t0.Add(time.Duration(c) * time.Minute), Put: put}); err != nil {
					b.Fatal(err)
				}
			}
			synth.ReportPeakRSS(b)
		})
	}
}

// BenchmarkCommitDistinct is the first cycle's write with no two records
// alike (each tool came up a second after the one before it): the worst
// case for the encoding, which otherwise encodes a run of equal records once.
func BenchmarkCommitDistinct(b *testing.B) {
	for _, size := range synth.Sizes() {
		recs := firstCycleRecords(size.Tools, time.Second)
		b.Run(size.Name, func(b *testing.B) { benchmarkFirstCommit(b, recs) })
	}
}

// firstCycleRecords are n records as a first cycle writes them: most
// tools just seen up, one in twenty down with three attempts behind it.
// Tool i came up at t0 + i*apart.
func firstCycleRecords(n int, apart time.Duration) map[string]ToolRecord {
	recs := make(map[string]ToolRecord, n)
	for i := range n {
		up := t0.Add(time.Duration(i) * apart)
		rec := ToolRecord{UpSince: up, LastSeenUp: up}
		if i%20 == 0 {
			rec = sampleRecord(i)
		}
		recs[synth.ToolName(i)] = rec
	}
	return recs
}

// benchmarkFirstCommit commits recs to a fresh file each time.
func benchmarkFirstCommit(b *testing.B, recs map[string]ToolRecord) {
	dir := b.TempDir()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		b.StopTimer()
		s, err := Open(filepath.Join(dir, fmt.Sprintf("state-%d.db", i)), Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if err := s.Commit(Changes{At: t0, Put: recs}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		s.Close()
		os.Remove(filepath.Join(dir, fmt.Sprintf("state-%d.db", i)))
		b.StartTimer()
		i++
	}
	synth.ReportPeakRSS(b)
}

// BenchmarkSimulatedDay runs a day of cycles (1,440) against a 100,000-tool
// state file: each minute 30 tools go down and are restarted (and come back
// the next minute), while 1,000 chronically broken tools spend their budget
// of 3 restarts an hour all day. Attempts older than 24 h are pruned. It
// reports the state file's size at the end of the day.
func BenchmarkSimulatedDay(b *testing.B) {
	const tools, broken, flapping, cycles = 100000, 1000, 30, 1440
	retention := 24 * time.Hour
	for b.Loop() {
		path := filepath.Join(b.TempDir(), "state.db")
		s, err := Open(path, Options{})
		if err != nil {
			b.Fatal(err)
		}
		records := make(map[string]ToolRecord, tools)
		initial := make(map[string]ToolRecord, tools)
		for i := range tools {
			rec := ToolRecord{UpSince: t0.Add(-time.Hour), LastSeenUp: t0.Add(-time.Hour)}
			records[synth.ToolName(i)], initial[synth.ToolName(i)] = rec, rec
		}
		if err := s.Commit(Changes{At: t0, Put: initial}); err != nil {
			b.Fatal(err)
		}
		var wentDown []string
		for c := 1; c <= cycles; c++ {
			now := t0.Add(time.Duration(c) * time.Minute)
			put := map[string]ToolRecord{}
			for _, tool := range wentDown { // restarted last cycle: up again
				rec := records[tool]
				rec.DownSince, rec.UpSince, rec.LastSeenUp = time.Time{}, now, now
				put[tool] = rec
			}
			wentDown = wentDown[:0]
			for k := range flapping {
				tool := synth.ToolName(broken + (c*flapping+k)%(tools-broken))
				rec := Prune(records[tool], now.Add(-retention))
				rec.UpSince, rec.DownSince = time.Time{}, now
				rec.Attempts = append(rec.Attempts, Attempt{At: now, Outcome: OutcomeSucceeded, Reason: "no lighttpd-" + tool + " job on the grid; restart 1 of 3 in 1h0m0s"})
				rec.BackoffStep++
				put[tool] = rec
				wentDown = append(wentDown, tool)
			}
			for k := range broken {
				if (c+k)%20 != 0 { // every 20 minutes: 3 an hour
					continue
				}
				tool := synth.ToolName(k)
				rec := Prune(records[tool], now.Add(-retention))
				rec.Attempts = append(rec.Attempts, Attempt{At: now, Outcome: OutcomeFailed, Duration: 3 * time.Second,
					Reason: "no generic-" + tool + " job on the grid; restart 3 of 3 in 1h0m0s — webservice failed: exit status 1: Unable to run job: job rejected"})
				rec.BackoffStep++
				if rec.GivenUpAt.IsZero() {
					rec.GivenUpAt = now
				}
				put[tool] = rec
			}
			for tool, rec := range put {
				records[tool] = rec
			}
			if err := s.Commit(Changes{At: now, Put: put}); err != nil {
				b.Fatal(err)
			}
		}
		s.Close()
		st, err := os.Stat(path)
		if err != nil {
			b.Fatal(err)
		}
		// bbolt files are sparse until written; blocks in use is the truth.
		b.ReportMetric(float64(st.Size())/(1<<20), "file-MiB")
		if st.Size() > 50<<20 {
			b.Errorf("state file is %d MiB after a day, over 50 MiB", st.Size()>>20)
		}
	}
	synth.ReportPeakRSS(b)
}
