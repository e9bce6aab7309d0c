package sdnotify

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// clock is a settable clock for the stall judgement.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestStalled(t *testing.T) {
	const busy, idle = 2 * time.Minute, 90 * time.Second
	tests := []struct {
		name  string
		steps func(w *Watchdog, c *clock)
		want  bool
		where string
	}{
		{"just started", func(w *Watchdog, c *clock) { c.advance(idle) }, false, ""},
		{"first cycle never started", func(w *Watchdog, c *clock) { c.advance(idle + time.Second) }, true, "between cycles"},
		{"cycle within its limit", func(w *Watchdog, c *clock) { w.CycleStarted(); c.advance(busy) }, false, ""},
		{"cycle stuck", func(w *Watchdog, c *clock) { w.CycleStarted(); c.advance(busy + time.Second) }, true, "in a cycle"},
		{"long cycle with progress", func(w *Watchdog, c *clock) {
			w.CycleStarted()
			for i := 0; i < 10; i++ {
				c.advance(busy - time.Second)
				w.Progress()
			}
			c.advance(busy - time.Second)
		}, false, ""},
		{"idle within the interval", func(w *Watchdog, c *clock) {
			w.CycleStarted()
			c.advance(time.Minute)
			w.CycleEnded()
			c.advance(idle)
		}, false, ""},
		{"scheduler stopped", func(w *Watchdog, c *clock) {
			w.CycleStarted()
			w.CycleEnded()
			c.advance(idle + time.Second)
		}, true, "between cycles"},
		{"progress does not end a cycle", func(w *Watchdog, c *clock) {
			w.CycleStarted()
			w.Progress()
			c.advance(busy + time.Second)
		}, true, "in a cycle"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &clock{t: time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)}
			w := NewWatchdog(busy, idle, c.now)
			tt.steps(w, c)
			got, why := w.Stalled(c.now())
			if got != tt.want || !strings.Contains(why, tt.where) {
				t.Errorf("Stalled = %v, %q; want %v, %q", got, why, tt.want, tt.where)
			}
		})
	}
}

// TestRunKeepAlives runs the ticker against a socket the test owns: start
// extensions before readiness, WATCHDOG=1 after, silence while stalled,
// keep-alives again once the loop moves.
func TestRunKeepAlives(t *testing.T) {
	conn := listen(t, filepath.Join(t.TempDir(), "notify"))
	n, _ := New(conn.LocalAddr().String())
	c := &clock{t: time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)}
	w := NewWatchdog(time.Minute, time.Minute, c.now)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx, n, 10*time.Millisecond, zerolog.Nop()); close(done) }()
	defer func() { cancel(); <-done }()

	w.CycleStarted()
	if got := receive(t, conn, time.Second); got != "EXTEND_TIMEOUT_USEC=30000" {
		t.Fatalf("before readiness: %q, want a start timeout extension", got)
	}
	w.CycleEnded()
	w.Ready()
	drainUntil(t, conn, "WATCHDOG=1")

	// A cycle stuck past its limit: one STATUS line, then nothing.
	w.CycleStarted()
	c.advance(time.Minute + time.Second)
	drainUntil(t, conn, "STATUS=the supervisor loop has made no progress for 1m1s (in a cycle; limit 1m0s)")
	if got := receive(t, conn, 100*time.Millisecond); got != "" {
		t.Fatalf("stalled, yet sent %q", got)
	}
	w.Progress()
	if got := receive(t, conn, time.Second); got != "WATCHDOG=1" {
		t.Fatalf("after progress: %q, want WATCHDOG=1", got)
	}
}

// drainUntil reads datagrams until one starts with want (a tick already in
// flight may deliver the previous kind first).
func drainUntil(t *testing.T, conn interface {
	SetReadDeadline(time.Time) error
	Read([]byte) (int, error)
}, want string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	buf := make([]byte, 4096)
	var got []string
	for time.Now().Before(deadline) {
		conn.SetReadDeadline(deadline)
		n, err := conn.Read(buf)
		if err != nil {
			break
		}
		if strings.HasPrefix(string(buf[:n]), want) {
			return
		}
		got = append(got, string(buf[:n]))
	}
	t.Fatalf("no %q; got %q", want, got)
}
