package manifest

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"webservicemonitor/internal/accounts"
	"webservicemonitor/internal/synth"
)

func scanOf(t *testing.T, s *Scanner) Scan {
	t.Helper()
	scan, err := s.Scan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return scan
}

// An unchanged manifest is not parsed again; a changed one is, even when
// its size and mtime were put back (ctime cannot be).
func TestScanCachesUnchangedManifests(t *testing.T) {
	p, err := synth.Generate(t.TempDir(), synth.Options{Tools: 3, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	s := asDaemon(&Scanner{Root: p.Homes, Project: "tools", Accounts: accounts.NewPasswdFile(p.Passwd)})
	first := scanOf(t, s)
	if len(first.Manifests) != 3 {
		t.Fatalf("scan: %+v", first)
	}
	tool := synth.ToolName(1)

	// Poison the cache entry: if the second scan uses the cache, it shows.
	s.mu.Lock()
	entry := s.parsed[tool]
	entry.fields.Web = "cached"
	s.parsed[tool] = entry
	s.mu.Unlock()
	if got := scanOf(t, s).Manifests[1].Web; got != "cached" {
		t.Fatalf("unchanged manifest parsed again (web %q)", got)
	}

	path := filepath.Join(p.Homes, tool, FileName)
	st, _ := os.Stat(path)
	data, _ := os.ReadFile(path)
	// Same length: "web: lighttpd" becomes "web: lighttpX".
	changed := append(data[:len(data)-2:len(data)-2], 'X', '\n')
	if err := os.WriteFile(path, changed, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, st.ModTime(), st.ModTime()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond)
	scan := scanOf(t, s)
	if len(scan.Skipped) != 1 || scan.Skipped[0].Code != ReasonUnknownWeb {
		t.Errorf("changed manifest (same size and mtime) not re-read: %+v", scan)
	}

	// A vanished home leaves the cache.
	if err := os.RemoveAll(filepath.Join(p.Homes, synth.ToolName(2))); err != nil {
		t.Fatal(err)
	}
	scanOf(t, s)
	if _, ok := s.parsed[synth.ToolName(2)]; ok {
		t.Error("cache keeps an entry for a removed home")
	}
}
