package monitor

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// role is a Role a test sets.
type role struct{ leading atomic.Bool }

func (r *role) Leading() bool { return r.leading.Load() }

// cycleSeen is one cycle a daemon ran: the acting one or the standby's.
type cycleSeen struct{ acting bool }

// announcer tells of each report on seen; with hold set, it waits for a
// value on hold before returning.
type announcer struct {
	seen chan<- cycleSeen
	hold chan struct{}
}

func (a announcer) Report(_ context.Context, rep Report, _ error) error {
	a.seen <- cycleSeen{acting: !rep.DryRun}
	if a.hold != nil {
		<-a.hold
	}
	return nil
}

// daemonRig is a daemon whose acting and standby cycles announce
// themselves; its interval is long enough that only its first tick and
// its wins run cycles during a test.
func daemonRig(t *testing.T, r *role, standbyHold chan struct{}) (*Daemon, <-chan cycleSeen, chan<- struct{}) {
	t.Helper()
	seen := make(chan cycleSeen, 10)
	acting := newRig()
	acting.reporters = []Reporter{announcer{seen: seen}}
	standby := newRig()
	standby.audit = true
	standby.reporters = []Reporter{announcer{seen: seen, hold: standbyHold}}
	gained := make(chan struct{}, 1)
	d := &Daemon{Cycle: acting.cycle(t), Standby: standby.cycle(t), Role: r, Gained: gained,
		Interval: time.Hour, ShutdownGrace: time.Second}
	return d, seen, gained
}

// start runs d until the test ends.
func start(t *testing.T, d *Daemon) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
}

func next(t *testing.T, seen <-chan cycleSeen) cycleSeen {
	t.Helper()
	select {
	case c := <-seen:
		return c
	case <-time.After(30 * time.Second):
		t.Fatal("no cycle ran")
		return cycleSeen{}
	}
}

func TestDaemonRoleChoosesTheCycle(t *testing.T) {
	for _, leading := range []bool{true, false} {
		r := &role{}
		r.leading.Store(leading)
		d, seen, _ := daemonRig(t, r, nil)
		start(t, d)
		if c := next(t, seen); c.acting != leading {
			t.Errorf("leading %v: the acting cycle ran: %v", leading, c.acting)
		}
	}
}

// A single host (no role) always acts.
func TestDaemonWithoutRoleActs(t *testing.T) {
	d, seen, _ := daemonRig(t, &role{}, nil)
	d.Role, d.Standby = nil, nil
	start(t, d)
	if c := next(t, seen); !c.acting {
		t.Error("a single host ran a standby cycle")
	}
}

// A win runs the acting cycle at once, an hour before the next tick.
func TestDaemonActsAtOnceOnWinning(t *testing.T) {
	r := &role{}
	d, seen, gained := daemonRig(t, r, nil)
	start(t, d)
	if c := next(t, seen); c.acting {
		t.Fatal("a standby acted")
	}
	r.leading.Store(true)
	gained <- struct{}{}
	if c := next(t, seen); !c.acting {
		t.Error("after the win the standby cycle ran")
	}
}

// A win while the standby cycle runs (its immediate cycle refused: cycles
// never overlap) acts as soon as that cycle ends.
func TestDaemonWinDuringStandbyCycleActsAfterIt(t *testing.T) {
	r := &role{}
	hold := make(chan struct{})
	d, seen, gained := daemonRig(t, r, hold)
	start(t, d)
	if c := next(t, seen); c.acting {
		t.Fatal("a standby acted")
	}
	r.leading.Store(true)
	gained <- struct{}{}
	close(hold)
	if c := next(t, seen); !c.acting {
		t.Error("after the win the standby cycle ran")
	}
}

// A reload replaces both cycles.
func TestDaemonSwapReplacesBothCycles(t *testing.T) {
	r := &role{}
	d, _, _ := daemonRig(t, r, nil)
	acting, standby := newRig(), newRig()
	standby.audit = true
	a, s := acting.cycle(t), standby.cycle(t)
	d.Swap(Cycles{Acting: a, Standby: s})
	if c, isActing := d.current(); c != s || isActing {
		t.Error("a standby did not take the new standby cycle")
	}
	r.leading.Store(true)
	if c, isActing := d.current(); c != a || !isActing {
		t.Error("a leader did not take the new acting cycle")
	}
}
