package main

import (
	"bytes"
	"compress/gzip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func at(day int) time.Time { return time.Date(2026, 1, day, 12, 0, 0, 0, time.UTC) }

// TestReleases groups a history (newest first) into entries: the build's,
// then one per release tag; a tagged HEAD is the build's own entry.
func TestReleases(t *testing.T) {
	history := []commitLine{
		{hash: "c3", when: at(3), subject: "third"},
		{hash: "c2", when: at(2), subject: "second", tags: []string{"v1.1.0"}},
		{hash: "c1", when: at(1), subject: "first", tags: []string{"nightly", "v1.0.0"}},
	}
	tests := []struct {
		name    string
		b       build
		commits []commitLine
		want    []release
	}{
		{"after a tag", build{"1.1.0+1.gc3", "v1.1.0-1-gc3", "c3full"}, history, []release{
			{"1.1.0+1.gc3", "c3", at(3), []string{"Built from commit c3full (git describe: v1.1.0-1-gc3).", "third"}},
			{"1.1.0", "c2", at(2), []string{"second"}},
			{"1.0.0", "c1", at(1), []string{"first"}},
		}},
		{"on a tag, dirty", build{"1.1.0+dirty", "v1.1.0-dirty", "c2full"}, history[1:], []release{
			{"1.1.0+dirty", "c2", at(2), []string{"Built from commit c2full (git describe: v1.1.0-dirty) with changes not committed.", "second"}},
			{"1.0.0", "c1", at(1), []string{"first"}},
		}},
		{"no tag", build{"0.0.0+1.gc1", "c1", "c1full"}, []commitLine{{hash: "c1", when: at(1), subject: "first", tags: []string{"1234567"}}}, []release{
			{"0.0.0+1.gc1", "c1", at(1), []string{"Built from commit c1full (git describe: c1).", "first"}},
		}},
	}
	for _, tt := range tests {
		got := releases(tt.b, tt.commits)
		if len(got) != len(tt.want) {
			t.Errorf("%s: %d entries %+v, want %+v", tt.name, len(got), got, tt.want)
			continue
		}
		for i := range got {
			g, w := got[i], tt.want[i]
			if g.version != w.version || g.commit != w.commit || !g.when.Equal(w.when) || strings.Join(g.changes, "|") != strings.Join(w.changes, "|") {
				t.Errorf("%s: entry %d %+v, want %+v", tt.name, i, g, w)
			}
		}
	}
}

func TestParseGitLog(t *testing.T) {
	out := "c2\x1f1767355200\x1fsecond, with a comma\x1ftag: v1.1.0, tag: nightly\x1e\nc1\x1f1767268800\x1ffirst\x1f\x1e\n"
	got, err := parseGitLog(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].subject != "second, with a comma" || strings.Join(got[0].tags, " ") != "v1.1.0 nightly" ||
		!got[1].when.Equal(time.Unix(1767268800, 0)) || got[1].tags != nil {
		t.Errorf("parseGitLog = %+v", got)
	}
	for _, bad := range []string{"", "c1\x1fnot-a-time\x1fs\x1f\x1e", "c1\x1f1\x1e"} {
		if _, err := parseGitLog(bad); err == nil {
			t.Errorf("parseGitLog(%q) accepted", bad)
		}
	}
}

func TestWrap(t *testing.T) {
	long := strings.Repeat("word ", 40)
	for _, l := range wrap(long, 76) {
		if len(l) > 76 {
			t.Errorf("line of %d: %q", len(l), l)
		}
		if !strings.HasPrefix(l, "  * ") && !strings.HasPrefix(l, "    ") {
			t.Errorf("line %q neither starts nor continues a bullet", l)
		}
	}
	if got := wrap("short", 76); len(got) != 1 || got[0] != "  * short" {
		t.Errorf("wrap(short) = %q", got)
	}
	if got := wrap(strings.Repeat("x", 90), 76); len(got) != 1 {
		t.Errorf("a long word was split: %q", got)
	}
}

// TestChangelogText: the format dpkg-parsechangelog reads (when installed),
// each entry's version, date and maintainer.
func TestChangelogText(t *testing.T) {
	rels := []release{
		{"1.1.0+1.gc3", "c3", at(3), []string{"Built from commit c3full (git describe: v1.1.0-1-gc3).", strings.Repeat("long subject ", 10)}},
		{"1.0.0", "c1", at(1), []string{"first"}},
	}
	text := changelogText("webservicemonitor", "M <m@tools.example>", rels)
	for _, want := range []string{
		"webservicemonitor (1.1.0+1.gc3) unstable; urgency=medium\n\n  * Built from commit c3full",
		"\n -- M <m@tools.example>  Sat, 03 Jan 2026 12:00:00 +0000\n\nwebservicemonitor (1.0.0) unstable; urgency=medium\n\n  * first\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("changelog lacks %q:\n%s", want, text)
		}
	}
	for _, l := range strings.Split(text, "\n") {
		if len(l) >= 80 && !strings.HasPrefix(l, " -- ") {
			t.Errorf("line of %d columns: %q", len(l), l)
		}
	}
	if _, err := exec.LookPath("dpkg-parsechangelog"); err != nil {
		return
	}
	path := filepath.Join(t.TempDir(), "changelog")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("dpkg-parsechangelog", "-l", path, "--all", "-S", "Version").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "1.1.0+1.gc3" {
		t.Errorf("dpkg-parsechangelog: %v %q", err, out)
	}
}

// TestGzipFile: as gzip -9n (no name, no time, best compression flag).
func TestGzipFile(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.gz"), filepath.Join(dir, "b.gz")
	for _, p := range []string{a, b} {
		if err := gzipFile(p, []byte("same text\n")); err != nil {
			t.Fatal(err)
		}
	}
	da, _ := os.ReadFile(a)
	db, _ := os.ReadFile(b)
	if !bytes.Equal(da, db) {
		t.Error("same input, different bytes")
	}
	zr, err := gzip.NewReader(bytes.NewReader(da))
	if err != nil {
		t.Fatal(err)
	}
	if zr.Name != "" || !zr.ModTime.IsZero() || da[8] != 2 {
		t.Errorf("header: name %q, time %v, XFL %d; want no name, no time, XFL 2 (best)", zr.Name, zr.ModTime, da[8])
	}
}
