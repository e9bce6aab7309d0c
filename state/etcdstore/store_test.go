package etcdstore

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// What is worth sending again: etcd (or the way to it) not answering in
// time, in each of the forms a 3.4 member or the client gives it; never a
// refusal, which a retry would only repeat.
func TestRetryable(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"the request's own deadline", fmt.Errorf("txn: %w", context.DeadlineExceeded), true},
		{"no member reachable", status.Error(codes.Unavailable, "connection refused"), true},
		{"a deadline status", status.Error(codes.DeadlineExceeded, "context deadline exceeded"), true},
		{"the deadline sent back by an etcd 3.4 member", status.Error(codes.Unknown, "context deadline exceeded"), true},
		{"etcd lost its raft leader", rpctypes.ErrLeaderChanged, true},
		{"etcd without a leader", rpctypes.ErrNoLeader, true},
		{"another unknown error", status.Error(codes.Unknown, "something else"), false},
		{"a refusal: duplicate key", rpctypes.ErrDuplicateKey, false},
		{"a refusal: too many operations", rpctypes.ErrTooManyOps, false},
		{"not the leader", ErrNotLeader, false},
		{"anything else", errors.New("decoding a record"), false},
	}
	for _, tt := range tests {
		if got := retryable(tt.err); got != tt.want {
			t.Errorf("%s (%v): retryable %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
}
