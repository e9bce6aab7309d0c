package sdnotify

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// Watchdog decides whether the supervisor loop deserves a keep-alive.
//
// A ticker that pinged systemd unconditionally would only prove that one
// goroutine still runs; the loop could be stuck for ever behind it. So the
// loop reports its progress here (a cycle starting, each restart ending,
// each service.log line written, the cycle ending) and Run pings only while
// the last progress is recent enough:
//
//   - in a cycle, BusyLimit: the longest single step may take (a source's
//     deadline, one restart's timeout, a state-file lock wait) plus slack.
//     Progress is counted per restart, not per cycle, because a mass restart
//     (hundreds of tools, a few at a time) is a long cycle but a healthy one;
//   - between cycles, IdleLimit: the interval plus slack, so a scheduler
//     that stopped starting cycles is caught too.
//
// Once the loop is stalled, keep-alives stop and systemd, after WatchdogSec,
// kills the daemon with SIGABRT (the Go runtime then prints every
// goroutine's stack to the journal: the hang's post-mortem) and restarts it.
// If the loop recovers first, keep-alives resume.
//
// Before the first cycle ends the service is still starting and systemd's
// watchdog is not armed yet; during that time the same judgement extends the
// start timeout instead (EXTEND_TIMEOUT_USEC), so a long first cycle (many
// restarts after an outage) starts fine and a hung one fails the start.
type Watchdog struct {
	busyLimit, idleLimit time.Duration
	now                  func() time.Time

	mu      sync.Mutex
	busy    bool      // a cycle is running
	last    time.Time // the last progress
	ready   bool      // READY=1 was sent: systemd's watchdog is armed
	stalled bool      // a stall was already reported
}

// NewWatchdog returns a Watchdog whose clock starts now: the first cycle
// must start within idleLimit.
func NewWatchdog(busyLimit, idleLimit time.Duration, now func() time.Time) *Watchdog {
	return &Watchdog{busyLimit: busyLimit, idleLimit: idleLimit, now: now, last: now()}
}

// CycleStarted records that a cycle began.
func (w *Watchdog) CycleStarted() { w.mark(true, true) }

// Progress records progress inside a cycle (a restart ended, a line written).
func (w *Watchdog) Progress() { w.mark(true, false) }

// CycleEnded records that a cycle ended.
func (w *Watchdog) CycleEnded() { w.mark(false, true) }

// Ready records that READY=1 was sent: keep-alives become WATCHDOG=1.
func (w *Watchdog) Ready() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.ready = true
}

func (w *Watchdog) mark(busy, setBusy bool) {
	now := w.now()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.last = now
	if setBusy {
		w.busy = busy
	}
}

// Stalled says whether the loop has gone longer without progress than it
// may, and if so, a sentence saying so.
func (w *Watchdog) Stalled(now time.Time) (bool, string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	since := now.Sub(w.last)
	limit, where := w.idleLimit, "between cycles"
	if w.busy {
		limit, where = w.busyLimit, "in a cycle"
	}
	if since <= limit {
		return false, ""
	}
	return true, fmt.Sprintf("the supervisor loop has made no progress for %s (%s; limit %s): no longer telling systemd it is alive, so systemd restarts it",
		since.Round(time.Second), where, limit)
}

// Run sends a keep-alive every period while the loop is not stalled, until
// ctx is done. period should be half the watchdog timeout (sd_watchdog_enabled(3)'s
// advice), so one late tick does not trip it.
func (w *Watchdog) Run(ctx context.Context, n *Notifier, period time.Duration, log zerolog.Logger) {
	if n == nil || period <= 0 {
		return
	}
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			w.tick(ctx, n, period, log)
		}
	}
}

func (w *Watchdog) tick(ctx context.Context, n *Notifier, period time.Duration, log zerolog.Logger) {
	stalled, why := w.Stalled(w.now())
	w.mu.Lock()
	wasStalled, ready := w.stalled, w.ready
	w.stalled = stalled
	w.mu.Unlock()

	sctx, cancel := context.WithTimeout(ctx, period)
	defer cancel()
	var err error
	switch {
	case stalled && wasStalled:
		return // said once; silence is the message now
	case stalled:
		log.Error().Msg(why)
		err = n.Notify(sctx, "STATUS="+why)
	default:
		if wasStalled {
			log.Warn().Msg("the supervisor loop is making progress again: keep-alives to systemd resume")
		}
		keepAlive := extendStart(period)
		if ready {
			keepAlive = "WATCHDOG=1"
		}
		err = n.Notify(sctx, keepAlive)
	}
	if err != nil {
		log.Warn().Err(err).Msg("could not notify systemd")
	}
}

// extendStart asks for three periods more of start timeout: the next two
// ticks may come late without the start failing.
func extendStart(period time.Duration) string {
	return fmt.Sprintf("EXTEND_TIMEOUT_USEC=%d", (3 * period).Microseconds())
}
