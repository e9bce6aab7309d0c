package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goreleaser/nfpm/v2/files"
)

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
// the package takes, with a small real ELF program as the binary.
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
	copyFile("/bin/true", filepath.Join(root, "bin", "webservicemonitor"))
	return root
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
		"/usr/share/doc/webservicemonitor/README.md": 0o644,
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

// TestPackageConfigMode builds the package and reads it back with dpkg-deb:
// the configuration is installed -rw-r----- root/root.
func TestPackageConfigMode(t *testing.T) {
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		t.Skip("no dpkg-deb to read the package with")
	}
	root := packageRoot(t)
	if err := os.Mkdir(filepath.Join(root, "out"), 0o755); err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	os.Stdout, _ = os.Open(os.DevNull) // run prints the package's path
	err := run([]string{"-root", root, "-version", "v1.0.0", "-commit", "abcdef0", "-out", "out"})
	os.Stdout = stdout
	if err != nil {
		t.Fatal(err)
	}
	debs, _ := filepath.Glob(filepath.Join(root, "out", "*.deb"))
	if len(debs) != 1 {
		t.Fatalf("packages built: %v", debs)
	}
	out, err := exec.Command("dpkg-deb", "-c", debs[0]).Output()
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
