package manifest

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestSimpleShapeTakesTheFastPath(t *testing.T) {
	tests := []struct {
		name   string
		data   string
		simple bool
	}{
		{"as webservice writes it", "# This file is used by webservice\n# Do not edit\nbackend: gridengine\ndistribution: debian\nrelease: buster\nversion: 4\nweb: lighttpd\n", true},
		{"trailing comment", "web: lighttpd # the web server\n", true},
		{"unknown key", "web: lighttpd\nextra: thing\n", true},
		{"no final newline", "web: lighttpd", true},
		{"comments only", "# stopped\n# by webservice\n", true},
		{"empty", "", true},
		{"blank line", "\n", true},
		{"spaces only", "  \n", false},
		{"quoted value", "web: \"lighttpd\"\n", false},
		{"nested", "web: lighttpd\nextra:\n  a: b\n", false},
		{"empty value is null", "web:\n", false},
		{"list", "- web: lighttpd\n", false},
		{"flow mapping", "{web: lighttpd}\n", false},
		{"document marker", "---\nweb: lighttpd\n", false},
		{"tab", "web:\tlighttpd\n", false},
		{"crlf", "web: lighttpd\r\n", false},
		{"boolean-looking", "web: yes\n", false},
		{"number as web", "web: 4\n", false},
		{"leading zero version", "version: 04\n", false},
		{"known key twice", "web: lighttpd\nweb: generic\n", false},
		{"anchor", "web: &a lighttpd\n", false},
		{"upper case", "web: Lighttpd\n", false},
		{"non-ASCII comment", "# é\nweb: lighttpd\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, simple := parseSimple([]byte(tt.data)); simple != tt.simple {
				t.Errorf("simple = %v, want %v", simple, tt.simple)
			}
		})
	}
}

// FuzzSimpleMatchesYAML holds the fast path to the full parser: whenever it
// accepts a manifest, the YAML parser must read the same fields from it.
func FuzzSimpleMatchesYAML(f *testing.F) {
	fixtures, _ := filepath.Glob("testdata/*")
	for _, p := range fixtures {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte("version: 4\nweb: lighttpd\nrelease: buster\nx-y_z.1: 0.5\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fast, simple := parseSimple(data)
		if !simple {
			return
		}
		full, err := parseYAML("m", data)
		var pe *ParseError
		if err != nil && !errors.As(err, &pe) {
			t.Fatalf("unexpected error type %v", err)
		}
		if err != nil {
			t.Fatalf("fast path accepted what YAML refuses (%v):\n%s", err, data)
		}
		if !reflect.DeepEqual(fast, full) {
			t.Fatalf("fast %+v, YAML %+v for:\n%s", fast, full, data)
		}
	})
}
