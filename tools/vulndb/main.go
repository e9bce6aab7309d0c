// Command vulndb turns the golang.org/x/vulndb module, as served by the Go
// module proxy, into a vulnerability database in the v1 layout that
// `govulncheck -db file:///...` reads (index/db.json, index/modules.json,
// index/vulns.json, ID/<id>.json). CI reaches no network but the module
// proxy, so vuln.go.dev itself cannot be used.
//
//	go run ./tools/vulndb -version v0.0.0-20261105234957-e22db6528018 -out bin/vulndb
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// vulndbModule is the module whose data/osv holds one OSV entry per report.
const vulndbModule = "golang.org/x/vulndb"

func main() {
	version := flag.String("version", "", "version of "+vulndbModule+" to build the database from (required)")
	out := flag.String("out", "", "directory to write the database to; replaced as a whole (required)")
	goCmd := flag.String("go", "go", "go command used to download the module")
	flag.Parse()
	if *version == "" || *out == "" {
		flag.Usage()
		os.Exit(2)
	}
	// Downloading ~20 MB through the proxy takes seconds; a hung proxy must
	// fail CI rather than stall it.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := run(ctx, *goCmd, *version, *out); err != nil {
		fmt.Fprintln(os.Stderr, "vulndb:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, goCmd, version, out string) error {
	snap, err := fetchSnapshot(ctx, goCmd, vulndbModule+"@"+version)
	if err != nil {
		return err
	}
	db, err := loadDatabase(filepath.Join(snap.dir, "data", "osv"), snap.time)
	if err != nil {
		return fmt.Errorf("reading %s@%s: %w", vulndbModule, version, err)
	}
	if err := db.writeAtomically(out); err != nil {
		return err
	}
	fmt.Printf("vulndb: %d entries from %s@%s (snapshot %s) in %s\n",
		len(db.entries), vulndbModule, version, snap.time.Format(time.RFC3339), out)
	return nil
}
