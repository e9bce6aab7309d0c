//go:build e2e

package e2epackage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"webservicemonitor/internal/demo"
)

// repoRoot is the repository, found from this file.
func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the repository")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// result is how a command ended.
type result struct {
	stdout, stderr string
	code           int
}

// runCmd runs argv with env added, under a deadline, stdin empty (so a
// prompt fails instead of hanging).
func runCmd(t *testing.T, env []string, argv ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("running %v: %v", argv, err)
	}
	return result{o.String(), e.String(), cmd.ProcessState.ExitCode()}
}

// buildBinaries builds the supervisor and the demo platform's tools.
func buildBinaries(t *testing.T) (monitorBin, demogridBin string) {
	t.Helper()
	dir := t.TempDir()
	monitorBin, demogridBin = filepath.Join(dir, "webservicemonitor"), filepath.Join(dir, "demogrid")
	for bin, pkg := range map[string]string{monitorBin: "webservicemonitor/cmd/webservicemonitor", demogridBin: "webservicemonitor/cmd/demogrid"} {
		if out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput(); err != nil {
			t.Fatalf("building %s: %v\n%s", pkg, err, out)
		}
	}
	return monitorBin, demogridBin
}

// demoWorld lays out the demo platform (homes, grid, proxy list) in a
// temporary directory, served until the test ends.
func demoWorld(t *testing.T, demogridBin string) *demo.World {
	t.Helper()
	world, stop, err := demo.Start(t.TempDir(), demogridBin, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return world
}

// copyFile copies src to dst (created, mode 0600).
func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

func fileSum(t *testing.T, path string) [32]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(data)
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}
