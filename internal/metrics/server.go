package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
)

// Handler serves /metrics, /healthz and /readyz.
//
// /healthz says the loop is alive: the last cycle started (or, before the
// first, the daemon did) within 3 intervals; a cycle stuck that long, or a
// scheduler that stopped, answers 503. /readyz says a first cycle has
// completed, so the metrics mean something.
func (m *Metrics) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		Registry: m.reg, Timeout: 10 * time.Second, ErrorHandling: promhttp.ContinueOnError,
	}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		last := m.born
		if ns := m.lastStart.Load(); ns != 0 {
			last = time.Unix(0, ns)
		}
		age := m.now().Sub(last)
		if age > 3*m.interval {
			http.Error(w, fmt.Sprintf("unhealthy: no cycle started for %s (interval %s)", age.Round(time.Second), m.interval),
				http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintf(w, "ok: last cycle started %s ago\n", age.Round(time.Millisecond))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if !m.ready.Load() {
			http.Error(w, "not ready: no cycle completed yet", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	return mux
}

// Server is the daemon's HTTP listener.
type Server struct {
	srv  *http.Server
	ln   net.Listener
	done chan error
}

// Listen binds addr (so that a taken port is an error at start, not a log
// line later) and serves h on it until Shutdown.
func Listen(addr string, h http.Handler) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening for metrics on %s: %w", addr, err)
	}
	s := &Server{
		srv: &http.Server{
			Handler:           h,
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       10 * time.Second,
			WriteTimeout:      30 * time.Second,
			IdleTimeout:       2 * time.Minute,
			MaxHeaderBytes:    16 << 10,
		},
		ln:   ln,
		done: make(chan error, 1),
	}
	go func() { s.done <- s.srv.Serve(ln) }()
	return s, nil
}

// Addr is the address actually listened on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Shutdown stops accepting, lets requests in flight finish until ctx is
// done, then closes what is left.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if err != nil {
		err = errors.Join(err, s.srv.Close())
	}
	if serveErr := <-s.done; !errors.Is(serveErr, http.ErrServerClosed) {
		err = errors.Join(err, serveErr)
	}
	if err != nil {
		return fmt.Errorf("stopping the metrics listener on %s: %w", s.Addr(), err)
	}
	return nil
}

// Listener keeps the metrics served on an address. When the address cannot
// be bound (taken by another process, say) the error is logged and binding
// is tried again every retry until it succeeds: supervision never waits for
// its own observability. Meanwhile Prometheus sees the target down, which
// the shipped `up` rule pages on.
type Listener struct {
	stop    context.CancelFunc
	stopped chan struct{}
	server  *Server // set once bound; read after stopped is closed
}

// KeepListening starts binding addr, serving h once bound.
func KeepListening(addr string, h http.Handler, retry time.Duration, log zerolog.Logger) *Listener {
	ctx, cancel := context.WithCancel(context.Background())
	l := &Listener{stop: cancel, stopped: make(chan struct{})}
	go func() {
		defer close(l.stopped)
		l.server = bindUntilDone(ctx, addr, h, retry, log)
	}()
	return l
}

func bindUntilDone(ctx context.Context, addr string, h http.Handler, retry time.Duration, log zerolog.Logger) *Server {
	for failures := 0; ; failures++ {
		srv, err := Listen(addr, h)
		if err == nil {
			if failures > 0 {
				log.Info().Str("listen", srv.Addr()).Int("failed_tries", failures).Msg("metrics listener up at last")
			} else {
				log.Info().Str("listen", srv.Addr()).Msg("serving /metrics, /healthz and /readyz")
			}
			return srv
		}
		log.Error().Err(err).Dur("retry_in", retry).
			Msg("cannot serve metrics; supervision goes on without them, and binding is tried again")
		t := time.NewTimer(retry)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// Stop gives up binding and shuts the listener down, letting scrapes in
// flight finish until ctx is done.
func (l *Listener) Stop(ctx context.Context) error {
	l.stop()
	<-l.stopped
	if l.server == nil {
		return nil
	}
	return l.server.Shutdown(ctx)
}
