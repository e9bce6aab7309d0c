package state

import (
	"bytes"
	"encoding/json"
	"fmt"
	"runtime"
	"sync"
)

// minRecordsPerWorker is the smallest share of a commit worth its own
// goroutine: encoding it takes some hundred microseconds, starting a
// goroutine a microsecond or two. A steady cycle's few changes are encoded
// on the caller's goroutine.
const minRecordsPerWorker = 256

// typicalRecordSize is about what a record of a first cycle takes encoded
// (74 bytes for a tool seen up, some hundreds for one with attempts), so
// that a run's buffer is allocated about once instead of doubling its way
// there.
const typicalRecordSize = 96

// encodeRecords returns the JSON encoding of put[tools[i]] in element i,
// for a commit to store in key order.
//
// The bytes are encoding/json's without HTML escaping, which are the bytes
// earlier releases wrote (TestRecordBytesUnchanged). The first cycle of a
// 100,000-tool platform writes every record, and encoding them one by one
// with encoding/json takes about as long as the whole bbolt write, so the
// tools are split into contiguous runs, one per core, each encoded into one
// buffer that its records' slices share; and a record equal to the one
// before it in its run shares that one's bytes (see sameRecord).
func encodeRecords(tools []string, put map[string]ToolRecord) ([][]byte, error) {
	workers := min(runtime.GOMAXPROCS(0), max(1, len(tools)/minRecordsPerWorker))
	return encodeRecordsOn(tools, put, workers)
}

// encodeRecordsOn is encodeRecords with the number of runs chosen by the
// caller (tests use it to cover every split).
func encodeRecordsOn(tools []string, put map[string]ToolRecord, workers int) ([][]byte, error) {
	encoded := make([][]byte, len(tools))
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := w*len(tools)/workers, (w+1)*len(tools)/workers
		wg.Go(func() { errs[w] = encodeRun(tools[lo:hi], put, encoded[lo:hi]) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err // the first in key order, whichever finished first
		}
	}
	return encoded, nil
}

// encodeRun encodes the records of tools into encoded, which must be as
// long as tools.
func encodeRun(tools []string, put map[string]ToolRecord, encoded [][]byte) error {
	var buf bytes.Buffer
	buf.Grow(len(tools) * typicalRecordSize)
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	type span struct{ start, end int } // of a record's bytes in buf
	spans := make([]span, len(tools))
	// rec is one variable for the run: Encode(&rec) boxes a pointer to it
	// instead of copying every record to the heap.
	var rec, last ToolRecord // last: the last record encoded
	for i, tool := range tools {
		rec = put[tool]
		if i > 0 && sameRecord(&rec, &last) {
			spans[i] = spans[i-1]
			continue
		}
		start := buf.Len()
		if err := enc.Encode(&rec); err != nil {
			return fmt.Errorf("encoding record of tool %q: %w", tool, err)
		}
		buf.Truncate(buf.Len() - 1) // the newline Encode ends every value with
		spans[i], last = span{start, buf.Len()}, rec
	}
	// Sliced only now: the buffer may have moved while it grew.
	all := buf.Bytes()
	for i, s := range spans {
		encoded[i] = all[s.start:s.end:s.end]
	}
	return nil
}

// sameRecord reports whether a and b, neither with attempts, are equal in
// every field, and so encode alike. A cycle stamps the same time on every
// tool that came up (or went down) in it, so in a first cycle most records
// are equal to their neighbour. Times are compared with ==, not Equal: the
// bytes of one serve the other only if the zone is the same too.
// TestSameRecordSeesEveryField keeps this in step with ToolRecord.
func sameRecord(a, b *ToolRecord) bool {
	return len(a.Attempts) == 0 && len(b.Attempts) == 0 &&
		a.BackoffStep == b.BackoffStep &&
		a.DownSince == b.DownSince && a.UpSince == b.UpSince &&
		a.LastSeenUp == b.LastSeenUp && a.GivenUpAt == b.GivenUpAt &&
		a.Notice == b.Notice
}
