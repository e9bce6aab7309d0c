//go:build e2e

package ha

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"webservicemonitor/e2e/internal/rig"
	"webservicemonitor/ha"
	"webservicemonitor/state"
	"webservicemonitor/state/etcdstore"
)

// TestActionAnswers: an admin action whose write etcd applied but whose
// answer never came back is reported as perhaps recorded (ErrAnswerLost:
// running the command again could record it twice), and it is indeed
// there; an action that failed before its write was sent is reported as
// not recorded, and is not there.
func TestActionAnswers(t *testing.T) {
	cluster := rig.StartEtcdCluster(t, 3)
	tests := []struct {
		name     string
		cut      string // the gRPC method whose answer is lost
		lost     bool   // ErrAnswerLost expected
		recorded bool   // the action is stored afterwards
	}{
		{"the write's answer lost", "/etcdserverpb.KV/Txn", true, true},
		{"the ID's read failed", "/etcdserverpb.KV/Range", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys := keysFor(t)
			s := etcdstore.New(answerLosingClient(t, cluster.Endpoints(), tt.cut), keys, 5*time.Second)
			_, err := s.RecordAction(context.Background(), state.Action{Kind: state.ActionForget, Tools: []string{"echo"}, Who: "alice", At: at})
			if err == nil || !errors.Is(err, etcdstore.ErrUnavailable) || errors.Is(err, etcdstore.ErrAnswerLost) != tt.lost {
				t.Fatalf("RecordAction: %v; want unavailable, answer lost: %v", err, tt.lost)
			}
			snap := read(t, ha.EtcdHistory{Store: etcdstore.New(client(t, cluster.Endpoints(), nil), keys, 5*time.Second), ReadOnly: true})
			if got := len(snap.Actions) == 1; got != tt.recorded {
				t.Errorf("actions stored after %q: %v, want recorded %v (%v)", err, snap.Actions, tt.recorded, err)
			}
			if tt.lost && !strings.Contains(err.Error(), "answer was lost") {
				t.Errorf("the error does not say the answer was lost: %v", err)
			}
		})
	}
}

// answerLosingClient is a client whose calls of method reach etcd, but
// whose answers are replaced by a timeout, as a connection that dropped
// after the request went out would leave them.
func answerLosingClient(t *testing.T, endpoints []string, method string) *clientv3.Client {
	t.Helper()
	lose := func(ctx context.Context, m string, req, reply any, cc *grpc.ClientConn, invoke grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		err := invoke(ctx, m, req, reply, cc, opts...)
		if m == method {
			return status.Error(codes.DeadlineExceeded, "context deadline exceeded (the answer was dropped by the test)")
		}
		return err
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop(),
		DialOptions: []grpc.DialOption{grpc.WithChainUnaryInterceptor(lose)}})
	if err != nil {
		t.Fatalf("connecting to etcd %v: %v", endpoints, err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}
