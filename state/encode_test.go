package state

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

func FuzzRecordEncoding(f *testing.F) {
	f.Add("started", "no lighttpd-a job on the grid", "", int64(0), 2, int64(1700000000))
	f.Add("failed", "quote \" backslash \\ newline \n tab \t nul \x00 bad \xff utf8 é \u2028", "give-up:budget-exhausted", int64(3e9), 0, int64(0))
	f.Fuzz(func(t *testing.T, outcome, reason, notice string, dur int64, step int, unix int64) {
		at := time.Unix(unix%(1<<34), unix%1e9).UTC()
		r := ToolRecord{
			Attempts:    []Attempt{{At: at, Outcome: Outcome(outcome), Reason: reason, Duration: time.Duration(dur)}},
			BackoffStep: step, DownSince: at, Notice: notice,
		}
		if unix%2 == 0 {
			r.Attempts, r.UpSince, r.GivenUpAt = nil, at.Add(time.Hour), at
		}
		var viaJSON, viaAppend ToolRecord
		std, err := json.Marshal(r)
		if err != nil {
			t.Skip()
		}
		if err := json.Unmarshal(std, &viaJSON); err != nil {
			t.Fatal(err)
		}
		mine := appendRecord(nil, r)
		if err := json.Unmarshal(mine, &viaAppend); err != nil {
			t.Fatalf("appendRecord wrote invalid JSON %s: %v", mine, err)
		}
		if !reflect.DeepEqual(viaJSON, viaAppend) {
			t.Fatalf("round trips differ:\nencoding/json %s\nappendRecord  %s", std, mine)
		}
	})
}
