//go:build e2e

package ha

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"webservicemonitor/e2e/internal/rig"
	"webservicemonitor/internal/demo"
)

// TestDaemonsOverTLS runs the daemons against a cluster that serves clients
// over TLS only and requires a client certificate (--client-cert-auth), as
// etcd deployments do: two hosts with the right CA and client pair elect one
// actor, which restarts the demo's down tools, and the other takes over when
// it is killed; a third host whose etcd-ca did not sign the members'
// certificate never leads and never restarts anything.
func TestDaemonsOverTLS(t *testing.T) {
	cluster, pki := rig.StartEtcdClusterTLS(t, 3)
	root, world := demoPlatform(t)
	recorder := filepath.Join(t.TempDir(), "restarts")
	good := []*host{
		startTLSHost(t, root, world, cluster, recorder, "tls-a", pki.CA, pki),
		startTLSHost(t, root, world, cluster, recorder, "tls-b", pki.CA, pki),
	}
	stranger := startTLSHost(t, root, world, cluster, recorder, "tls-stranger", pki.OtherCA, pki)

	rig.WaitFor(t, 90*time.Second, "bravo restarted over TLS", func() (bool, string) {
		return restarts(t, recorder)["bravo"] >= 1, readFile(t, recorder)
	})
	actors := actingHosts(t, recorder)
	if len(actors) != 1 || actors[0] == stranger.name {
		t.Fatalf("hosts that restarted: %v; want exactly one of tls-a, tls-b", actors)
	}
	leader, standby := good[0], good[1]
	if actors[0] == standby.name {
		leader, standby = standby, leader
	}
	waitGauge(t, leader, 1)
	waitGauge(t, standby, 0)
	waitGauge(t, stranger, 0)

	leader.proc.Kill(syscall.SIGKILL)
	waitGauge(t, standby, 1)
	removeJobsOf(t, world, "tools.alpha")
	rig.WaitFor(t, 60*time.Second, "alpha restarted by "+standby.name, func() (bool, string) {
		return strings.Contains(readFile(t, recorder), standby.name+" alpha\n"), readFile(t, recorder)
	})
	waitGauge(t, stranger, 0)
	for _, h := range actingHosts(t, recorder) {
		if h == stranger.name {
			t.Errorf("%s, whose CA did not sign the members' certificate, restarted something:\n%s", h, readFile(t, recorder))
		}
	}
	t.Logf("recorder:\n%s", readFile(t, recorder))
}

// startTLSHost is startHost with the client certificate, its key and ca as
// the CA that verifies the members.
func startTLSHost(t *testing.T, root string, world *demo.World, cluster *rig.EtcdCluster, recorder, name, ca string, pki *rig.EtcdPKI) *host {
	t.Helper()
	return startHost(t, root, world, cluster, recorder, name,
		"--etcd-cert", pki.ClientCert, "--etcd-key", pki.ClientKey, "--etcd-ca", ca)
}

// removeJobsOf takes a tool's jobs off the demo grid, as if they died.
func removeJobsOf(t *testing.T, world *demo.World, owner string) {
	t.Helper()
	if err := world.Grid.Update(func(g *demo.Grid) error {
		jobs := g.Jobs[:0]
		for _, j := range g.Jobs {
			if j.Owner != owner {
				jobs = append(jobs, j)
			}
		}
		g.Jobs = jobs
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
