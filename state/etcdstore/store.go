package etcdstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ErrNotLeader is why a fenced write was refused: the writer's election
// key is gone (its lease expired or was revoked) or is not the one it won.
var ErrNotLeader = errors.New("not the leader any more")

// ErrUnavailable is why a write got no answer: etcd unreachable, or
// without a quorum of members, for longer than the request timeout.
var ErrUnavailable = errors.New("etcd did not answer (unreachable, or no quorum of members up)")

// ErrAnswerLost is a write sent whose answer did not come back: etcd may
// have applied it. Only what is not safe to send twice says so.
var ErrAnswerLost = errors.New("the answer was lost")

// Fence is the right to write: the leader's election key and the create
// revision it had when this process won. Only the process that created
// the key can hold both, and they hold only while its lease lives.
type Fence struct {
	Key string
	Rev int64
}

func (f Fence) String() string { return fmt.Sprintf("%s@%d", f.Key, f.Rev) }

// Store is the supervisor's state in etcd, under one prefix.
type Store struct {
	cli        *clientv3.Client
	keys       Keys
	reqTimeout time.Duration

	// Observer, when not nil, is told how each operation went (set it
	// before the store is used).
	Observer Observer
}

// Observer is told of each of the store's operations, and of the
// elector's requests, as they end: which, how long it took (retries
// included), and its error. Operations a shutdown cancelled are not told.
type Observer interface {
	StoreRequest(op string, took time.Duration, err error)
}

// The operations an Observer is told of: a small fixed set, for metric
// labels.
const (
	OpRead      = "read"      // the history (Read)
	OpCommit    = "commit"    // a cycle's changes (Commit)
	OpAction    = "action"    // an admin action (RecordAction)
	OpAlerts    = "alerts"    // the firing alerts (FiringAlerts, SetFiringAlerts)
	OpDump      = "dump"      // Export, Import
	OpCampaign  = "campaign"  // the elector's session (a lease grant) and a failed campaign
	OpKeepAlive = "keepalive" // the elector's lease renewals while it leads
)

// Ops lists the operations, for metrics to show each before its first.
func Ops() []string {
	return []string{OpRead, OpCommit, OpAction, OpAlerts, OpDump, OpCampaign, OpKeepAlive}
}

// Results of an operation, as Result classes its error.
const (
	ResultOK          = "ok"
	ResultNotLeader   = "not-leader"  // etcd answered: the fence did not hold
	ResultUnavailable = "unavailable" // etcd did not answer in time (down, no quorum, unreachable)
	ResultError       = "error"       // anything else (a value that does not decode, a refusal)
)

// Results lists the results, for metrics.
func Results() []string {
	return []string{ResultOK, ResultNotLeader, ResultUnavailable, ResultError}
}

// Result classes an operation's error: only ResultUnavailable means etcd
// could not be reached (a refusal is an answer).
func Result(err error) string {
	switch {
	case err == nil:
		return ResultOK
	case errors.Is(err, ErrNotLeader):
		return ResultNotLeader
	case errors.Is(err, ErrUnavailable), retryable(err):
		return ResultUnavailable
	}
	return ResultError
}

// observe tells the observer of op, begun at start, which ended with
// *err; deferred by each operation. A shutdown's cancellation is not the
// store's health: not told.
func (s *Store) observe(ctx context.Context, op string, start time.Time, err *error) {
	if s.Observer != nil && !errors.Is(ctx.Err(), context.Canceled) {
		s.Observer.StoreRequest(op, time.Since(start), *err)
	}
}

// New is a Store on a connected client; every single request is bounded by
// reqTimeout (the caller's context bounds the sum).
func New(cli *clientv3.Client, keys Keys, reqTimeout time.Duration) *Store {
	return &Store{cli: cli, keys: keys, reqTimeout: reqTimeout}
}

// Keys is the store's key layout.
func (s *Store) Keys() Keys { return s.keys }

// Write applies writes, in order, as fenced transactions of at most
// maxChunkOps operations each. Each chunk lands whole or not at all; a
// write over several chunks can land partly if the leadership ends between
// two (callers order their writes so that a prefix of them is harmless).
func (s *Store) Write(ctx context.Context, f Fence, writes []Write) error {
	chunks, err := planChunks(writes, maxChunkOps, maxChunkBytes)
	if err != nil {
		return fmt.Errorf("writing to etcd: %w", err)
	}
	for i, chunk := range chunks {
		if err := s.fencedTxn(ctx, f, chunk); err != nil {
			return fmt.Errorf("writing to etcd (part %d of %d, %d keys from %s): %w",
				i+1, len(chunks), len(chunk), chunk[0].Key, err)
		}
	}
	return nil
}

// retries is how many more times a chunk is sent after etcd did not answer
// or lost its own leader: the same compare and operations, so a retry of a
// chunk that did land is harmless.
const retries = 2

// fencedTxn sends one chunk, fenced on f, retrying what is worth retrying.
func (s *Store) fencedTxn(ctx context.Context, f Fence, chunk []Write) error {
	ops := make([]clientv3.Op, len(chunk))
	cmps := []clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(f.Key), "=", f.Rev)}
	// The else branch reads the election key and every key that must
	// exist, to tell a lost leadership from a missing key.
	elseOps := []clientv3.Op{clientv3.OpGet(f.Key)}
	var mustExist []string
	for i, w := range chunk {
		ops[i] = w.op()
		if w.MustExist {
			cmps = append(cmps, clientv3.Compare(clientv3.Version(w.Key), ">", 0))
			elseOps = append(elseOps, clientv3.OpGet(w.Key, clientv3.WithCountOnly()))
			mustExist = append(mustExist, w.Key)
		}
	}
	var err error
	for try := 0; try <= retries; try++ {
		var resp *clientv3.TxnResponse
		resp, err = s.txn(ctx, cmps, ops, elseOps)
		if err == nil {
			if !resp.Succeeded {
				return refused(f, mustExist, resp)
			}
			return nil
		}
		if ctx.Err() != nil || !retryable(err) {
			break
		}
	}
	if ctx.Err() != nil || retryable(err) {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return err
}

func (s *Store) txn(ctx context.Context, cmps []clientv3.Cmp, ops, elseOps []clientv3.Op) (*clientv3.TxnResponse, error) {
	rctx, cancel := context.WithTimeout(ctx, s.reqTimeout)
	defer cancel()
	resp, err := s.cli.Txn(rctx).If(cmps...).Then(ops...).Else(elseOps...).Commit()
	return resp, requestTimedOut(rctx, err)
}

// requestTimedOut marks err as the request's own deadline passing when it
// did: an etcd 3.4 member may send that back as a gRPC status of code
// Unknown ("context deadline exceeded"), which retryable would not know.
func requestTimedOut(rctx context.Context, err error) error {
	if err != nil && errors.Is(rctx.Err(), context.DeadlineExceeded) && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %w", context.DeadlineExceeded, err)
	}
	return err
}

// TimedOut is requestTimedOut for requests made beside the store (the
// elector's grant and renewals), so that Result classes them alike.
func TimedOut(rctx context.Context, err error) error { return requestTimedOut(rctx, err) }

// ErrMissingKey is why a fenced write was refused while the fence held: a
// key it must replace (Write.MustExist) is not stored.
var ErrMissingKey = errors.New("the key to replace is not stored")

// refused says why a fenced chunk did not land, from the else branch's
// reads: the election key first, then the keys that had to exist.
func refused(f Fence, mustExist []string, resp *clientv3.TxnResponse) error {
	if len(resp.Responses) != 1+len(mustExist) {
		return notLeader(f, resp)
	}
	kvs := resp.Responses[0].GetResponseRange().GetKvs()
	if len(kvs) != 1 || kvs[0].CreateRevision != f.Rev {
		return notLeader(f, resp)
	}
	for i, key := range mustExist {
		if resp.Responses[1+i].GetResponseRange().GetCount() == 0 {
			return fmt.Errorf("%w: %s", ErrMissingKey, key)
		}
	}
	return notLeader(f, resp) // cannot happen: every compare held
}

// notLeader says why the fence did not hold, from the Else branch's read
// of the election key.
func notLeader(f Fence, resp *clientv3.TxnResponse) error {
	why := "it is gone (lease expired or revoked)"
	if len(resp.Responses) >= 1 {
		if kvs := resp.Responses[0].GetResponseRange().GetKvs(); len(kvs) == 1 {
			why = fmt.Sprintf("it was created at revision %d", kvs[0].CreateRevision)
		}
	}
	return fmt.Errorf("%w: write fenced on election key %s, %s", ErrNotLeader, f, why)
}

// retryable says whether err is etcd (or the way to it) not answering, as
// opposed to a refusal that a retry would only repeat.
func retryable(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true // the per-request timeout; the caller's own is checked apart
	}
	switch {
	case errors.Is(err, rpctypes.ErrLeaderChanged), errors.Is(err, rpctypes.ErrTimeout),
		errors.Is(err, rpctypes.ErrTimeoutDueToLeaderFail), errors.Is(err, rpctypes.ErrTimeoutDueToConnectionLost),
		errors.Is(err, rpctypes.ErrNoLeader):
		return true
	}
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded:
		return true
	case codes.Unknown:
		// etcd 3.4 sends our deadline back this way when its copy of it
		// fires a moment before ours does (requestTimedOut then sees none).
		return status.Convert(err).Message() == context.DeadlineExceeded.Error()
	}
	return false
}
