package main

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestAppendReleasesReadsTheQueuesComplexValues(t *testing.T) {
	tests := []struct {
		name, conf string
		want       []string
	}{
		{"one release", "qname webgrid-lighttpd\ncomplex_values        release=buster\n", []string{"buster"}},
		{"with other values", "complex_values        h_vmem=8G,release=bullseye\n", []string{"bullseye"}},
		{"continued line", "complex_values        h_vmem=8G, \\\n release=buster\n", []string{"buster"}},
		{"none", "complex_values        NONE\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := appendReleases(nil, tt.conf); !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	if got := appendReleases([]string{"buster"}, "complex_values release=buster\n"); len(got) != 1 {
		t.Errorf("a release offered by both queues counted twice: %q", got)
	}
}

func TestParseArgsTakesAnOptionalTypeBeforeTheAction(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "conf.json")
	if err := os.WriteFile(conf, []byte(`{"modes":{}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		argv                  []string
		wantType, wantCommand string
		wantRelease           string
		wantArgs              int
	}{
		{[]string{"--conf", conf, "restart"}, "", "restart", "buster", 0},
		{[]string{"--conf", conf, "--release=bullseye", "uwsgi-python", "restart"}, "uwsgi-python", "restart", "bullseye", 0},
		{[]string{"--conf", conf, "start", "--no-register-proxy"}, "", "start", "buster", 1},
		{[]string{"--conf", conf, "runner", "--tool", "x", "--web", "lighttpd"}, "", "runner", "buster", 4},
	}
	for _, tt := range tests {
		r, code := parseArgs(tt.argv)
		if r == nil {
			t.Fatalf("%q: exit %d", tt.argv, code)
		}
		if r.wsType != tt.wantType || r.command != tt.wantCommand || r.release != tt.wantRelease || len(r.args) != tt.wantArgs {
			t.Errorf("%q: type %q command %q release %q args %q", tt.argv, r.wsType, r.command, r.release, r.args)
		}
	}
}
