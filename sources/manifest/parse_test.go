package manifest

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"webservicemonitor/internal/config"
)

// fixtures maps each file in testdata/ to what Parse must make of it: a
// Reason* code, or "" with the fields it must return. Parse invents no
// release: an absent one is "" here, and becomes the scanner's default.
var fixtures = map[string]struct {
	code   string
	fields Fields
	reason string // substring the reason must contain, after the path
	// scan is the code Scan skips the fixture with, when it is not code:
	// whether the grid offers the release is the scanner's setting, judged
	// after the parse (asDaemon: only buster).
	scan string
}{
	"valid-lighttpd-buster.yaml":         {fields: Fields{Version: 4, Web: "lighttpd", Backend: "gridengine", Release: "buster", Distribution: "debian"}},
	"valid-uwsgi-python-defaults.yaml":   {fields: Fields{Web: "uwsgi-python", Backend: "gridengine"}},
	"valid-unknown-keys-tolerated.yaml":  {fields: Fields{Version: 3, Web: "nodejs", Backend: "gridengine", Release: "buster"}},
	"valid-stopped-no-web.yaml":          {fields: Fields{Version: 4, Backend: "gridengine"}},
	"valid-kubernetes-backend.yaml":      {fields: Fields{Version: 4, Web: "generic", Backend: "kubernetes"}},
	"valid-quoted-values.yaml":           {fields: Fields{Version: 2, Web: "uwsgi-plain", Backend: "gridengine", Release: "buster"}},
	"valid-null-web-is-absent.yaml":      {fields: Fields{Version: 4, Backend: "gridengine"}},
	"valid-no-release-gets-default.yaml": {fields: Fields{Version: 4, Web: "lighttpd", Backend: "gridengine"}},

	// A release the grid does not offer is a release name all the same:
	// the scanner refuses it, for a web service only.
	"release-not-offered-stretch.yaml": {fields: Fields{Version: 4, Web: "lighttpd", Backend: "gridengine", Release: "stretch", Distribution: "debian"},
		scan: ReasonReleaseNotOffered},
	"valid-stopped-release-not-offered.yaml": {fields: Fields{Version: 4, Backend: "gridengine", Release: "stretch", Distribution: "debian"}},

	// No document at all is no web service, as after webservice stop.
	"valid-only-comments-no-web-service.yaml": {fields: Fields{Backend: "gridengine"}},
	"valid-empty-file-no-web-service.yaml":    {fields: Fields{Backend: "gridengine"}},

	// Another backend's manifest is never judged: its web type, version,
	// release and badly typed keys are not ours.
	"valid-kubernetes-as-webservice-writes-it.yaml": {fields: Fields{Version: 4, Web: "python3.11", Backend: "kubernetes"}},
	"valid-kubernetes-values-not-judged.yaml":       {fields: Fields{Version: 9, Web: "buildservice", Backend: "kubernetes", Release: "Jammy 22.04"}},
	"valid-kubernetes-bad-field-not-judged.yaml":    {fields: Fields{Version: 4, Backend: "kubernetes"}},
	"valid-kubernetes-release-not-offered.yaml":     {fields: Fields{Version: 4, Web: "python3.11", Backend: "kubernetes", Release: "stretch"}},

	"invalid-yaml-syntax.yaml":           {code: ReasonInvalidYAML, reason: "is not valid YAML: yaml: line"},
	"invalid-yaml-list.yaml":             {code: ReasonInvalidYAML, reason: "is a YAML list, want a mapping"},
	"invalid-yaml-scalar.yaml":           {code: ReasonInvalidYAML, reason: "is a YAML string, want a mapping"},
	"invalid-yaml-non-utf8.yaml":         {code: ReasonInvalidYAML, reason: "is not valid UTF-8 (byte 0xff at offset 106)"},
	"invalid-yaml-two-documents.yaml":    {code: ReasonInvalidYAML, reason: "more than one YAML document"},
	"invalid-yaml-anchor-and-alias.yaml": {code: ReasonInvalidYAML, reason: "anchor or alias (line 3)"},
	"invalid-yaml-billion-laughs.yaml":   {code: ReasonInvalidYAML, reason: "anchor or alias (line 2)"},
	"unknown-web-quote.yaml":             {code: ReasonUnknownWeb, reason: `web type "lighttpd'" is not a known web type`},
	"unknown-web-apache.yaml":            {code: ReasonUnknownWeb, reason: `web type "apache" is not a known web type`},
	"unknown-web-empty-string.yaml":      {code: ReasonUnknownWeb, reason: `web type "" is not`},
	"bad-field-web-list.yaml":            {code: ReasonBadField, reason: `key "web" must be a string, not a YAML list`},
	"bad-field-web-integer.yaml":         {code: ReasonBadField, reason: `key "web" must be a string, not a YAML integer`},
	"bad-field-version-string.yaml":      {code: ReasonBadField, reason: `key "version" must be an integer, not a YAML string`},
	"bad-field-version-float.yaml":       {code: ReasonBadField, reason: `key "version" must be an integer, not a YAML float`},
	"bad-field-version-negative.yaml":    {code: ReasonBadField, reason: `key "version" must be a non-negative integer, not "-1"`},
	"bad-field-release-integer.yaml":     {code: ReasonBadField, reason: `key "release" must be a string`},
	"bad-field-backend-mapping.yaml":     {code: ReasonBadField, reason: `key "backend" must be a string, not a YAML mapping`},
	"bad-field-duplicate-web.yaml":       {code: ReasonBadField, reason: `key "web" appears more than once (line 4)`},
	"bad-field-backend-twice.yaml":       {code: ReasonBadField, reason: `key "backend" appears more than once (line 4)`},
	"bad-release-dotdot.yaml":            {code: ReasonBadRelease, reason: `release "../x" is not a release name`},
	"bad-release-shell.yaml":             {code: ReasonBadRelease, reason: `release "buster; rm" is not a release name`},
	"bad-release-uppercase.yaml":         {code: ReasonBadRelease, reason: `release "Buster"`},
	"bad-release-empty-string.yaml":      {code: ReasonBadRelease, reason: `release "" is not a release name (leave the key out for the grid's default release)`},
	"version-newer.yaml":                 {code: ReasonVersion, reason: "manifest version 5 is newer than this supervisor understands (4)"},
}

func TestParseFixtures(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range files {
		if _, ok := fixtures[filepath.Base(file)]; !ok {
			t.Errorf("fixture %s has no expectation in the fixtures table", file)
		}
	}
	for name, want := range fixtures {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", name))
			if err != nil {
				t.Fatal(err)
			}
			const path = "/data/project/foo/service.manifest"
			got, err := Parse(path, data, config.Defaults().WebTypes)
			if want.code == "" {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				if got != want.fields {
					t.Errorf("got %+v, want %+v", got, want.fields)
				}
				return
			}
			pe, ok := err.(*ParseError)
			if !ok {
				t.Fatalf("error = %v (%T), want *ParseError with code %s", err, err, want.code)
			}
			if pe.Code != want.code {
				t.Errorf("code = %s, want %s (reason: %s)", pe.Code, want.code, pe.Reason)
			}
			if !strings.HasPrefix(pe.Reason, path+": ") || !strings.Contains(pe.Reason, want.reason) {
				t.Errorf("reason = %q, want it to start with the path and contain %q", pe.Reason, want.reason)
			}
		})
	}
}

func TestParseWebTypes(t *testing.T) {
	data := []byte("web: lighttpd\n")
	if _, err := Parse("m", data, []string{"nodejs"}); err == nil || err.(*ParseError).Code != ReasonUnknownWeb {
		t.Errorf("lighttpd with only nodejs known: error = %v, want %s", err, ReasonUnknownWeb)
	}
	if f, err := Parse("m", []byte("web: nodejs\n"), []string{"nodejs"}); err != nil || f.Web != "nodejs" {
		t.Errorf("nodejs with nodejs known: got %+v, %v", f, err)
	}
	daemon := config.Defaults().WebTypes
	for _, web := range daemon {
		if _, err := Parse("m", []byte("web: "+web+"\n"), daemon); err != nil {
			t.Errorf("default web type %s refused: %v", web, err)
		}
	}
	// None known is none known, not "the default ones".
	if _, err := Parse("m", data, nil); err == nil || err.(*ParseError).Code != ReasonUnknownWeb {
		t.Errorf("lighttpd with no web type known: error = %v, want %s", err, ReasonUnknownWeb)
	}
}

// TestParseJudgesTheBackendFirst: a manifest of another backend is
// returned as that backend's, whatever else it holds, by the fast path and
// the YAML parser alike; only what keeps the backend from being read is
// refused.
func TestParseJudgesTheBackendFirst(t *testing.T) {
	k8s := func(web, release string, version int) Fields {
		return Fields{Version: version, Web: web, Backend: "kubernetes", Release: release}
	}
	tests := []struct {
		name string
		data string
		want Fields
		code string // refused with it, when set
	}{
		{"kubernetes web type, fast path", "backend: kubernetes\nversion: 4\nweb: buildservice\n", k8s("buildservice", "", 4), ""},
		{"kubernetes web type, YAML path", "backend: kubernetes\nmemory: 512Mi\nweb: python3.11\n", k8s("python3.11", "", 0), ""},
		{"backend after the web type", "web: php7.4\nbackend: kubernetes\n", k8s("php7.4", "", 0), ""},
		{"newer version", "backend: kubernetes\nversion: 5\nweb: node18\n", k8s("node18", "", 5), ""},
		{"release not ours", "backend: kubernetes\nrelease: Jammy\nweb: node18\n", k8s("node18", "Jammy", 0), ""},
		{"empty release not ours", "backend: kubernetes\nrelease: ''\nweb: node18\n", k8s("node18", "", 0), ""},
		{"empty web type", "backend: kubernetes\nweb: ''\n", k8s("", "", 0), ""},
		{"badly typed version", "backend: kubernetes\nversion: four\nweb: node18\n", k8s("node18", "", 0), ""},
		{"any other backend", "backend: nomad\nweb: whatever\n", Fields{Web: "whatever", Backend: "nomad"}, ""},
		{"backend given twice", "backend: kubernetes\nbackend: kubernetes\nweb: node18\n", Fields{}, ReasonBadField},
		{"backend not a string", "backend: [kubernetes]\nweb: node18\n", Fields{}, ReasonBadField},
		{"not a mapping", "- backend: kubernetes\n", Fields{}, ReasonInvalidYAML},
		{"gridengine is still judged", "backend: gridengine\nweb: python3.11\n", Fields{}, ReasonUnknownWeb},
		{"absent backend is gridengine", "web: python3.11\n", Fields{}, ReasonUnknownWeb},
	}
	webTypes := config.Defaults().WebTypes
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse("m", []byte(tt.data), webTypes)
			if tt.code != "" {
				if pe, ok := err.(*ParseError); !ok || pe.Code != tt.code {
					t.Fatalf("error = %v, want code %s", err, tt.code)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
			}
			if full, err := parseYAML("m", []byte(tt.data)); err != nil || full != tt.want {
				t.Errorf("YAML path: got %+v, %v; want %+v", full, err, tt.want)
			}
		})
	}
}

// TestParseNoDocumentIsNoWebService: a file without a YAML document (empty,
// blank lines, comments) asks for no web service, by either path; an
// explicit document that is not a mapping is still refused.
func TestParseNoDocumentIsNoWebService(t *testing.T) {
	none := Fields{Backend: "gridengine"}
	tests := []struct {
		name string
		data string
		code string // refused with it, when set
	}{
		{"empty", "", ""},
		{"one newline", "\n", ""},
		{"blank lines", "\n\n\n", ""},
		{"spaces", "   \n  \n", ""},
		{"comments", "# This file is used by Toolforge infrastructure.\n# Please do not edit manually at this time.\n", ""},
		{"comments without final newline", "# stopped", ""},
		{"indented comment", "  # stopped\n", ""},
		{"non-ASCII comment", "# arrêté\n", ""},
		{"explicit null document", "---\n", ReasonInvalidYAML},
		{"explicit null", "null\n", ReasonInvalidYAML},
		{"empty list", "[]\n", ReasonInvalidYAML},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse("m", []byte(tt.data), config.Defaults().WebTypes)
			if tt.code != "" {
				if pe, ok := err.(*ParseError); !ok || pe.Code != tt.code {
					t.Fatalf("error = %v, want code %s", err, tt.code)
				}
				return
			}
			if err != nil || got != none {
				t.Fatalf("got %+v, %v; want %+v", got, err, none)
			}
			if full, err := parseYAML("m", []byte(tt.data)); err != nil || full != none {
				t.Errorf("YAML path: got %+v, %v; want %+v", full, err, none)
			}
		})
	}
}

// TestParseInventsNoRelease: an absent or null release is "" by the fast
// path and the YAML parser alike; the scanner, not Parse, gives the default.
func TestParseInventsNoRelease(t *testing.T) {
	for _, data := range []string{
		"web: lighttpd\n",
		"backend: gridengine\nversion: 4\nweb: lighttpd\n",
		"web: 'lighttpd'\n",
		"release: ~\nweb: lighttpd\n",
		"release:\nweb: lighttpd\n",
	} {
		want := Fields{Web: "lighttpd", Backend: "gridengine"}
		if strings.Contains(data, "version") {
			want.Version = 4
		}
		got, err := Parse("m", []byte(data), config.Defaults().WebTypes)
		if err != nil || got != want {
			t.Errorf("%q: got %+v, %v; want %+v", data, got, err, want)
		}
		if full, err := parseYAML("m", []byte(data)); err != nil || full != want {
			t.Errorf("%q: YAML path: got %+v, %v; want %+v", data, full, err, want)
		}
	}
}

func TestParseQuotesUnsafePath(t *testing.T) {
	_, err := Parse("/data/project/a\nb/service.manifest", []byte("- x\n"), nil)
	if err == nil || !strings.HasPrefix(err.Error(), `"/data/project/a\nb/service.manifest": `) {
		t.Errorf("reason = %v, want the path quoted", err)
	}
}

func TestParseBillionLaughsIsFast(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "invalid-yaml-billion-laughs.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// A bigger bomb than the fixture: 9^20 strings if expanded.
	var b strings.Builder
	b.WriteString("a0: &a0 [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n")
	for i := 1; i <= 20; i++ {
		ref := "*a" + strconv.Itoa(i-1)
		b.WriteString("a" + strconv.Itoa(i) + ": &a" + strconv.Itoa(i) + " [" + strings.Repeat(ref+",", 8) + ref + "]\n")
	}
	for _, doc := range [][]byte{data, []byte(b.String())} {
		start := time.Now()
		_, err := Parse("m", doc, nil)
		if d := time.Since(start); d > time.Second {
			t.Errorf("Parse took %v on an alias bomb", d)
		}
		if err == nil || err.(*ParseError).Code != ReasonInvalidYAML {
			t.Errorf("error = %v, want %s", err, ReasonInvalidYAML)
		}
	}
}

func FuzzParseManifest(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	codes := []string{ReasonInvalidYAML, ReasonBadField, ReasonUnknownWeb, ReasonBadRelease, ReasonVersion}
	const path = "/data/project/fuzz/service.manifest"
	webTypes := config.Defaults().WebTypes
	f.Fuzz(func(t *testing.T, data []byte) {
		type res struct {
			f   Fields
			err error
		}
		ch := make(chan res, 1)
		go func() { f, err := Parse(path, data, webTypes); ch <- res{f, err} }()
		var r res
		select {
		case r = <-ch:
		case <-time.After(2 * time.Second):
			t.Fatalf("HANG on %q", data)
		}
		got, err := r.f, r.err
		if err != nil {
			pe, ok := err.(*ParseError)
			if !ok {
				t.Fatalf("error %v is a %T, want *ParseError", err, err)
			}
			if !slices.Contains(codes, pe.Code) {
				t.Fatalf("code %q is not one Parse may return", pe.Code)
			}
			if !strings.HasPrefix(pe.Reason, path+": ") {
				t.Fatalf("reason %q does not start with the path", pe.Reason)
			}
			if (got != Fields{}) {
				t.Fatalf("refused manifest returned fields %+v", got)
			}
			return
		}
		if got.Backend != BackendGridEngine {
			return // another backend's values are never judged
		}
		if got.Web != "" && !slices.Contains(webTypes, got.Web) {
			t.Fatalf("accepted unknown web type %q", got.Web)
		}
		if got.Release != "" && !releasePattern.MatchString(got.Release) {
			t.Fatalf("accepted release %q", got.Release)
		}
		if got.Version < 0 || got.Version > MaxVersion {
			t.Fatalf("accepted version %d", got.Version)
		}
	})
}
