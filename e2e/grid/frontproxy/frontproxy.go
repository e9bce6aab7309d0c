// Package frontproxy is the stand-in front proxy of the real-grid end-to-end
// tests. Like the platform's proxylistener (TCP port 8282) it keeps a tool's
// route from its registration until an explicit unregister — the web queues'
// epilog (portreleaser) sends that when a job ends — so a route can outlive
// its job, and "registered" means "registered once, not yet unregistered".
// Like the proxy's admin port it serves every route at /list as
// {"tool": {"status": "active"}}. Tests switch /list into the proxy's failure
// modes (failover to an empty registry, 500, garbage, empty body, a hang) and
// make it forget a route the way a lost one looks.
//
// Line protocol of the registration address (one request per connection;
// the proxy answers one line and closes):
//
//	register <tool> <host:port>\n   ->  ok\n   (replaces the tool's route)
//	unregister <tool>\n             ->  ok\n   (removes it; ok when none)
//	anything else                   ->  error: <why>\n
//
// The real proxy names the tool from the caller's account; the stand-in is
// told, so that the runner (the tool) and the epilog (root) speak alike.
//
// It owns only that registry; it never starts jobs or decides anything.
package frontproxy

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
)

// Mode is how /list answers.
type Mode string

const (
	ModeNormal    Mode = "normal"     // the registrations as JSON
	ModeEmpty     Mode = "empty"      // {}: a failover to a proxy with an empty registry
	ModeError     Mode = "500"        // HTTP 500 with a short body
	ModeGarbage   Mode = "garbage"    // HTTP 200 with an HTML error page
	ModeEmptyBody Mode = "empty-body" // HTTP 200 with no body at all
	ModeHang      Mode = "hang"       // accepts the request and never answers
)

// Registration is one route: kept until unregistered, replaced by the
// tool's next registration.
type Registration struct {
	Tool    string
	Backend string // host:port the job said it serves on
	Since   time.Time
}

// Server is a running stand-in proxy: a registration listener and an HTTP
// listener, both on 127.0.0.1.
type Server struct {
	RegisterAddr string // where jobs register (the proxylistener's role)
	ListAddr     string // host:port serving /list

	mu       sync.Mutex
	regs     map[string]Registration
	mode     Mode
	requests int
	hangs    chan struct{} // closed on Close, to free hung requests

	regLn  net.Listener
	http   *http.Server
	wg     sync.WaitGroup
	closed chan struct{}
}

var toolName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// Start listens on two free ports of 127.0.0.1 and serves until Close.
func Start() (*Server, error) {
	regLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listening for registrations: %w", err)
	}
	listLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		regLn.Close()
		return nil, fmt.Errorf("listening for /list: %w", err)
	}
	s := &Server{
		RegisterAddr: regLn.Addr().String(),
		ListAddr:     listLn.Addr().String(),
		regs:         map[string]Registration{},
		mode:         ModeNormal,
		hangs:        make(chan struct{}),
		regLn:        regLn,
		closed:       make(chan struct{}),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/list", s.serveList)
	s.http = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		_ = s.http.Serve(listLn)
	}()
	go func() {
		defer s.wg.Done()
		s.acceptRegistrations()
	}()
	return s, nil
}

// Close stops both listeners and frees hung /list requests.
func (s *Server) Close() error {
	close(s.closed)
	s.mu.Lock()
	close(s.hangs)
	s.mu.Unlock()
	err := s.regLn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = errors.Join(err, s.http.Shutdown(ctx))
	s.wg.Wait()
	return err
}

// SetMode switches how /list answers from the next request on.
func (s *Server) SetMode(m Mode) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mode = m
}

// Forget drops a tool's route while its job runs on: the registry lost it
// (a redis failover, a restart without --register-proxy). The tool's next
// registration brings it back.
func (s *Server) Forget(tool string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.regs, tool)
}

// Reset returns /list to ModeNormal.
func (s *Server) Reset() {
	s.SetMode(ModeNormal)
}

// Registered returns the routes keyed by tool.
func (s *Server) Registered() map[string]Registration {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]Registration, len(s.regs))
	for t, r := range s.regs {
		out[t] = r
	}
	return out
}

// ListRequests counts the /list requests served (or hung) so far.
func (s *Server) ListRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

func (s *Server) serveList(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests++
	mode := s.mode
	s.mu.Unlock()
	switch mode {
	case ModeEmpty:
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, "{}")
	case ModeError:
		http.Error(w, "redis: connection refused", http.StatusInternalServerError)
	case ModeGarbage:
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, "<html><body><h1>502 Bad Gateway</h1><hr>nginx/1.13.6</body></html>\n")
	case ModeEmptyBody:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
	case ModeHang:
		select {
		case <-r.Context().Done():
		case <-s.hangs:
		}
	default:
		list := map[string]map[string]string{}
		for t := range s.Registered() {
			list[t] = map[string]string{"status": "active"}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(list)
	}
}

func (s *Server) acceptRegistrations() {
	for {
		conn, err := s.regLn.Accept()
		if err != nil {
			select {
			case <-s.closed:
				return
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serveRegistration(conn)
		}()
	}
}

// serveRegistration reads one request line, applies it and answers it.
func (s *Server) serveRegistration(conn net.Conn) {
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(io.LimitReader(conn, 1024)).ReadString('\n')
	if err != nil {
		return
	}
	select {
	case <-s.closed:
		return
	default:
	}
	if err := s.apply(strings.Fields(line)); err != nil {
		fmt.Fprintf(conn, "error: %v\n", err)
		return
	}
	fmt.Fprintf(conn, "ok\n")
}

// apply carries out one request of the line protocol.
func (s *Server) apply(f []string) error {
	switch {
	case len(f) == 3 && f[0] == "register":
		if !toolName.MatchString(f[1]) {
			return fmt.Errorf("bad tool name %q", f[1])
		}
		if _, _, err := net.SplitHostPort(f[2]); err != nil {
			return fmt.Errorf("bad backend %q", f[2])
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		s.regs[f[1]] = Registration{Tool: f[1], Backend: f[2], Since: time.Now()}
		return nil
	case len(f) == 2 && f[0] == "unregister":
		if !toolName.MatchString(f[1]) {
			return fmt.Errorf("bad tool name %q", f[1])
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.regs, f[1])
		return nil
	}
	return errors.New(`want "register <tool> <host:port>" or "unregister <tool>"`)
}

// Tools returns the listed tools, sorted (for messages).
func Tools(regs map[string]Registration) []string {
	out := make([]string, 0, len(regs))
	for t := range regs {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// Register asks the proxy at addr to route tool to backend (host:port).
func Register(ctx context.Context, addr, tool, backend string) error {
	return request(ctx, addr, fmt.Sprintf("register %s %s", tool, backend))
}

// Unregister asks the proxy at addr to drop tool's route.
func Unregister(ctx context.Context, addr, tool string) error {
	return request(ctx, addr, "unregister "+tool)
}

// request sends one line of the protocol and wants "ok" back.
func request(ctx context.Context, addr, line string) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("connecting to the front proxy %s: %w", addr, err)
	}
	defer conn.Close()
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(10 * time.Second)
	}
	_ = conn.SetDeadline(deadline)
	if _, err := io.WriteString(conn, line+"\n"); err != nil {
		return fmt.Errorf("sending %q to the front proxy %s: %w", line, addr, err)
	}
	reply, err := bufio.NewReader(io.LimitReader(conn, 1024)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("reading the front proxy's answer to %q: %w", line, err)
	}
	if reply = strings.TrimSpace(reply); reply != "ok" {
		return fmt.Errorf("the front proxy answered %q to %q", reply, line)
	}
	return nil
}
