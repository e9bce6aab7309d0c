package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// writeAtomically writes the database beside out and then swaps it in:
// govulncheck takes any directory holding index/modules.json for a complete
// database, so an interrupted run must not leave a partial one at out.
func (db *database) writeAtomically(out string) error {
	parent := filepath.Dir(out)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", parent, err)
	}
	tmp, err := os.MkdirTemp(parent, ".vulndb-*")
	if err != nil {
		return fmt.Errorf("creating temporary database directory: %w", err)
	}
	defer os.RemoveAll(tmp) // a no-op once renamed
	if err := db.write(tmp); err != nil {
		return err
	}
	// MkdirTemp makes 0700; the database is read by whoever runs govulncheck.
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("opening up %s: %w", tmp, err)
	}
	if err := os.RemoveAll(out); err != nil {
		return fmt.Errorf("removing previous database %s: %w", out, err)
	}
	if err := os.Rename(tmp, out); err != nil {
		return fmt.Errorf("moving database into %s: %w", out, err)
	}
	return nil
}

func (db *database) write(dir string) error {
	for _, sub := range []string{"index", "ID"} {
		if err := os.Mkdir(filepath.Join(dir, sub), 0o755); err != nil {
			return fmt.Errorf("creating database directory: %w", err)
		}
	}
	if err := writeJSON(filepath.Join(dir, "index", "db.json"), dbMeta{Modified: db.modified}); err != nil {
		return err
	}
	if err := writeJSON(filepath.Join(dir, "index", "modules.json"), db.modulesIndex()); err != nil {
		return err
	}
	if err := writeJSON(filepath.Join(dir, "index", "vulns.json"), db.vulnsIndex()); err != nil {
		return err
	}
	for _, e := range db.entries {
		if err := os.WriteFile(filepath.Join(dir, "ID", e.id+".json"), e.raw, 0o644); err != nil {
			return fmt.Errorf("writing entry %s: %w", e.id, err)
		}
	}
	return nil
}

func writeJSON(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding %s: %w", filepath.Base(path), err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
