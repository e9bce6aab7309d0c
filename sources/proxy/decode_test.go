package proxy

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestDecodeListFixtures(t *testing.T) {
	tests := []struct {
		fixture string
		want    map[string]Registration // checked when wantErr is ""
		dropped int                     // registrations left out, when wantErr is ""
		wantErr string
	}{
		{fixture: "good.json", want: map[string]Registration{
			"mytool":     {Status: "active"},
			"other-tool": {Status: "active"},
			"stale":      {Status: "inactive"},
		}},
		{fixture: "empty-object.json", want: map[string]Registration{}},
		// Only the key and the status are kept, both bounded.
		{fixture: "key-longer-than-any-tool-name.json", dropped: 1, want: map[string]Registration{
			"mytool":                 {Status: "active"},
			strings.Repeat("t", 255): {Status: "active"},
		}},
		{fixture: "status-longer-than-64-bytes.json", want: map[string]Registration{
			"mytool": {Status: strings.Repeat("é", 32) + "…"},
		}},
		{fixture: "status-spelled-in-capitals.json", want: map[string]Registration{
			"mytool": {Status: "active"},
			"other":  {Status: "inactive"},
		}},
		{fixture: "deeply-nested-extra-field.json", want: map[string]Registration{"mytool": {Status: "active"}}},
		{fixture: "escaped-names.json", want: map[string]Registration{
			"mytool": {Status: "active"},
			"emoji😀": {Status: "\ufffdactive"},
		}},
		{fixture: "array.json", wantErr: "body is a JSON array, expected a JSON object"},
		{fixture: "null.json", wantErr: "body is JSON null"},
		{fixture: "string.json", wantErr: "body is a JSON string"},
		{fixture: "garbage.txt", wantErr: "decoding JSON: invalid character '<'"},
		{fixture: "empty.txt", wantErr: "empty body"},
		{fixture: "whitespace-only.txt", wantErr: "empty body"},
		{fixture: "non-object-value.json", wantErr: `value of tool "other" is a string`},
		{fixture: "null-value.json", wantErr: `value of tool "mytool" is null`},
		{fixture: "array-value.json", wantErr: `value of tool "mytool" is an array`},
		{fixture: "status-not-string.json", wantErr: `decoding value of tool "mytool"`},
		{fixture: "trailing-data.json", wantErr: "trailing data"},
		{fixture: "truncated.json", wantErr: `decoding JSON value of tool "mytool"`},
		{fixture: "trailing-comma.json", wantErr: "decoding JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			body, err := os.ReadFile(filepath.Join("testdata", tt.fixture))
			if err != nil {
				t.Fatal(err)
			}
			l, err := decodeList(bytes.NewReader(body), maxListBody)
			got := l.regs
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("decodeList error = %v, want it to contain %q (result %v)", err, tt.wantErr, got)
				}
				if got != nil {
					t.Errorf("decodeList returned a partial result %v alongside its error", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("decodeList: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("decodeList = %v, want %v", got, tt.want)
			}
			if l.dropped != tt.dropped {
				t.Errorf("dropped %d, want %d", l.dropped, tt.dropped)
			}
		})
	}
}

func TestDecodeListSizeCap(t *testing.T) {
	body, err := os.ReadFile(filepath.Join("testdata", "good.json"))
	if err != nil {
		t.Fatal(err)
	}
	size := int64(len(body))
	if _, err := decodeList(bytes.NewReader(body), size); err != nil {
		t.Errorf("body of exactly the cap (%d bytes) refused: %v", size, err)
	}
	_, err = decodeList(bytes.NewReader(body), size-1)
	if err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("body one byte over the cap: error = %v, want a size error", err)
	}
}

func FuzzDecodeList(f *testing.F) {
	fixtures, err := filepath.Glob(filepath.Join("testdata", "*"))
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range fixtures {
		if fi, err := os.Stat(p); err != nil || !fi.Mode().IsRegular() {
			continue // skips testdata/fuzz
		}
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		l, err := decodeList(bytes.NewReader(body), 1<<20)
		regs := l.regs
		if err != nil {
			if regs != nil {
				t.Fatalf("partial result %v returned with error %v", regs, err)
			}
			return
		}
		if regs == nil {
			t.Fatal("nil map without an error: a disabled registry must never look like an empty one")
		}
		if !json.Valid(body) {
			t.Fatalf("accepted invalid JSON %q", body)
		}
		// What we accept must survive a round trip through our own encoding.
		again, err := json.Marshal(regs)
		if err != nil {
			t.Fatal(err)
		}
		l2, err := decodeList(bytes.NewReader(again), 1<<20)
		regs2 := l2.regs
		if err != nil {
			t.Fatalf("re-decoding %s: %v", again, err)
		}
		if !reflect.DeepEqual(regs, regs2) {
			t.Fatalf("round trip changed the list: %v != %v", regs, regs2)
		}
	})
}

// TestDecodeListBounds: of each registration only the key and the status
// are kept, each bounded; everything else must still be valid JSON.
func TestDecodeListBounds(t *testing.T) {
	long := func(s string, n int) string { return strings.Repeat(s, n) }
	tests := []struct {
		name    string
		body    string
		want    map[string]Registration
		dropped int
		wantErr string
	}{
		{name: "key of 255 bytes kept", body: `{"` + long("k", 255) + `":{"status":"active"}}`,
			want: map[string]Registration{long("k", 255): {Status: "active"}}},
		{name: "key of 256 bytes dropped", body: `{"` + long("k", 256) + `":{"status":"active"}}`,
			want: map[string]Registration{}, dropped: 1},
		{name: "key long only once escapes are read", body: `{"` + long(`\u00e9`, 128) + `":{}}`,
			want: map[string]Registration{}, dropped: 1},
		{name: "dropped key's value still checked", body: `{"` + long("k", 300) + `":{"status":5}}`,
			wantErr: `decoding value of tool "` + long("k", 255) + `…": "status" is a number`},
		{name: "status of 64 bytes kept", body: `{"a":{"status":"` + long("s", 64) + `"}}`,
			want: map[string]Registration{"a": {Status: long("s", 64)}}},
		{name: "status of 65 bytes cut", body: `{"a":{"status":"` + long("s", 65) + `"}}`,
			want: map[string]Registration{"a": {Status: long("s", 64) + "…"}}},
		{name: "status cut on a rune boundary", body: `{"a":{"status":"ss` + long("€", 30) + `"}}`,
			want: map[string]Registration{"a": {Status: "ss" + long("€", 20) + "…"}}},
		{name: "invalid UTF-8 replaced byte by byte", body: "{\"a\xff\":{\"status\":\"\xe2\x82\"}}",
			want: map[string]Registration{"a\ufffd": {Status: "\ufffd\ufffd"}}},
		{name: "lone surrogates replaced", body: `{"a":{"status":"\udc00\ud800\u0041"}}`,
			want: map[string]Registration{"a": {Status: "\ufffd\ufffdA"}}},
		{name: "last status wins", body: `{"a":{"status":"x","STATUS":"y","status":null}}`,
			want: map[string]Registration{"a": {Status: "y"}}},
		{name: "long s folds to s", body: `{"a":{"ſtatus":"active"}}`,
			want: map[string]Registration{"a": {Status: "active"}}},
		{name: "no status", body: `{"a":{"backend":"10.0.0.1:4000","since":1.5e9,"tags":[true,false,null,{}]}}`,
			want: map[string]Registration{"a": {}}},
		{name: "last registration wins", body: `{"a":{"status":"x"},"a":{"status":"y"}}`,
			want: map[string]Registration{"a": {Status: "y"}}},
		{name: "status not a string", body: `{"a":{"status":{"x":1}}}`, wantErr: `decoding value of tool "a": "status" is an object`},
		{name: "invalid JSON after a bad status", body: `{"a":{"status":1,"x":nul}}`, wantErr: `decoding JSON value of tool "a"`},
		{name: "invalid extra field", body: `{"a":{"status":"active","x":01}}`, wantErr: `decoding JSON value of tool "a": invalid character '1'`},
		{name: "bad escape in extra field", body: `{"a":{"x":"\q"}}`, wantErr: `invalid character 'q' in string escape code`},
		{name: "control character in a key", body: "{\"a\nb\":{}}", wantErr: `invalid character '\n' in string literal`},
		{name: "nesting at the limit", body: `{"a":{"x":` + long("[", 9998) + long("]", 9998) + `}}`,
			want: map[string]Registration{"a": {}}},
		{name: "nesting past the limit", body: `{"a":{"x":` + long("[", 9999) + long("]", 9999) + `}}`,
			wantErr: "exceeded max nesting depth"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := decodeList(strings.NewReader(tt.body), maxListBody)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(l.regs, tt.want) || l.dropped != tt.dropped {
				t.Errorf("got %q (dropped %d), want %q (dropped %d)", l.regs, l.dropped, tt.want, tt.dropped)
			}
		})
	}
}

// boundedReference is what the encoding/json decoder read, bounded the way
// the streaming decoder bounds it.
func boundedReference(regs map[string]Registration) (map[string]Registration, int) {
	out := make(map[string]Registration, len(regs))
	dropped := 0
	for tool, r := range regs {
		if len(tool) > maxToolKey {
			dropped++
			continue
		}
		if len(r.Status) > maxStatus {
			cut := maxStatus
			for !utf8.RuneStart(r.Status[cut]) {
				cut--
			}
			r.Status = r.Status[:cut] + statusCut
		}
		out[tool] = r
	}
	return out, dropped
}

// FuzzDecodeListMatchesEncodingJSON holds the streaming decoder to the
// encoding/json one it replaced: the same bodies are accepted, and the
// same registrations read from them, once bounded.
func FuzzDecodeListMatchesEncodingJSON(f *testing.F) {
	fixtures, _ := filepath.Glob(filepath.Join("testdata", "*"))
	for _, p := range fixtures {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"a":{"status":"\ud83d\ude00","x":[1,-0.5e+3,"\u00e9",{"y":null}]}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := decodeList(bytes.NewReader(body), 1<<20)
		ref, refErr := decodeListReference(body)
		if !json.Valid(body) {
			// The reference lets a value nest one level deeper than
			// json.Valid does; the streaming decoder never does.
			if err == nil {
				t.Fatalf("accepted invalid JSON %q", body)
			}
			return
		}
		if (err == nil) != (refErr == nil) {
			t.Fatalf("streaming error %v, encoding/json error %v, on %q", err, refErr, body)
		}
		if err != nil {
			return
		}
		want, dropped := boundedReference(ref)
		// The reference keeps one of several equal keys; dropped counts
		// every registration left out.
		if !reflect.DeepEqual(got.regs, want) || got.dropped < dropped || (got.dropped == 0) != (dropped == 0) {
			t.Fatalf("streaming read %q (dropped %d), encoding/json %q (dropped %d), from %q", got.regs, got.dropped, want, dropped, body)
		}
	})
}
