package alerts

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// Observer is told how sending goes (the metrics implement it).
type Observer interface {
	// AlertsSent reports one push of n alerts to an Alertmanager and its
	// outcome (err nil: delivered).
	AlertsSent(alertmanager string, n int, err error)
	// AlertsQueued reports how many alerts wait for delivery to an
	// Alertmanager.
	AlertsQueued(alertmanager string, n int)
	// AlertsFiring reports the firing alerts by alertname.
	AlertsFiring(byName map[string]int)
}

// Notifier keeps, for each Alertmanager, the latest set of firing alerts
// and the resolutions not yet delivered, and pushes them from a goroutine
// of its own per Alertmanager: a slow or down Alertmanager never holds the
// cycle, nor the other Alertmanagers. It holds at most one set per
// Alertmanager (each Notify replaces it), so its queue is bounded by the
// alerts that exist, not by how long an Alertmanager has been down.
type Notifier struct {
	targets  []*target
	observer Observer
	log      zerolog.Logger
	now      func() time.Time
	// keepResolved bounds how long an undelivered resolution is kept:
	// after it, the endsAt of the last firing push has passed and the
	// Alertmanager has resolved the alert on its own.
	keepResolved time.Duration
	wg           sync.WaitGroup
}

type target struct {
	client *Client
	wake   chan struct{}

	mu       sync.Mutex
	firing   []Alert
	pending  bool // firing not delivered since last replaced with a re-send
	gen      int  // bumped by every Notify
	resolved map[string]Alert
}

// NewNotifier returns a notifier for the given Alertmanagers. keepResolved
// is how long an undelivered resolution is retried; now is the clock.
func NewNotifier(clients []*Client, keepResolved time.Duration, observer Observer, log zerolog.Logger, now func() time.Time) *Notifier {
	n := &Notifier{observer: observer, log: log, now: now, keepResolved: keepResolved}
	for _, c := range clients {
		n.targets = append(n.targets, &target{client: c, wake: make(chan struct{}, 1), resolved: map[string]Alert{}})
		if observer != nil {
			observer.AlertsQueued(c.Name, 0)
		}
	}
	return n
}

// Start runs one sender per Alertmanager until ctx is done; Wait waits for
// them to return.
func (n *Notifier) Start(ctx context.Context) {
	for _, t := range n.targets {
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.wake:
					_ = n.deliver(ctx, t)
				}
			}
		}()
	}
}

// Wait blocks until the senders started by Start have returned.
func (n *Notifier) Wait() { n.wg.Wait() }

// Notify hands over the alerts firing now (each with a fresh endsAt) and
// those resolved this cycle. resend says whether the firing set must reach
// the Alertmanagers again (a changed set, or the re-send interval is due);
// either way an Alertmanager whose last push failed is tried again. It
// never blocks on the network.
func (n *Notifier) Notify(firing, resolved []Alert, resend bool) {
	now := n.now()
	for _, t := range n.targets {
		t.mu.Lock()
		t.gen++
		t.firing = make([]Alert, len(firing))
		for i, a := range firing {
			t.firing[i] = a.clone()
			delete(t.resolved, a.Identity()) // firing again: the resolution is obsolete
		}
		t.pending = t.pending || resend
		for _, a := range resolved {
			t.resolved[a.Identity()] = a.clone()
		}
		for id, a := range t.resolved {
			if now.Sub(a.EndsAt) > n.keepResolved {
				delete(t.resolved, id)
			}
		}
		queued := t.queuedLocked()
		t.mu.Unlock()
		if n.observer != nil {
			n.observer.AlertsQueued(t.client.Name, queued)
		}
		select {
		case t.wake <- struct{}{}:
		default: // a push is already due
		}
	}
}

// Flush pushes what is queued to every Alertmanager now and waits for the
// outcome (for --once, which has no next cycle to retry in).
func (n *Notifier) Flush(ctx context.Context) error {
	errs := make([]error, len(n.targets))
	var wg sync.WaitGroup
	for i, t := range n.targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = n.deliver(ctx, t)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (t *target) queuedLocked() int {
	q := len(t.resolved)
	if t.pending {
		q += len(t.firing)
	}
	return q
}

// deliver pushes a target's firing set (when due) and its undelivered
// resolutions in one request.
func (n *Notifier) deliver(ctx context.Context, t *target) error {
	t.mu.Lock()
	if !t.pending && len(t.resolved) == 0 {
		t.mu.Unlock()
		return nil
	}
	gen := t.gen
	batch := make([]Alert, 0, len(t.firing)+len(t.resolved))
	if t.pending {
		batch = append(batch, t.firing...)
	}
	sentResolved := make(map[string]time.Time, len(t.resolved))
	for id, a := range t.resolved {
		batch = append(batch, a)
		sentResolved[id] = a.EndsAt
	}
	t.mu.Unlock()

	err := t.client.Post(ctx, batch)
	if n.observer != nil {
		n.observer.AlertsSent(t.client.Name, len(batch), err)
	}

	t.mu.Lock()
	if err == nil {
		if t.gen == gen {
			t.pending = false
		}
		for id, ends := range sentResolved {
			if a, ok := t.resolved[id]; ok && a.EndsAt.Equal(ends) {
				delete(t.resolved, id)
			}
		}
	}
	queued := t.queuedLocked()
	t.mu.Unlock()
	if n.observer != nil {
		n.observer.AlertsQueued(t.client.Name, queued)
	}
	if err != nil {
		// Kept: the next cycle's Notify tries again.
		n.log.Warn().Err(err).Str("alertmanager", t.client.Name).Int("alerts", len(batch)).
			Msg("could not push alerts; retrying next cycle")
		return err
	}
	n.log.Debug().Str("alertmanager", t.client.Name).Int("alerts", len(batch)).Msg("alerts pushed")
	return nil
}
