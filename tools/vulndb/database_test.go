package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var snapshotTime = time.Date(2098, 5, 6, 7, 8, 9, 0, time.UTC)

func TestWrittenDatabaseHasTheV1Layout(t *testing.T) {
	db, err := loadDatabase("testdata/two-reports", snapshotTime)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "vulndb")
	if err := db.writeAtomically(out); err != nil {
		t.Fatal(err)
	}

	var meta dbMeta
	readJSON(t, filepath.Join(out, "index", "db.json"), &meta)
	ownModified := time.Date(2099, 3, 4, 5, 6, 7, 0, time.UTC)
	if !meta.Modified.Equal(ownModified) {
		t.Errorf("db.json modified = %v, want the latest report's %v", meta.Modified, ownModified)
	}

	var modules []moduleMeta
	readJSON(t, filepath.Join(out, "index", "modules.json"), &modules)
	wantModules := []moduleMeta{
		{Path: "example.com/a", Vulns: []moduleVuln{
			{ID: "GO-2099-0001", Modified: snapshotTime},
			{ID: "GO-2099-0002", Modified: ownModified},
		}},
		{Path: "example.com/b", Vulns: []moduleVuln{{ID: "GO-2099-0001", Modified: snapshotTime}}},
	}
	if !reflect.DeepEqual(modules, wantModules) {
		t.Errorf("modules.json = %+v, want %+v", modules, wantModules)
	}

	var vulns []vulnMeta
	readJSON(t, filepath.Join(out, "index", "vulns.json"), &vulns)
	wantVulns := []vulnMeta{
		{ID: "GO-2099-0001", Modified: snapshotTime, Aliases: []string{"CVE-2099-0001"}},
		{ID: "GO-2099-0002", Modified: ownModified},
	}
	if !reflect.DeepEqual(vulns, wantVulns) {
		t.Errorf("vulns.json = %+v, want %+v", vulns, wantVulns)
	}
}

func TestEntryGetsTheSnapshotTimeAndKeepsItsOtherFields(t *testing.T) {
	db, err := loadDatabase("testdata/two-reports", snapshotTime)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "vulndb")
	if err := db.writeAtomically(out); err != nil {
		t.Fatal(err)
	}
	var written, original map[string]any
	readJSON(t, filepath.Join(out, "ID", "GO-2099-0001.json"), &written)
	readJSON(t, "testdata/two-reports/GO-2099-0001.json", &original)
	if got := written["modified"]; got != "2098-05-06T07:08:09Z" {
		t.Errorf("modified = %v, want the snapshot time", got)
	}
	delete(written, "modified")
	delete(original, "modified")
	if !reflect.DeepEqual(written, original) {
		t.Errorf("fields other than modified changed:\n got %v\nwant %v", written, original)
	}
}

func TestRewriteReplacesThePreviousDatabase(t *testing.T) {
	db, err := loadDatabase("testdata/two-reports", snapshotTime)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "vulndb")
	stale := filepath.Join(out, "ID", "GO-2000-0001.json")
	if err := os.MkdirAll(filepath.Dir(stale), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stale, []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := db.writeAtomically(out); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("a report of the previous database is still there (stat: %v)", err)
	}
	leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(out), ".vulndb-*"))
	if len(leftovers) != 0 {
		t.Errorf("temporary directories left beside the database: %v", leftovers)
	}
}

func TestLoadDatabaseRejects(t *testing.T) {
	tests := []struct {
		dir     string
		wantErr string
	}{
		{"testdata/misnamed-report", `report GO-2099-0003.json holds id "GO-2099-0004"`},
		{"testdata/path-as-id", `id "../../etc/passwd" is not of the form GO-YYYY-NNNN`},
		{"testdata/no-reports", "no reports in testdata/no-reports"},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.dir), func(t *testing.T) {
			_, err := loadDatabase(tt.dir, snapshotTime)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestParseDownload(t *testing.T) {
	tests := []struct {
		name    string
		stdout  string
		wantDir string
		wantErr string
	}{
		{"downloaded", `{"Path":"golang.org/x/vulndb","Dir":"/mod/vulndb","Info":"/cache/v.info"}`, "/mod/vulndb", ""},
		{"unknown version", `{"Path":"golang.org/x/vulndb","Error":"unknown revision v9"}`, "", "go mod download: unknown revision v9"},
		{"no directory", `{"Path":"golang.org/x/vulndb","Info":"/cache/v.info"}`, "", "no module directory"},
		{"not JSON", `go: not a module`, "", "decoding go mod download output"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := parseDownload([]byte(tt.stdout))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || res.Dir != tt.wantDir {
				t.Fatalf("parseDownload = %+v, %v; want Dir %q", res, err, tt.wantDir)
			}
		})
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decoding %s: %v", path, err)
	}
}
