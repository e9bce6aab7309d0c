//go:build e2e

package e2epackage

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// lintianFinding is a line of lintian's output that fails the package: an
// error or a warning (overrides shipped in the package are not reported;
// information and pedantic tags are not findings).
var lintianFinding = regexp.MustCompile(`(?m)^[EW]: .*$`)

// checkLintian runs lintian on the package: no error, no warning but the
// overrides the package ships (each with its reason).
func checkLintian(t *testing.T, deb string) {
	r := runCmd(t, nil, "lintian", "--info", "--display-info", "--show-overrides", deb)
	t.Logf("lintian %s:\n%s%s", filepath.Base(deb), r.stdout, r.stderr)
	if findings := lintianFinding.FindAllString(r.stdout, -1); len(findings) > 0 || r.code != 0 {
		t.Errorf("lintian: exit %d, %d errors or warnings:\n%s", r.code, len(findings), strings.Join(findings, "\n"))
	}
	if !strings.Contains(r.stdout, "O: webservicemonitor: non-standard-file-perm") {
		t.Errorf("the shipped override of the configuration's mode was not used:\n%s", r.stdout)
	}
}

// extract unpacks the package's files into a temporary directory.
func extract(t *testing.T, deb string) string {
	t.Helper()
	dir := t.TempDir()
	if r := runCmd(t, nil, "dpkg-deb", "-x", deb, dir); r.code != 0 {
		t.Fatalf("dpkg-deb -x: %s", r.stderr)
	}
	return dir
}

// checkChangelog: the changelog is Debian's format, its first entry is
// the package's version and names the exact build (git describe and
// commit, as --version shows them).
func checkChangelog(t *testing.T, deb, version, commit string) {
	path := filepath.Join(extract(t, deb), "usr/share/doc/webservicemonitor/changelog.gz")
	plain := filepath.Join(t.TempDir(), "changelog")
	r := runCmd(t, nil, "sh", "-c", `gunzip -c "$1" > "$2"`, "sh", path, plain)
	if r.code != 0 {
		t.Fatalf("gunzip %s: %s", path, r.stderr)
	}
	pkgVersion := strings.TrimSpace(runCmd(t, nil, "dpkg-deb", "-f", deb, "Version").stdout)
	parsed := runCmd(t, nil, "dpkg-parsechangelog", "-l", plain, "-S", "Version")
	if parsed.code != 0 || strings.TrimSpace(parsed.stdout) != pkgVersion {
		t.Errorf("dpkg-parsechangelog: exit %d, version %q, want the package's %q\n%s", parsed.code, parsed.stdout, pkgVersion, parsed.stderr)
	}
	changes := runCmd(t, nil, "dpkg-parsechangelog", "-l", plain, "-S", "Changes").stdout
	if want := "commit " + commit + " (git describe: " + version + ")"; !strings.Contains(strings.Join(strings.Fields(changes), " "), want) {
		t.Errorf("the newest entry does not name the build (%q):\n%s", want, changes)
	}
}

// checkManPage: the man page renders without a warning and documents
// every command and flag of the binary's help.
func checkManPage(t *testing.T, deb string) {
	dir := extract(t, deb)
	page := filepath.Join(dir, "usr/share/man/man8/webservicemonitor.8.gz")
	// As lintian reads it (UTF-8, 80 columns): not one warning.
	if r := runCmd(t, []string{"MANWIDTH=80"}, "man", "--warnings", "-E", "UTF-8", "-l", page); r.code != 0 || r.stderr != "" {
		t.Errorf("man -l: exit %d\n%s", r.code, r.stderr)
	}
	// In ASCII, for comparing with the help: an option's minus signs are
	// hyphen-minus there.
	r := runCmd(t, []string{"MANWIDTH=80", "LC_ALL=C"}, "man", "-l", page)
	text := strings.Join(strings.Fields(r.stdout), " ")
	help := runCmd(t, []string{"COLUMNS=80"}, filepath.Join(dir, "usr/bin/webservicemonitor"), "--help")
	for _, line := range strings.Split(help.stdout+help.stderr, "\n") {
		// Each command and flag (the terms of the help, indented by two).
		if strings.HasPrefix(line, "  ") && !strings.HasPrefix(line, "   ") {
			term, _, _ := strings.Cut(strings.TrimSpace(line), "  ")
			if !strings.Contains(text, term) {
				t.Errorf("the man page lacks %q", term)
			}
		}
	}
	for _, section := range []string{"NAME", "SYNOPSIS", "COMMANDS", "OPTIONS", "EXIT STATUS", "FILES"} {
		if !strings.Contains(r.stdout, "\n"+section+"\n") {
			t.Errorf("the man page has no %s section", section)
		}
	}
	if _, err := os.Stat(page); err != nil {
		t.Error(err)
	}
}
