//go:build e2e

package ha

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"webservicemonitor/internal/demo"
)

// demoPlatform is the repository's root, whose bin/ holds the built
// daemon and demo grid, and the demo platform the daemons run against,
// stopped at the test's end.
func demoPlatform(t *testing.T) (root string, world *demo.World) {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	for _, bin := range []string{"webservicemonitor", "demogrid"} {
		if _, err := os.Stat(filepath.Join(root, "bin", bin)); err != nil {
			t.Fatalf("bin/%s missing: run make build first: %v", bin, err)
		}
	}
	world, stop, err := demo.Start(t.TempDir(), filepath.Join(root, "bin", "demogrid"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return root, world
}
