package state

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

var cet = time.FixedZone("CET", 3600)

// recordGoldens are records with the exact bytes the hand-written encoder
// of earlier releases stored for them. Older releases read these files
// (after --migrate-down too), so the bytes stay; where they cannot, the
// differences are in recordBytesChanged.
var recordGoldens = []struct {
	name string
	rec  ToolRecord
	want string
}{
	{"never seen", ToolRecord{}, `{}`},
	{"up, as a first cycle writes most tools", ToolRecord{UpSince: t0, LastSeenUp: t0},
		`{"up_since":"2025-03-14T09:26:00Z","last_seen_up":"2025-03-14T09:26:00Z"}`},
	{"its equal neighbour", ToolRecord{UpSince: t0, LastSeenUp: t0},
		`{"up_since":"2025-03-14T09:26:00Z","last_seen_up":"2025-03-14T09:26:00Z"}`},
	{"the same instants in another zone", ToolRecord{UpSince: t0.In(cet), LastSeenUp: t0.In(cet)},
		`{"up_since":"2025-03-14T10:26:00+01:00","last_seen_up":"2025-03-14T10:26:00+01:00"}`},
	{"every field", sampleRecord(0),
		`{"attempts":[{"at":"2025-03-14T09:06:00Z","outcome":"failed","reason":"not registered with proxy","duration":12000000000},` +
			`{"at":"2025-03-14T09:16:00Z","outcome":"timed-out","reason":"job Eqw","duration":30000000000},` +
			`{"at":"2025-03-14T09:26:00Z","outcome":"started","reason":"no grid job"}],` +
			`"backoff_step":3,"down_since":"2025-03-14T09:01:00Z","last_seen_up":"2025-03-14T09:00:00Z","given_up_at":"2025-03-14T09:26:00Z","notice":"give-up:budget-exhausted"}`},
	{"command output in a reason: HTML, quotes, controls, non-ASCII, invalid UTF-8",
		ToolRecord{Attempts: []Attempt{{At: t0, Outcome: OutcomeFailed,
			Reason: "webservice failed: exit status 1: <html> & \"quote\" \\ back\nnl\rcr\ttab\x00nul\x1funit \x7f del é \u2028\u2029 end"}},
			Notice: "skip:<foreign>&"},
		`{"attempts":[{"at":"2025-03-14T09:26:00Z","outcome":"failed","reason":"webservice failed: exit status 1: <html> & \"quote\" \\ back\nnl\rcr\ttab\u0000nul\u001funit ` + "\x7f" + ` del é \u2028\u2029 end"}],"notice":"skip:<foreign>&"}`},
	{"zones and fractions", ToolRecord{
		DownSince: time.Date(2025, 3, 14, 10, 26, 0, 120000000, cet),
		UpSince:   time.Date(2025, 3, 14, 9, 26, 0, 1, time.UTC),
		GivenUpAt: time.Date(1999, 12, 31, 23, 59, 59, 999999999, time.FixedZone("", -(9*3600+30*60))),
	}, `{"down_since":"2025-03-14T10:26:00.12+01:00","up_since":"2025-03-14T09:26:00.000000001Z","given_up_at":"1999-12-31T23:59:59.999999999-09:30"}`},
	// Host is new with high availability: a single host never sets it
	// (the goldens above keep their bytes); older releases decode it away.
	{"an attempt started by another host, forgiven", ToolRecord{Attempts: []Attempt{
		{At: t0, Outcome: OutcomeStarted, Reason: "no grid job", Forgiven: true, Host: "cron-2"}}},
		`{"attempts":[{"at":"2025-03-14T09:26:00Z","outcome":"started","reason":"no grid job","forgiven":true,"host":"cron-2"}]}`},
	{"negative and zero values", ToolRecord{Attempts: []Attempt{{At: t0, Outcome: OutcomeCancelled, Duration: -5}, {}}, BackoffStep: -1},
		`{"attempts":[{"at":"2025-03-14T09:26:00Z","outcome":"cancelled","duration":-5},{"at":"0001-01-01T00:00:00Z","outcome":""}],"backoff_step":-1}`},
}

// recordBytesChanged are the known differences of spelling, each the same
// JSON string, read alike by every release (all read records with
// encoding/json): encoding/json (since Go 1.22) writes backspace and form
// feed as \b and \f where the hand-written encoder wrote \u0008 and
// \u000c; and since Go 1.27 it writes the replacement of invalid UTF-8 as
// U+FFFD itself where Go 1.26 wrote \ufffd.
var recordBytesChanged = []struct {
	rec      ToolRecord
	was, now string
	read     ToolRecord // what both decode to
}{
	{ToolRecord{Notice: "progress\bbar\fpage"},
		`{"notice":"progress\u0008bar\u000cpage"}`,
		`{"notice":"progress\bbar\fpage"}`,
		ToolRecord{Notice: "progress\bbar\fpage"}},
	{ToolRecord{Notice: "bad \xff\xfe end"},
		`{"notice":"bad \ufffd\ufffd end"}`,
		"{\"notice\":\"bad \ufffd\ufffd end\"}",
		ToolRecord{Notice: "bad \ufffd\ufffd end"}},
}

// TestRecordBytesUnchanged: what Commit stores for each golden record is
// byte for byte what earlier releases stored, whichever way the records
// are split over the workers.
func TestRecordBytesUnchanged(t *testing.T) {
	put := map[string]ToolRecord{}
	want := map[string]string{}
	for i, g := range recordGoldens {
		tool := fmt.Sprintf("tool%02d", i)
		put[tool], want[tool] = g.rec, g.want
	}
	tools := sortedTools(put)
	for workers := 1; workers <= len(tools); workers++ {
		encoded, err := encodeRecordsOn(tools, put, workers)
		if err != nil {
			t.Fatalf("%d workers: %v", workers, err)
		}
		for i, tool := range tools {
			if got := string(encoded[i]); got != want[tool] {
				t.Errorf("%d workers, %s:\n got %s\nwant %s", workers, tool, got, want[tool])
			}
		}
	}
}

func TestRecordBytesChangedOnlyInSpelling(t *testing.T) {
	for _, c := range recordBytesChanged {
		encoded, err := encodeRecords([]string{"a"}, map[string]ToolRecord{"a": c.rec})
		if err != nil {
			t.Fatal(err)
		}
		if string(encoded[0]) != c.now {
			t.Errorf("stored %s, want %s", encoded[0], c.now)
		}
		var was, now ToolRecord
		if err := json.Unmarshal([]byte(c.was), &was); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(encoded[0], &now); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(was, c.read) || !reflect.DeepEqual(now, c.read) {
			t.Errorf("decoded: earlier bytes %+v, today's %+v; want both %+v", was, now, c.read)
		}
	}
}

// TestCommitStoresGoldenBytes: the golden bytes are what lands in the file.
func TestCommitStoresGoldenBytes(t *testing.T) {
	path := t.TempDir() + "/state.db"
	s := openT(t, path, Options{})
	put := map[string]ToolRecord{}
	var want []string
	for i, g := range recordGoldens {
		tool := fmt.Sprintf("tool%02d", i)
		put[tool] = g.rec
		want = append(want, "tools/"+tool+"="+g.want)
	}
	commitT(t, s, Changes{Put: put})
	s.Close()
	got := filterTools(dump(t, path))
	if !reflect.DeepEqual(got, want) {
		t.Errorf("stored\n%q\nwant\n%q", got, want)
	}
}

func TestEncodingErrorNamesTheTool(t *testing.T) {
	// encoding/json refuses years outside 0..9999, which RFC 3339 cannot spell.
	put := map[string]ToolRecord{"a": {}, "b": {DownSince: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}, "c": {}}
	_, err := encodeRecordsOn(sortedTools(put), put, 2)
	if err == nil || !strings.Contains(err.Error(), `encoding record of tool "b"`) {
		t.Errorf("error %v, want one naming tool b", err)
	}
}

func sortedTools(put map[string]ToolRecord) []string {
	var tools []string
	for _, h := range RecordsOf(put) {
		tools = append(tools, h.Tool)
	}
	return tools
}

// FuzzRecordEncoding: whatever the strings and times, what Commit stores
// decodes (as every release reads it) to the record it was given, with
// invalid UTF-8 bytes replaced; and it is json.Marshal's encoding but for
// HTML escaping, whichever way a batch is split over the workers.
func FuzzRecordEncoding(f *testing.F) {
	f.Add("started", "no lighttpd-a job on the grid", "", int64(0), 2, int64(1700000000))
	f.Add("failed", "quote \" backslash \\ newline \n tab \t nul \x00 bad \xff utf8 é \u2028 <b>&amp;\b\f", "give-up:budget-exhausted", int64(3e9), 0, int64(0))
	f.Fuzz(func(t *testing.T, outcome, reason, notice string, dur int64, step int, unix int64) {
		at := time.Unix(unix%(1<<34), unix%1e9).UTC()
		r := ToolRecord{
			Attempts:    []Attempt{{At: at, Outcome: Outcome(outcome), Reason: reason, Duration: time.Duration(dur), Forgiven: dur%2 != 0}},
			BackoffStep: step, DownSince: at, Notice: notice,
		}
		if unix%2 == 0 {
			r.Attempts, r.UpSince, r.GivenUpAt = nil, at.Add(time.Hour), at
		}
		std, err := json.Marshal(r)
		if err != nil {
			t.Skip() // a time RFC 3339 cannot spell
		}
		// Neighbours in key order: equal ones share bytes, the others must not.
		put := map[string]ToolRecord{"a": {UpSince: at}, "b": r, "c": {}, "d": {Notice: reason, LastSeenUp: at},
			"e": {Notice: reason, LastSeenUp: at}, "f": {Notice: notice, LastSeenUp: at}, "g": r}
		tools := sortedTools(put)
		for workers := 1; workers <= len(tools); workers++ {
			encoded, err := encodeRecordsOn(tools, put, workers)
			if err != nil {
				t.Fatalf("%d workers: %v", workers, err)
			}
			for i, tool := range tools {
				checkRecordEncoding(t, encoded[i], put[tool])
			}
			var escaped bytes.Buffer
			json.HTMLEscape(&escaped, encoded[1])
			if !bytes.Equal(escaped.Bytes(), std) {
				t.Fatalf("%d workers: stored %s\njson.Marshal %s", workers, encoded[1], std)
			}
		}
	})
}

// checkRecordEncoding fails unless encoded decodes to r with its strings'
// invalid UTF-8 bytes replaced, one U+FFFD each, as encoding/json does.
func checkRecordEncoding(t *testing.T, encoded []byte, r ToolRecord) {
	t.Helper()
	var got ToolRecord
	if err := json.Unmarshal(encoded, &got); err != nil {
		t.Fatalf("stored invalid JSON %s: %v", encoded, err)
	}
	valid := func(s string) string { return string([]rune(s)) }
	want := r
	want.Notice = valid(r.Notice)
	want.Attempts = nil
	for _, a := range r.Attempts {
		a.Outcome, a.Reason = Outcome(valid(string(a.Outcome))), valid(a.Reason)
		want.Attempts = append(want.Attempts, a)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("stored %s\ndecodes to %+v\nwant       %+v", encoded, got, want)
	}
}

// TestSameRecordSeesEveryField: records that differ in any one field, or
// in a time's zone alone, never share their bytes; a field added to
// ToolRecord fails here until sameRecord compares it.
func TestSameRecordSeesEveryField(t *testing.T) {
	typ := reflect.TypeFor[ToolRecord]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		var zero, one ToolRecord
		v := reflect.ValueOf(&one).Elem().Field(i)
		switch {
		case f.Type == reflect.TypeFor[time.Time]():
			v.Set(reflect.ValueOf(t0))
		case f.Type.Kind() == reflect.Slice:
			v.Set(reflect.MakeSlice(f.Type, 1, 1))
		case f.Type.Kind() == reflect.Int:
			v.SetInt(1)
		case f.Type.Kind() == reflect.String:
			v.SetString("x")
		default:
			t.Fatalf("field %s: teach this test a non-zero %s", f.Name, f.Type)
		}
		if sameRecord(&zero, &one) || sameRecord(&one, &zero) {
			t.Errorf("sameRecord does not compare field %s", f.Name)
		}
	}
	utc, inCET := ToolRecord{UpSince: t0}, ToolRecord{UpSince: t0.In(cet)}
	if sameRecord(&utc, &inCET) {
		t.Error("sameRecord takes the same instant in two zones for the same record")
	}
	if again := utc; !sameRecord(&utc, &again) {
		t.Error("sameRecord does not see two equal records")
	}
	withAttempts := sampleRecord(0)
	if again := withAttempts; sameRecord(&withAttempts, &again) {
		t.Error("sameRecord compares records with attempts, which it cannot")
	}
}
