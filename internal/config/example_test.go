package config

import (
	"bufio"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// exampleConfig is the file the Debian package installs as
// /etc/webservicemonitor/config.yaml.
const exampleConfig = "../../deploy/config.yaml"

// TestExampleConfigListsEveryKey: a key added to keys() without a line in
// the example fails here, as does a default changed in one place only.
func TestExampleConfigListsEveryKey(t *testing.T) {
	raw, err := readFile(exampleConfig, keys())
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys() {
		v, ok := raw[k.name]
		switch {
		case !k.fileOK:
			// readFile already refuses modes; nothing to list.
		case !ok:
			t.Errorf("key %s is missing from %s: add it with its default %q and a one-line comment", k.name, exampleConfig, k.def)
		case v != k.def:
			t.Errorf("%s: %s says %q, the default is %q", k.name, exampleConfig, v, k.def)
		}
	}
}

var keyLine = regexp.MustCompile(`^([a-z][a-z0-9-]*):`)

func TestExampleConfigCommentsEveryKey(t *testing.T) {
	f, err := os.Open(exampleConfig)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		if m := keyLine.FindStringSubmatch(sc.Text()); m != nil && !strings.Contains(sc.Text(), " # ") {
			t.Errorf("%s:%d: key %s has no comment saying what it does", exampleConfig, n, m[1])
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
}

// TestExampleConfigLoads is --check-config on the example, with flags only
// for what must exist on the machine (the project file, qstat, sudo, the
// state directory), exactly as the package's postinst runs it.
func TestExampleConfigLoads(t *testing.T) {
	project, _ := filepath.Abs("testdata/project")
	cfg, err := Load([]string{"--config", exampleConfig, "--check-config",
		"--project-file", project, "--qstat", "/bin/echo", "--restart-command", "/bin/true {account}",
		"--qstat-job", "/bin/echo {job}", "--clear-command", "/bin/true {job}",
		"--state-file", filepath.Join(t.TempDir(), "state.db")}, io.Discard)
	if err != nil {
		t.Fatalf("the example configuration is refused: %v", err)
	}
	if !cfg.CheckConfig || cfg.Homes != "/data/project" || cfg.Interval.String() != "1m0s" {
		t.Errorf("example loaded as %+v", cfg)
	}
}
