package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goreleaser/nfpm/v2/files"
)

// fakeHelpEnv makes this test binary act as webservicemonitor printing its
// help (testdata/program-help.txt; a command's help: its usage line alone,
// but pause's, testdata/command-help-pause.txt), so that a package can be
// built in a test without building the real program.
const fakeHelpEnv = "MKDEB_TEST_FAKE_HELP"

func TestMain(m *testing.M) {
	if dir := os.Getenv(fakeHelpEnv); dir != "" {
		os.Exit(fakeHelp(dir, os.Args[1:]))
	}
	os.Exit(m.Run())
}

func fakeHelp(dir string, args []string) int {
	file := "program-help.txt"
	if len(args) > 1 && args[0] == "help" {
		if args[1] != "pause" {
			fmt.Printf("usage: webservicemonitor %s\n\n%s does something\n", strings.Join(args[1:], " "), args[1])
			return 0
		}
		file = "command-help-pause.txt"
	}
	data, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	os.Stdout.Write(data)
	return 0
}

func TestDebianVersion(t *testing.T) {
	tests := []struct {
		describe string
		commits  int
		want     string // "" = refused
	}{
		{"v1.2.3", 0, "1.2.3"},
		{"1.2", 0, "1.2"},
		{"v1.2.3-dirty", 0, "1.2.3+dirty"},
		{"v1.2.3-4-gabcdef0", 0, "1.2.3+4.gabcdef0"},
		{"v1.2.3-4-gabcdef0-dirty", 0, "1.2.3+4.gabcdef0.dirty"},
		{"v1.3.0-rc1", 0, "1.3.0~rc1"},
		{"v1.3.0-rc1-2-g1234567", 0, "1.3.0~rc1+2.g1234567"},
		{"556cfed", 4, "0.0.0+4.g556cfed"},
		{"abcdef0-dirty", 12, "0.0.0+12.gabcdef0.dirty"},
		{"1234567", 9, "0.0.0+9.g1234567"}, // an all-digit hash is not a tag
		{"v1234567", 0, "1234567"},
		{"dev", 0, "0.0.0+dev"},
		{"", 0, ""},
		{"release one", 0, ""},
		{"v1.2.3_x", 0, ""},
	}
	for _, tt := range tests {
		got, err := DebianVersion(tt.describe, tt.commits)
		if tt.want == "" {
			if err == nil {
				t.Errorf("DebianVersion(%q) = %q, want refused", tt.describe, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("DebianVersion(%q, %d) = %q, %v; want %q", tt.describe, tt.commits, got, err, tt.want)
		}
	}
}

// TestDebianVersionOrder checks with dpkg itself that the versions sort the
// way the history goes.
func TestDebianVersionOrder(t *testing.T) {
	if _, err := exec.LookPath("dpkg"); err != nil {
		t.Skip("no dpkg to compare versions with")
	}
	history := []struct {
		describe string
		commits  int
	}{
		{"abcdef0", 3}, {"1234567", 10}, {"v1.0.0-rc1", 0}, {"v1.0.0", 0}, {"v1.0.0-1-gfedcba9", 0},
		{"v1.0.0-1-gfedcba9-dirty", 0}, {"v1.0.0-2-g0000000", 0}, {"v1.1.0", 0},
	}
	var prev string
	for _, h := range history {
		v, err := DebianVersion(h.describe, h.commits)
		if err != nil {
			t.Fatal(err)
		}
		if prev != "" {
			if err := exec.Command("dpkg", "--compare-versions", v, "gt", prev).Run(); err != nil {
				t.Errorf("dpkg does not order %s (%s) after %s", v, h.describe, prev)
			}
		}
		prev = v
	}
}

// packageRoot builds a repository root in a temp dir holding every file
// the package takes, with this test program as the binary (see TestMain),
// in a git repository of two commits, the first tagged v1.0.0.
func packageRoot(t *testing.T) string {
	t.Helper()
	repo, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	copyFile := func(src, dst string) {
		t.Helper()
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, glob := range []string{"README.md", "deploy/config.yaml", "deploy/systemd/*.service", "deploy/debian/*",
		"deploy/prometheus/*.rules.yml", "deploy/grafana/*.json"} {
		matches, _ := filepath.Glob(filepath.Join(repo, glob))
		for _, m := range matches {
			rel, _ := filepath.Rel(repo, m)
			copyFile(m, filepath.Join(root, rel))
		}
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	copyFile(self, filepath.Join(root, "bin", "webservicemonitor"))
	if err := os.Chmod(filepath.Join(root, "bin", "webservicemonitor"), 0o755); err != nil {
		t.Fatal(err)
	}
	testdata, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(fakeHelpEnv, testdata)
	gitHistory(t, root)
	return root
}

// gitHistory commits root's files in two commits at fixed times, the
// first tagged v1.0.0.
func gitHistory(t *testing.T, root string) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git to make a history with")
	}
	steps := []struct {
		date string
		args []string
	}{
		{"", []string{"init", "-q"}},
		{"", []string{"add", "README.md"}},
		{"2026-01-02T10:00:00Z", []string{"commit", "-q", "-m", "First release"}},
		{"", []string{"tag", "v1.0.0"}},
		{"", []string{"add", "."}},
		{"2026-01-03T11:00:00Z", []string{"commit", "-q", "-m", "Package the rest"}},
	}
	for _, s := range steps {
		cmd := exec.Command("git", append([]string{"-C", root}, s.args...)...)
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@tools.example",
			"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@tools.example", "GIT_CONFIG_GLOBAL=/dev/null",
			"GIT_AUTHOR_DATE="+s.date, "GIT_COMMITTER_DATE="+s.date)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", s.args, err, out)
		}
	}
}

// TestContentsModes: every installed file's mode and owner; the
// configuration, which may hold URLs with credentials, is root's alone.
func TestContentsModes(t *testing.T) {
	root := packageRoot(t)
	contents, err := Contents(root, "bin/webservicemonitor")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]os.FileMode{
		"/usr/bin/webservicemonitor":                    0o755,
		"/lib/systemd/system/webservicemonitor.service": 0o644,
		ConfigFile: 0o640,
	}
	for _, c := range contents {
		if c.FileInfo == nil || c.FileInfo.Owner != "root" || c.FileInfo.Group != "root" {
			t.Errorf("%s: file info %+v, want owned by root:root", c.Destination, c.FileInfo)
			continue
		}
		m, ok := want[c.Destination]
		if !ok {
			m = 0o644 // the rules and dashboards
		}
		if c.FileInfo.Mode != m {
			t.Errorf("%s: mode %#o, want %#o", c.Destination, c.FileInfo.Mode, m)
		}
		if isConfig := c.Type == files.TypeConfig; isConfig != (c.Destination == ConfigFile) {
			t.Errorf("%s: conffile %v", c.Destination, isConfig)
		}
	}
}

// buildPackage runs mkdeb on root into root/out (made empty first) and
// returns the package's path.
func buildPackage(t *testing.T, root string) string {
	t.Helper()
	out := filepath.Join(root, "out")
	if err := os.RemoveAll(out); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	os.Stdout, _ = os.Open(os.DevNull) // run prints the package's path
	err := run([]string{"-root", root, "-version", "v1.0.0-1-gabcdef0", "-commit", "abcdef0", "-commits", "2", "-out", "out"})
	os.Stdout = stdout
	if err != nil {
		t.Fatal(err)
	}
	debs, _ := filepath.Glob(filepath.Join(out, "*.deb"))
	if len(debs) != 1 {
		t.Fatalf("packages built: %v", debs)
	}
	return debs[0]
}

// TestPackageReproducible builds the package twice from the same tree at
// different times: the same bytes (SOURCE_DATE_EPOCH, the changelog's and
// man page's dates from the history, gzip without names or times).
func TestPackageReproducible(t *testing.T) {
	root := packageRoot(t)
	t.Setenv("SOURCE_DATE_EPOCH", "1767438000")
	first, err := os.ReadFile(buildPackage(t, root))
	if err != nil {
		t.Fatal(err)
	}
	second, err := os.ReadFile(buildPackage(t, root))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, second) {
		t.Error("two builds of the same tree differ")
	}
}

// TestPackageConfigMode builds the package and reads it back with dpkg-deb:
// the configuration is installed -rw-r----- root/root.
func TestPackageConfigMode(t *testing.T) {
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		t.Skip("no dpkg-deb to read the package with")
	}
	deb := buildPackage(t, packageRoot(t))
	out, err := exec.Command("dpkg-deb", "-c", deb).Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) >= 6 && f[len(f)-1] == "."+ConfigFile {
			if got := f[0] + " " + f[1]; got != "-rw-r----- root/root" {
				t.Errorf("%s: %s, want -rw-r----- root/root", ConfigFile, got)
			}
			return
		}
	}
	t.Errorf("%s not in the package:\n%s", ConfigFile, out)
}

// TestPostinstProtectsConfig runs postinst's protect_config on
// configurations of each mode: others lose every access, nothing else
// changes, and a missing file is no error.
func TestPostinstProtectsConfig(t *testing.T) {
	script, err := os.ReadFile(filepath.Join("..", "debian", "postinst"))
	if err != nil {
		t.Fatal(err)
	}
	// The functions only: the script's own run would configure this machine.
	var fn strings.Builder
	in := false
	for _, line := range strings.Split(string(script), "\n") {
		if strings.HasPrefix(line, "say()") || strings.HasPrefix(line, "protect_config()") {
			in = true
		}
		if in {
			fn.WriteString(line + "\n")
		}
		if line == "}" || strings.HasPrefix(line, "say()") {
			in = false
		}
	}
	if !strings.Contains(fn.String(), "protect_config()") {
		t.Fatal("postinst has no protect_config function")
	}
	tests := []struct {
		mode, want os.FileMode
		said       bool
	}{
		{0o644, 0o640, true},
		{0o666, 0o660, true},
		{0o604, 0o600, true},
		{0o640, 0o640, false},
		{0o600, 0o600, false},
	}
	for _, tt := range tests {
		config := filepath.Join(t.TempDir(), "config.yaml")
		if err := os.WriteFile(config, []byte("homes: /data/project\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(config, tt.mode); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("sh", "-ec", fn.String()+"protect_config\n")
		cmd.Env = append(os.Environ(), "CONFIG="+config)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("mode %#o: %v\n%s", tt.mode, err, out)
		}
		fi, err := os.Stat(config)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != tt.want {
			t.Errorf("mode %#o became %#o, want %#o", tt.mode, fi.Mode().Perm(), tt.want)
		}
		if said := strings.Contains(string(out), "no longer is"); said != tt.said {
			t.Errorf("mode %#o: said %q", tt.mode, out)
		}
	}
	cmd := exec.Command("sh", "-ec", fn.String()+"protect_config\n")
	cmd.Env = append(os.Environ(), "CONFIG="+filepath.Join(t.TempDir(), "missing.yaml"))
	if out, err := cmd.CombinedOutput(); err != nil || len(out) != 0 {
		t.Errorf("missing configuration: %v %q", err, out)
	}
}
