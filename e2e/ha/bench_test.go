//go:build e2e

package ha

import (
	"context"
	"fmt"
	"testing"
	"time"

	"webservicemonitor/e2e/internal/rig"
	"webservicemonitor/state"
	"webservicemonitor/state/etcdstore"
)

// BenchmarkEtcdRead is what every host pays each cycle to read the shared
// history (one revision, pages of 5000 keys) from a 3-member cluster on
// this machine, at the platform sizes of the README's performance table:
// every tool has a record, 5 % of them with two restart attempts.
//
//	go test -tags e2e -run '^$' -bench EtcdRead -benchmem ./e2e/ha/
func BenchmarkEtcdRead(b *testing.B) {
	cluster := rig.StartEtcdCluster(b, 3)
	for _, tools := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("tools=%d", tools), func(b *testing.B) {
			store := seededStore(b, cluster, tools)
			b.ResetTimer()
			for b.Loop() {
				snap, err := store.Read(context.Background())
				if err != nil || len(snap.Records) != tools {
					b.Fatalf("read %d records: %v", len(snap.Records), err)
				}
			}
		})
	}
}

// seededStore is a store holding a history of n tools, imported by a
// leader of its own prefix.
func seededStore(b *testing.B, cluster *rig.EtcdCluster, n int) *etcdstore.Store {
	b.Helper()
	keys := keysFor(b)
	c := startCandidate(b, "bench", client(b, cluster.Endpoints(), nil), keys, 30*time.Second)
	fence := waitLeading(b, c, 30*time.Second)
	at := time.Date(2026, 11, 30, 4, 0, 0, 0, time.UTC)
	var d state.Dump
	for i := range n {
		r := state.ToolRecord{UpSince: at.Add(-time.Hour), LastSeenUp: at}
		if i%20 == 0 {
			for k := range 2 {
				r.Attempts = append(r.Attempts, state.Attempt{At: at.Add(time.Duration(k) * time.Minute), Outcome: state.OutcomeSucceeded,
					Reason: "no lighttpd-tool job on the grid", Duration: 3 * time.Second, Host: "cron-a"})
			}
		}
		d.Records = append(d.Records, state.ToolHistory{Tool: fmt.Sprintf("tool%06d", i), Record: r})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := c.store.Import(ctx, fence, d, false); err != nil {
		b.Fatalf("seeding %d tools: %v", n, err)
	}
	return c.store
}
