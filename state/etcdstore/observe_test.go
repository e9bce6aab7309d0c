package etcdstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"webservicemonitor/state"
)

func TestResult(t *testing.T) {
	var syntax *json.SyntaxError
	_ = json.Unmarshal([]byte("{"), &syntax)
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"nil", nil, ResultOK},
		{"fence refused", fmt.Errorf("committing: %w", ErrNotLeader), ResultNotLeader},
		{"no answer after retries", fmt.Errorf("writing: %w: %w", ErrUnavailable, context.DeadlineExceeded), ResultUnavailable},
		{"request timeout", context.DeadlineExceeded, ResultUnavailable},
		{"grpc unavailable", status.Error(codes.Unavailable, "connection refused"), ResultUnavailable},
		{"raft leader lost", rpctypes.ErrNoLeader, ResultUnavailable},
		{"lease gone: etcd answered", rpctypes.ErrLeaseNotFound, ResultError},
		{"a value that does not decode", fmt.Errorf("decoding: %w", errors.New("unexpected end of JSON input")), ResultError},
	}
	expired, cancel := context.WithDeadline(context.Background(), time.Unix(0, 0))
	defer cancel()
	tests = append(tests, struct {
		name string
		err  error
		want string
	}{"a 3.4 member's own deadline, as code Unknown", TimedOut(expired, status.Error(codes.Unknown, "context deadline exceeded")), ResultUnavailable})
	for _, tt := range tests {
		if got := Result(tt.err); got != tt.want {
			t.Errorf("%s: Result(%v) = %s, want %s", tt.name, tt.err, got, tt.want)
		}
	}
}

type recorder struct {
	mu  sync.Mutex
	got []string
}

func (r *recorder) StoreRequest(op string, took time.Duration, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, op+" "+Result(err))
}

// unreachable is a client of an endpoint nobody listens on (a port just
// closed): every request fails, without an etcd to start.
func unreachable(t *testing.T) *clientv3.Client {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{"http://" + addr}, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// Each operation is told once, whatever requests and retries it made, as
// etcd not answering; Export is a dump, not also a read; an operation a
// shutdown cancelled is not told.
func TestObserverToldOfEachOperation(t *testing.T) {
	keys, _ := NewKeys("/p/")
	s := New(unreachable(t), keys, 200*time.Millisecond)
	rec := &recorder{}
	s.Observer = rec
	ctx := context.Background()
	f := Fence{Key: keys.Election() + "/1", Rev: 1}
	_, _ = s.Read(ctx)
	_ = s.Commit(ctx, f, state.Changes{At: time.Now()})
	_, _ = s.FiringAlerts(ctx)
	_ = s.SetFiringAlerts(ctx, f, nil)
	_, _ = s.Export(ctx)
	_, _ = s.RecordAction(ctx, state.Action{Kind: state.ActionForget, Who: "alice", At: time.Now(), Tools: []string{"x"}, Reason: "fixed"})
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, _ = s.Read(cancelled)
	want := []string{"read unavailable", "commit unavailable", "alerts unavailable", "alerts unavailable", "dump unavailable", "action unavailable"}
	if !slices.Equal(rec.got, want) {
		t.Errorf("told %q, want %q", rec.got, want)
	}
}
