package ha

import (
	"context"
	"errors"
	"testing"
	"time"

	"webservicemonitor/monitor"
	"webservicemonitor/state"
	"webservicemonitor/state/etcdstore"
)

// notLeading is a host that lost (or never had) the leadership.
type notLeading struct{ lost []string }

func (n *notLeading) Leading() (etcdstore.Fence, bool) { return etcdstore.Fence{}, false }
func (n *notLeading) Lost(reason string)               { n.lost = append(n.lost, reason) }

// TestEtcdHistoryWithoutLeadershipSendsNothing: without the leadership the
// acting history neither reads nor writes (the store is nil: any request
// would panic), and says why in terms the cycle stops on.
func TestEtcdHistoryWithoutLeadershipSendsNothing(t *testing.T) {
	h := EtcdHistory{Leader: &notLeading{}}
	ch := state.Changes{At: time.Now(), Put: map[string]state.ToolRecord{"x": {}}}
	ctx := context.Background()
	_, readErr := h.Read(ctx)
	cases := map[string]error{
		"Read":           readErr,
		"RecordAttempts": h.RecordAttempts(ctx, ch),
		"RecordOutcomes": h.RecordOutcomes(ctx, ch),
	}
	for name, err := range cases {
		if !errors.Is(err, monitor.ErrStateUnavailable) || !errors.Is(err, ErrNotLeader) || !errors.Is(err, monitor.ErrNotLeader) {
			t.Errorf("%s: error %v, want one matching ErrStateUnavailable, ErrNotLeader and monitor.ErrNotLeader", name, err)
		}
	}
}

func TestEtcdHistoryReadOnlyNeverRecords(t *testing.T) {
	h := EtcdHistory{ReadOnly: true}
	if err := h.RecordAttempts(context.Background(), state.Changes{}); !errors.Is(err, monitor.ErrStateUnavailable) {
		t.Errorf("read-only RecordAttempts: %v, want a refusal matching ErrStateUnavailable", err)
	}
}
