package ha

import (
	"context"
	"fmt"
	"time"

	"go.etcd.io/etcd/client/v3/concurrency"

	"webservicemonitor/state/etcdstore"
)

// validity is how long this process may act: until the last renewal etcd
// confirmed could at the earliest expire, less a margin. A renewal sent at
// t0 and answered with ttl means etcd's expiry is at least t0+ttl (etcd
// renews on receipt, after t0), so before then no other host can have won.
// The times are monotonic: a process paused past it (SIGSTOP) sees it
// over as soon as it runs again.
type validity struct {
	margin time.Duration
	until  time.Time
}

func (v *validity) renewed(sentAt time.Time, ttl time.Duration) {
	if u := sentAt.Add(ttl - v.margin); u.After(v.until) {
		v.until = u
	}
}

func (v *validity) valid(now time.Time) bool { return now.Before(v.until) }

// lead holds the leadership won with fence until the session ends, a
// renewal is missed past the validity, Lost is called or ctx ends; it
// returns why it ended.
func (e *Elector) lead(ctx context.Context, s *concurrency.Session, fence etcdstore.Fence) string {
	e.mu.Lock()
	e.v.until = time.Time{}
	e.mu.Unlock()
	drainLost(e.lost)
	if !e.renew(ctx, s) {
		return "the lease was not renewed after winning"
	}
	e.mu.Lock()
	e.fence, e.leading = fence, true
	e.mu.Unlock()
	e.changed(true)
	e.log.Info().Str("key", fence.Key).Int64("rev", fence.Rev).Msg("won the leadership")
	select {
	case e.gained <- struct{}{}:
	default:
	}
	tick := time.NewTicker(e.ttl / 4)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return "shutting down"
		case <-s.Done():
			return "the etcd session ended (lease expired or not renewed)"
		case reason := <-e.lost:
			return reason
		case <-tick.C:
			e.renew(ctx, s)
			if !e.StillValid() {
				return fmt.Sprintf("the lease was not renewed in time (the right to act ended at %s)", e.validUntil().Format(time.RFC3339Nano))
			}
		}
	}
}

// renew sends one keepalive and extends the validity by what etcd granted.
func (e *Elector) renew(ctx context.Context, s *concurrency.Session) bool {
	rctx, cancel := context.WithTimeout(ctx, e.ttl/4)
	defer cancel()
	sentAt := time.Now()
	ttl, err := e.keepAliveOnce(rctx, s.Lease())
	e.observe(ctx, etcdstore.OpKeepAlive, sentAt, etcdstore.TimedOut(rctx, err))
	if err != nil || ttl <= 0 {
		e.log.Debug().Err(err).Msg("renewing the election lease")
		return false
	}
	e.mu.Lock()
	e.v.renewed(sentAt, ttl)
	e.mu.Unlock()
	return true
}

func (e *Elector) validUntil() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.v.until
}

// stepDown ends a term that won (Lost may have cleared leading already).
func (e *Elector) stepDown(reason string) {
	e.mu.Lock()
	e.leading = false
	e.mu.Unlock()
	e.changed(false)
	e.log.Warn().Str("reason", reason).Msg("lost the leadership: " + reason)
}

func drainLost(lost chan string) {
	select {
	case <-lost:
	default:
	}
}
