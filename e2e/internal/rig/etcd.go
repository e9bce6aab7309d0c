package rig

import (
	"fmt"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// EtcdCluster is a cluster of Debian's etcd (etcd-server) members on
// 127.0.0.1, each with a data dir in the test's temp dir, started and
// stopped by PID.
type EtcdCluster struct {
	t       testing.TB
	bin     string
	token   string
	members []*EtcdMember
	pki     *EtcdPKI // nil: clients over plain http
}

// EtcdMember is one member: its ports, data dir and process (nil while
// stopped).
type EtcdMember struct {
	Name    string
	Client  string // host:port of the client URL
	Peer    string // host:port of the peer URL
	DataDir string
	Proc    *Proc
	started bool // has run once: a restart joins the existing cluster
}

// StartEtcdCluster starts n members and waits until every one is healthy.
// The test is skipped when etcd is not installed (e2e/observability/install.sh etcd-server).
func StartEtcdCluster(t testing.TB, n int) *EtcdCluster {
	t.Helper()
	return startEtcdCluster(t, n, nil)
}

func startEtcdCluster(t testing.TB, n int, pki *EtcdPKI) *EtcdCluster {
	t.Helper()
	bin, err := exec.LookPath("etcd")
	if err != nil {
		t.Fatalf("etcd is not installed (e2e/observability/install.sh etcd-server): %v", err)
	}
	c := &EtcdCluster{t: t, bin: bin, token: fmt.Sprintf("wsm-e2e-%d", rand.Int64()), pki: pki}
	dir := t.TempDir()
	for i := range n {
		c.members = append(c.members, &EtcdMember{
			Name:    fmt.Sprintf("m%d", i+1),
			Client:  FreePort(t),
			Peer:    FreePort(t),
			DataDir: filepath.Join(dir, fmt.Sprintf("m%d", i+1)),
		})
	}
	for i := range c.members {
		c.Start(i)
	}
	c.WaitHealthy(60 * time.Second)
	return c
}

// Endpoints are the members' client URLs.
func (c *EtcdCluster) Endpoints() []string {
	var out []string
	for _, m := range c.members {
		out = append(out, c.clientScheme()+m.Client)
	}
	return out
}

// Member is the i-th member (0-based).
func (c *EtcdCluster) Member(i int) *EtcdMember { return c.members[i] }

func (c *EtcdCluster) initialCluster() string {
	var parts []string
	for _, m := range c.members {
		parts = append(parts, m.Name+"=http://"+m.Peer)
	}
	return strings.Join(parts, ",")
}

// Start starts member i, or starts it again (same data dir) after Stop.
func (c *EtcdCluster) Start(i int) {
	c.t.Helper()
	m := c.members[i]
	state := "new"
	if m.started {
		state = "existing"
	}
	client := c.clientScheme() + m.Client
	argv := []string{c.bin,
		"--name", m.Name, "--data-dir", m.DataDir,
		"--listen-client-urls", client, "--advertise-client-urls", client,
		"--listen-peer-urls", "http://" + m.Peer, "--initial-advertise-peer-urls", "http://" + m.Peer,
		"--initial-cluster", c.initialCluster(), "--initial-cluster-state", state,
		"--initial-cluster-token", c.token,
		"--logger", "zap", "--log-outputs", "stderr",
		"--auto-compaction-mode", "revision", "--auto-compaction-retention", "1000"}
	m.Proc = Start(c.t, "etcd-"+m.Name, append(argv, c.tlsFlags()...)...)
	m.started = true
}

// Stop stops member i (SIGTERM by PID, waiting until it exited).
func (c *EtcdCluster) Stop(i int) {
	m := c.members[i]
	if m.Proc != nil {
		m.Proc.Signal(syscall.SIGCONT) // a paused member would not see the TERM
		m.Proc.Kill(syscall.SIGTERM)
		m.Proc = nil
	}
}

// Pause freezes member i (SIGSTOP): it holds its connections but answers
// nothing, as a hung host would.
func (c *EtcdCluster) Pause(i int) { c.members[i].Proc.Signal(syscall.SIGSTOP) }

// Resume lets a paused member run again (SIGCONT).
func (c *EtcdCluster) Resume(i int) { c.members[i].Proc.Signal(syscall.SIGCONT) }

// WaitHealthy waits until every running member says it is healthy (which
// needs a quorum and a raft leader).
func (c *EtcdCluster) WaitHealthy(timeout time.Duration) {
	c.t.Helper()
	for _, m := range c.members {
		if m.Proc == nil {
			continue
		}
		WaitFor(c.t, timeout, "etcd member "+m.Name+" healthy", func() (bool, string) {
			if m.Proc.Exited() {
				c.t.Fatalf("etcd member %s exited; its log:\n%s", m.Name, Tail(m.Proc.Log, 30))
			}
			code, body, err := c.health(m)
			if err != nil {
				return false, err.Error()
			}
			return code == 200 && strings.Contains(string(body), `"health":"true"`), fmt.Sprintf("HTTP %d %.100s", code, body)
		})
	}
}
