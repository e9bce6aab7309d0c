//go:build e2e

package ha

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"webservicemonitor/e2e/internal/rig"
	"webservicemonitor/ha"
	"webservicemonitor/state/etcdstore"
)

// TestTakeover: a leader writes, a second candidate waits; when the
// leader's session ends (closed, or its lease expires while the host is
// paused) the second takes over within the lease TTL, and the old
// leader's write fenced on its old election key is refused — even one
// it had already sent while it was paused.
func TestTakeover(t *testing.T) {
	cluster := rig.StartEtcdCluster(t, 3)
	cases := []struct {
		name string
		// end ends a's leadership; the returned func runs once b leads
		// and returns a's write made with its old fence.
		end func(t *testing.T, a *candidate, g *gate, fence etcdstore.Fence) func() error
	}{
		{
			name: "session closed",
			end: func(t *testing.T, a *candidate, _ *gate, fence etcdstore.Fence) func() error {
				a.stop() // revokes the lease: the election key goes at once
				return func() error {
					return put(context.Background(), a.store, fence, a.store.Keys().Tool("t"), "from a, deposed")
				}
			},
		},
		{
			name: "paused past the lease",
			end: func(t *testing.T, a *candidate, g *gate, fence etcdstore.Fence) func() error {
				g.Close() // no keepalive, and the write below waits in the gate
				inFlight := make(chan error, 1)
				go func() {
					inFlight <- put(context.Background(), a.store, fence, a.store.Keys().Tool("t"), "from a, in flight")
				}()
				return func() error {
					if _, ok := a.elector.Leading(); ok {
						t.Errorf("a still says it leads after b won")
					}
					g.Open()
					return <-inFlight
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			keys := keysFor(t)
			g := newGate()
			// a's requests may wait in the gate while it is paused: long
			// enough a timeout that the write is still in flight when it
			// opens.
			a := startCandidate(t, "a", client(t, cluster.Endpoints(), g), keys, 60*time.Second)
			fence := waitLeading(t, a, 30*time.Second)
			b := startCandidate(t, "b", client(t, cluster.Endpoints(), nil), keys, 5*time.Second)

			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := put(ctx, a.store, fence, keys.Tool("t"), "from a"); err != nil {
				t.Fatalf("the leader's write: %v", err)
			}
			if _, ok := b.elector.Leading(); ok {
				t.Fatalf("b leads while a does")
			}
			if info, ok, err := b.elector.Leader(ctx); err != nil || !ok || info.Host != "a" {
				t.Fatalf("b sees leader %+v (%v, %v), want a", info, ok, err)
			}

			lateWrite := tc.end(t, a, g, fence)
			began := time.Now()
			bFence := waitLeading(t, b, 4*ttl)
			t.Logf("b took over %s after a's leadership ended (ttl %s)", time.Since(began).Round(time.Millisecond), ttl)

			if err := lateWrite(); !errors.Is(err, ha.ErrNotLeader) {
				t.Fatalf("deposed leader's fenced write: %v, want ErrNotLeader", err)
			} else {
				t.Logf("deposed leader's write refused: %v", err)
			}
			if err := put(ctx, b.store, bFence, keys.Tool("t"), "from b"); err != nil {
				t.Fatalf("the new leader's write: %v", err)
			}
			if got := value(t, b.cli, keys.Tool("t")); got != "from b" {
				t.Errorf("stored value %q, want the new leader's", got)
			}
		})
	}
}

// TestChunkedWrite: a write over etcd's 128 operations per transaction
// lands whole, in chunks, each fenced.
func TestChunkedWrite(t *testing.T) {
	cluster := rig.StartEtcdCluster(t, 3)
	keys := keysFor(t)
	a := startCandidate(t, "a", client(t, cluster.Endpoints(), nil), keys, 5*time.Second)
	fence := waitLeading(t, a, 30*time.Second)
	var writes []etcdstore.Write
	for i := range 1000 {
		writes = append(writes, etcdstore.Write{Key: keys.Tool(fmt.Sprintf("tool%04d", i)), Value: []byte(`{"attempts":[]}`)})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := a.store.Write(ctx, fence, writes); err != nil {
		t.Fatalf("writing 1000 keys: %v", err)
	}
	resp, err := a.cli.Get(ctx, keys.Tools(), clientWithPrefixCount()...)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Count != 1000 {
		t.Errorf("%d keys stored, want 1000", resp.Count)
	}
}
