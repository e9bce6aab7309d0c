package proxy

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestDecodeListFixtures(t *testing.T) {
	tests := []struct {
		fixture string
		want    map[string]Registration // checked when wantErr is ""
		wantErr string
	}{
		{fixture: "good.json", want: map[string]Registration{
			"mytool":     {Status: "active"},
			"other-tool": {Status: "active"},
			"stale":      {Status: "inactive"},
		}},
		{fixture: "empty-object.json", want: map[string]Registration{}},
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
			got, err := decodeList(bytes.NewReader(body), maxListBody)
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
		regs, err := decodeList(bytes.NewReader(body), 1<<20)
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
		regs2, err := decodeList(bytes.NewReader(again), 1<<20)
		if err != nil {
			t.Fatalf("re-decoding %s: %v", again, err)
		}
		if !reflect.DeepEqual(regs, regs2) {
			t.Fatalf("round trip changed the list: %v != %v", regs, regs2)
		}
	})
}
