package synth

import (
	"crypto/sha256"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestGenerateIsDeterministic(t *testing.T) {
	o := Options{Tools: 200, ExtraJobs: 400, DownFraction: 0.1, UnregisteredFrac: 0.05, Seed: 7,
		Now: time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC), HomesWithoutManifest: 3}
	a, err := Generate(t.TempDir(), o)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Generate(t.TempDir(), o)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []func(*Platform) string{
		func(p *Platform) string { return p.QstatXML },
		func(p *Platform) string { return p.ListJSON },
		func(p *Platform) string { return filepath.Join(p.Homes, ToolName(17), "service.manifest") },
	} {
		da, _ := os.ReadFile(f(a))
		db, _ := os.ReadFile(f(b))
		if sha256.Sum256(da) != sha256.Sum256(db) || len(da) == 0 {
			t.Errorf("%s differs between two runs with the same options", filepath.Base(f(a)))
		}
	}
	if a.Down < 10 || a.Down > 30 || a.Unregistered < 3 || a.Unregistered > 20 {
		t.Errorf("down %d, unregistered %d: far from 10%% and 5%% of 200", a.Down, a.Unregistered)
	}
	if a.Jobs != 200-a.Down*6/10+400 && a.Jobs < 500 {
		t.Errorf("jobs = %d", a.Jobs)
	}
	entries, _ := os.ReadDir(a.Homes)
	if len(entries) != 203 {
		t.Errorf("%d homes, want 203", len(entries))
	}
}
