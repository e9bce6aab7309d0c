//go:build e2e

package ha

import (
	"context"
	"errors"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"webservicemonitor/e2e/internal/rig"
	"webservicemonitor/state/etcdstore"
)

func clientWithPrefixCount() []clientv3.OpOption {
	return []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithCountOnly()}
}

// TestMembersDown: with one of three members paused or stopped the leader keeps its
// leadership and its writes land; with two stopped (no quorum) a write
// fails with ErrUnavailable before the caller's deadline and the leader
// stops leading; with the members back, a leader is elected again and
// writes land.
func TestMembersDown(t *testing.T) {
	cluster := rig.StartEtcdCluster(t, 3)
	keys := keysFor(t)
	a := startCandidate(t, "a", client(t, cluster.Endpoints(), nil), keys, 2*time.Second)
	fence := waitLeading(t, a, 30*time.Second)
	steps := []struct {
		name    string
		change  func()
		wantErr error // nil: the write lands
	}{
		{"all members up", func() {}, nil},
		{"one member paused (SIGSTOP)", func() { cluster.Pause(2) }, nil},
		{"paused member resumed (SIGCONT)", func() { cluster.Resume(2); cluster.WaitHealthy(60 * time.Second) }, nil},
		{"one member stopped", func() { cluster.Stop(0) }, nil},
		{"two members stopped", func() { cluster.Stop(1) }, etcdstore.ErrUnavailable},
	}
	for _, st := range steps {
		st.change()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		began := time.Now()
		err := put(ctx, a.store, fence, keys.Tool("t"), st.name)
		cancel()
		took := time.Since(began).Round(time.Millisecond)
		switch {
		case st.wantErr == nil && err != nil:
			t.Fatalf("%s: write failed after %s: %v", st.name, took, err)
		case st.wantErr != nil && !errors.Is(err, st.wantErr):
			t.Fatalf("%s: write returned %v after %s, want %v", st.name, err, took, st.wantErr)
		}
		t.Logf("%s: write took %s, error: %v", st.name, took, err)
	}
	// No quorum: no renewal, so the right to act lapses by itself.
	rig.WaitFor(t, 4*ttl, "a to stop leading without quorum", func() (bool, string) {
		_, ok := a.elector.Leading()
		return !ok, "still leading"
	})

	cluster.Start(0)
	cluster.Start(1)
	cluster.WaitHealthy(60 * time.Second)
	fence = waitLeading(t, a, 60*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := put(ctx, a.store, fence, keys.Tool("t"), "quorum back"); err != nil {
		t.Fatalf("write after quorum returned: %v", err)
	}
}
