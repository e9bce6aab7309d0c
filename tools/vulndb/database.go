package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

// idPattern is the Go vulnerability database's ID form; entries become file
// names, so nothing else is accepted.
var idPattern = regexp.MustCompile(`^GO-[0-9]{4}-[0-9]{4,}$`)

// entry is one OSV report: the fields the indexes need, and the report
// itself as written to ID/<id>.json.
type entry struct {
	id       string
	modified time.Time
	aliases  []string
	modules  []string
	raw      json.RawMessage
}

type database struct {
	modified time.Time
	entries  []entry // sorted by id
}

// osvFields is the part of an OSV report the indexes are built from.
type osvFields struct {
	ID       string    `json:"id"`
	Modified time.Time `json:"modified"`
	Aliases  []string  `json:"aliases"`
	Affected []struct {
		Package struct {
			Name string `json:"name"`
		} `json:"package"`
	} `json:"affected"`
}

// loadDatabase reads every <id>.json report in osvDir. Reports without a
// modified time get snapshotTime.
func loadDatabase(osvDir string, snapshotTime time.Time) (*database, error) {
	names, err := filepath.Glob(filepath.Join(osvDir, "*.json"))
	if err != nil {
		return nil, fmt.Errorf("listing reports in %s: %w", osvDir, err)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("no reports in %s", osvDir)
	}
	db := &database{}
	for _, name := range names { // Glob sorts, so entries are in id order
		b, err := os.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("reading report: %w", err)
		}
		e, err := parseEntry(b, snapshotTime)
		if err != nil {
			return nil, fmt.Errorf("reading report %s: %w", filepath.Base(name), err)
		}
		if want := e.id + ".json"; filepath.Base(name) != want {
			return nil, fmt.Errorf("report %s holds id %q", filepath.Base(name), e.id)
		}
		if e.modified.After(db.modified) {
			db.modified = e.modified
		}
		db.entries = append(db.entries, e)
	}
	return db, nil
}

func parseEntry(b []byte, snapshotTime time.Time) (entry, error) {
	var f osvFields
	if err := json.Unmarshal(b, &f); err != nil {
		return entry{}, fmt.Errorf("decoding OSV: %w", err)
	}
	if !idPattern.MatchString(f.ID) {
		return entry{}, fmt.Errorf("id %q is not of the form GO-YYYY-NNNN", f.ID)
	}
	e := entry{id: f.ID, modified: f.Modified.UTC(), aliases: f.Aliases, raw: b}
	for _, a := range f.Affected {
		if a.Package.Name == "" {
			return entry{}, fmt.Errorf("%s: affected package without a name", f.ID)
		}
		if !slices.Contains(e.modules, a.Package.Name) {
			e.modules = append(e.modules, a.Package.Name)
		}
	}
	if e.modified.IsZero() {
		e.modified = snapshotTime
		raw, err := withModified(b, snapshotTime)
		if err != nil {
			return entry{}, fmt.Errorf("%s: %w", f.ID, err)
		}
		e.raw = raw
	}
	return e, nil
}

// withModified sets the report's "modified" field, keeping every other field
// as it was, so ID/<id>.json agrees with the indexes.
func withModified(b []byte, t time.Time) (json.RawMessage, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		return nil, fmt.Errorf("decoding OSV: %w", err)
	}
	ts, err := json.Marshal(t.Format(time.RFC3339))
	if err != nil {
		return nil, fmt.Errorf("encoding modified time: %w", err)
	}
	fields["modified"] = ts
	return json.Marshal(fields)
}

// Index records of the v1 layout (https://go.dev/security/vuln/database#api).
type (
	dbMeta struct {
		Modified time.Time `json:"modified"`
	}
	moduleMeta struct {
		Path  string       `json:"path"`
		Vulns []moduleVuln `json:"vulns"`
	}
	// moduleVuln leaves out the optional "fixed" version: govulncheck skips
	// fetching an entry when the scanned version is at or past it, so a
	// wrong value would hide a vulnerability, while leaving it out only
	// makes govulncheck read the entry and match its ranges itself.
	moduleVuln struct {
		ID       string    `json:"id"`
		Modified time.Time `json:"modified"`
	}
	vulnMeta struct {
		ID       string    `json:"id"`
		Modified time.Time `json:"modified"`
		Aliases  []string  `json:"aliases,omitempty"`
	}
)

// modulesIndex lists every affected module in path order, each with its
// entries in id order.
func (db *database) modulesIndex() []moduleMeta {
	byPath := map[string][]moduleVuln{}
	for _, e := range db.entries {
		for _, m := range e.modules {
			byPath[m] = append(byPath[m], moduleVuln{ID: e.id, Modified: e.modified})
		}
	}
	index := make([]moduleMeta, 0, len(byPath))
	for path, vulns := range byPath {
		index = append(index, moduleMeta{Path: path, Vulns: vulns})
	}
	slices.SortFunc(index, func(a, b moduleMeta) int { return strings.Compare(a.Path, b.Path) })
	return index
}

func (db *database) vulnsIndex() []vulnMeta {
	index := make([]vulnMeta, 0, len(db.entries))
	for _, e := range db.entries {
		index = append(index, vulnMeta{ID: e.id, Modified: e.modified, Aliases: e.aliases})
	}
	return index
}
