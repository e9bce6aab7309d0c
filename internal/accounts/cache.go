package accounts

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// maxInFlight bounds how many lookups the inner resolver runs at once. The
// NSS resolver holds an OS thread for the whole getpwnam_r call; when LDAP
// hangs, an unbounded number of callers would each pin a thread until the
// runtime's thread limit kills the daemon.
const maxInFlight = 16

// Cache answers lookups from memory and asks its inner resolver on a miss.
// Successful answers are kept for ttl, ErrUnknownAccount answers for
// negativeTTL; any other error is not kept, so a name service outage is
// retried on the next lookup. Safe for concurrent use.
//
// A miss starts one inner lookup per name; callers asking for the same name
// meanwhile share it. A caller whose ctx ends stops waiting, but the inner
// lookup runs on (it cannot be interrupted) and its answer is still cached,
// so a slow name service is paid for once.
type Cache struct {
	inner       Resolver
	ttl         time.Duration
	negativeTTL time.Duration
	now         func() time.Time
	slots       chan struct{}

	mu        sync.Mutex
	entries   map[string]cacheEntry
	inflight  map[string]*pendingLookup
	nextSweep time.Time
}

type cacheEntry struct {
	account Account
	err     error // nil, or wraps ErrUnknownAccount
	expires time.Time
}

type pendingLookup struct {
	done    chan struct{}
	account Account
	err     error
}

// NewCache caches the answers of inner. A ttl or negativeTTL of zero or less
// disables caching of that kind of answer.
func NewCache(inner Resolver, ttl, negativeTTL time.Duration, now func() time.Time) *Cache {
	return &Cache{
		inner:       inner,
		ttl:         ttl,
		negativeTTL: negativeTTL,
		now:         now,
		slots:       make(chan struct{}, maxInFlight),
		entries:     make(map[string]cacheEntry),
		inflight:    make(map[string]*pendingLookup),
	}
}

// NewNSS resolves through the system name service (getpwnam via glibc NSS,
// LDAP in production), caching as NewCache does.
func NewNSS(ttl, negativeTTL time.Duration, now func() time.Time) *Cache {
	return NewCache(nssResolver{}, ttl, negativeTTL, now)
}

// Lookup returns the cached answer for name, or asks the inner resolver.
func (c *Cache) Lookup(ctx context.Context, name string) (Account, error) {
	c.mu.Lock()
	if e, ok := c.entries[name]; ok && c.now().Before(e.expires) {
		c.mu.Unlock()
		return e.account, e.err
	}
	p, ok := c.inflight[name]
	if !ok {
		if err := ctx.Err(); err != nil {
			c.mu.Unlock()
			return Account{}, fmt.Errorf("looking up account %q: %w", name, err)
		}
		p = &pendingLookup{done: make(chan struct{})}
		c.inflight[name] = p
		// Detached from ctx on purpose: the answer is shared and cached
		// even when the caller that started it has given up.
		go c.resolve(context.WithoutCancel(ctx), name, p)
	}
	c.mu.Unlock()

	select {
	case <-p.done:
		return p.account, p.err
	case <-ctx.Done():
		return Account{}, fmt.Errorf("looking up account %q: %w", name, ctx.Err())
	}
}

func (c *Cache) resolve(ctx context.Context, name string, p *pendingLookup) {
	c.slots <- struct{}{}
	account, err := c.inner.Lookup(ctx, name)
	<-c.slots

	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	switch {
	case err == nil && c.ttl > 0:
		c.entries[name] = cacheEntry{account: account, expires: now.Add(c.ttl)}
	case errors.Is(err, ErrUnknownAccount) && c.negativeTTL > 0:
		c.entries[name] = cacheEntry{err: err, expires: now.Add(c.negativeTTL)}
	}
	c.sweepLocked(now)
	delete(c.inflight, name)
	p.account, p.err = account, err
	close(p.done)
}

// sweepLocked drops expired entries so accounts of deleted tools do not
// accumulate forever. It runs at most once per longest TTL, which keeps its
// cost amortised to O(1) per lookup.
func (c *Cache) sweepLocked(now time.Time) {
	if now.Before(c.nextSweep) {
		return
	}
	for name, e := range c.entries {
		if !now.Before(e.expires) {
			delete(c.entries, name)
		}
	}
	c.nextSweep = now.Add(max(c.ttl, c.negativeTTL, time.Minute))
}
