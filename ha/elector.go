// Package ha decides which of several hosts running the supervisor acts:
// one leader, elected through etcd (a lease-bound key, the concurrency
// package's election), whose right to act is both fenced in etcd (every
// write compares the election key's create revision, see etcdstore) and
// bounded locally by the last lease renewal etcd confirmed, so that a
// leader paused or cut off past its lease knows it without asking.
package ha

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"

	"webservicemonitor/state/etcdstore"
)

// ErrNotLeader is why a fenced write was refused.
var ErrNotLeader = etcdstore.ErrNotLeader

// LeaderInfo is who leads: the value of the election key.
type LeaderInfo struct {
	Host    string    `json:"host"`
	PID     int       `json:"pid"`
	Since   time.Time `json:"since"`
	Version string    `json:"version,omitempty"`
}

// Elector campaigns for the leadership and keeps it while etcd renews its
// lease. Run does the work; the other methods may be called from anywhere.
type Elector struct {
	cli      *clientv3.Client
	election string
	ttl      time.Duration
	me       LeaderInfo
	log      zerolog.Logger

	// Observer, when not nil, is told of the elector's requests to etcd
	// and of each gain and loss of the leadership (set it before Run).
	Observer Observer

	// keepAliveOnce renews the lease once and returns the TTL etcd granted;
	// a field so that tests can block it as a paused or cut-off host.
	keepAliveOnce func(ctx context.Context, lease clientv3.LeaseID) (time.Duration, error)

	mu      sync.Mutex
	v       validity
	fence   etcdstore.Fence
	leading bool

	lost   chan string
	gained chan struct{}
}

// Observer is told how the elector's requests went (ops
// etcdstore.OpCampaign and OpKeepAlive) and when this process gained or
// lost the leadership.
type Observer interface {
	etcdstore.Observer
	LeadershipChanged(leading bool, at time.Time)
}

// NewElector is an elector under keys' election prefix; ttl is the lease's
// (whole seconds, at least 3 s: etcd raises shorter ones to about 2 s).
func NewElector(cli *clientv3.Client, keys etcdstore.Keys, ttl time.Duration, me LeaderInfo, log zerolog.Logger) *Elector {
	e := &Elector{
		cli: cli, election: keys.Election(), ttl: ttl, me: me, log: log,
		v:      validity{margin: time.Second + ttl/10},
		lost:   make(chan string, 1),
		gained: make(chan struct{}, 1),
	}
	e.keepAliveOnce = func(ctx context.Context, lease clientv3.LeaseID) (time.Duration, error) {
		r, err := cli.KeepAliveOnce(ctx, lease)
		if err != nil {
			return 0, err
		}
		return time.Duration(r.TTL) * time.Second, nil
	}
	return e
}

// Leading is the fence to write with, and whether this process may act:
// it won, and the last renewal etcd confirmed still covers now.
func (e *Elector) Leading() (etcdstore.Fence, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.leading || !e.v.valid(time.Now()) {
		return etcdstore.Fence{}, false
	}
	return e.fence, true
}

// StillValid is Leading without the fence: the check before each action.
func (e *Elector) StillValid() bool {
	_, ok := e.Leading()
	return ok
}

// Lost ends the leadership at once (a fenced write was refused).
func (e *Elector) Lost(reason string) {
	e.mu.Lock()
	e.leading = false
	e.mu.Unlock()
	select {
	case e.lost <- reason:
	default: // a reason is already waiting: one step-down is enough
	}
}

// Gained is signalled each time this process wins.
func (e *Elector) Gained() <-chan struct{} { return e.gained }

// Leader reads who leads now, from any host; ok is false when nobody does.
func (e *Elector) Leader(ctx context.Context) (info LeaderInfo, ok bool, err error) {
	resp, err := e.cli.Get(ctx, e.election+"/", clientv3.WithFirstCreate()...)
	if err != nil {
		return LeaderInfo{}, false, fmt.Errorf("reading the leader from etcd: %w", err)
	}
	if len(resp.Kvs) == 0 {
		return LeaderInfo{}, false, nil
	}
	if err := json.Unmarshal(resp.Kvs[0].Value, &info); err != nil {
		return LeaderInfo{}, false, fmt.Errorf("reading the leader from etcd key %s: %w", resp.Kvs[0].Key, err)
	}
	return info, true, nil
}

// Run campaigns, leads, steps down and campaigns again until ctx ends;
// then it gives the leadership up at once (revokes its lease) so that
// another host takes over without waiting for the lease to expire.
func (e *Elector) Run(ctx context.Context) {
	const firstBackoff = time.Second
	backoff := firstBackoff
	for ctx.Err() == nil {
		err := e.term(ctx)
		if err == nil {
			backoff = firstBackoff
			continue
		}
		if ctx.Err() != nil {
			return
		}
		e.log.Warn().Err(err).Dur("retry_in", backoff).Msg("not a candidate for the leadership")
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, e.ttl)
	}
}

// term is one session: campaign until won, lead until the leadership
// ends, then revoke the lease.
func (e *Elector) term(ctx context.Context) error {
	lease, err := e.grant(ctx)
	if err != nil {
		return fmt.Errorf("opening an etcd session: %w", err)
	}
	s, err := concurrency.NewSession(e.cli, concurrency.WithLease(lease), concurrency.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("opening an etcd session: %w", err)
	}
	defer e.revoke(s)
	fence, err := e.campaign(ctx, s)
	if err != nil {
		return err
	}
	reason := e.lead(ctx, s, fence)
	e.stepDown(reason)
	return nil
}

// grant asks for the session's lease, bounded by the TTL: NewSession's
// own grant waits as long as its context, so a host that cannot reach
// etcd would wait there forever, neither logging nor observed.
func (e *Elector) grant(ctx context.Context) (clientv3.LeaseID, error) {
	gctx, cancel := context.WithTimeout(ctx, e.ttl)
	defer cancel()
	start := time.Now()
	resp, err := e.cli.Grant(gctx, int64(e.ttl/time.Second))
	e.observe(ctx, etcdstore.OpCampaign, start, etcdstore.TimedOut(gctx, err))
	if err != nil {
		return 0, fmt.Errorf("granting a lease of %s: %w", e.ttl, err)
	}
	return resp.ID, nil
}

// campaign waits to win, giving up when the session ends (else Campaign
// can wait in its watch forever after the lease died).
func (e *Elector) campaign(ctx context.Context, s *concurrency.Session) (etcdstore.Fence, error) {
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-s.Done():
			cancel()
		case <-cctx.Done():
		}
	}()
	info := e.me
	info.Since = time.Now().UTC()
	value, err := json.Marshal(info)
	if err != nil {
		return etcdstore.Fence{}, fmt.Errorf("encoding the election value: %w", err)
	}
	el := concurrency.NewElection(s, e.election)
	if err := el.Campaign(cctx, string(value)); err != nil {
		return etcdstore.Fence{}, fmt.Errorf("campaigning on %s: %w", e.election, err)
	}
	return etcdstore.Fence{Key: el.Key(), Rev: el.Rev()}, nil
}

// observe tells the observer of a request begun at start; not of one a
// shutdown cancelled.
func (e *Elector) observe(ctx context.Context, op string, start time.Time, err error) {
	if e.Observer != nil && !errors.Is(ctx.Err(), context.Canceled) {
		e.Observer.StoreRequest(op, time.Since(start), err)
	}
}

// changed tells the observer of a gain or a loss of the leadership.
func (e *Elector) changed(leading bool) {
	if e.Observer != nil {
		e.Observer.LeadershipChanged(leading, time.Now())
	}
}

// revoke ends the session and deletes its keys, with a context of its own:
// the session's may be over. If etcd does not answer, the lease expires.
func (e *Elector) revoke(s *concurrency.Session) {
	s.Orphan()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := e.cli.Revoke(ctx, s.Lease()); err != nil {
		e.log.Debug().Err(err).Msg("revoking the election lease (it expires by itself)")
	}
}
