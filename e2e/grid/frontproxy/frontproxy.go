// Package frontproxy is the stand-in front proxy of the real-grid end-to-end
// tests. Like the platform's proxylistener (TCP port 8282) it keeps a tool's
// registration exactly as long as the registering job's connection lives, and
// like the proxy's admin port it serves every registration at /list as
// {"tool": {"status": "active"}}. Tests switch /list into the proxy's failure
// modes (failover to an empty registry, 500, garbage, empty body, a hang) and
// make it forget a registration the way a lost one looks.
//
// It owns only that registry; it never starts jobs or decides anything.
package frontproxy

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

// Registration is one live registration.
type Registration struct {
	Tool    string
	Backend string // host:port the job serves on
	Since   time.Time
	conn    net.Conn
}

// Server is a running stand-in proxy: a registration listener and an HTTP
// listener, both on 127.0.0.1.
type Server struct {
	RegisterAddr string // where jobs register (the proxylistener's role)
	ListAddr     string // host:port serving /list

	mu        sync.Mutex
	regs      map[string]*Registration
	forgotten map[string]bool // tools whose registration the "registry" lost
	mode      Mode
	requests  int
	hangs     chan struct{} // closed on Close, to free hung requests

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
		regs:         map[string]*Registration{},
		forgotten:    map[string]bool{},
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

// Close stops both listeners and drops every registration connection.
func (s *Server) Close() error {
	close(s.closed)
	s.mu.Lock()
	close(s.hangs)
	for _, r := range s.regs {
		r.conn.Close()
	}
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

// Forget drops a tool from /list while its job's connection stays open: the
// registry lost it (a redis failover, a restart without --register-proxy).
// A new registration of the tool clears it.
func (s *Server) Forget(tool string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.forgotten[tool] = true
}

// Reset returns to ModeNormal and forgets nothing any more.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mode = ModeNormal
	s.forgotten = map[string]bool{}
}

// Registered returns the live, listed registrations keyed by tool.
func (s *Server) Registered() map[string]Registration {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]Registration, len(s.regs))
	for t, r := range s.regs {
		if !s.forgotten[t] {
			out[t] = Registration{Tool: r.Tool, Backend: r.Backend, Since: r.Since}
		}
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

// serveRegistration reads one line "register <tool> <host:port>", answers
// "ok" (or "error: ..."), and keeps the registration until the connection
// closes.
func (s *Server) serveRegistration(conn net.Conn) {
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	rd := bufio.NewReader(conn)
	line, err := rd.ReadString('\n')
	if err != nil {
		return
	}
	f := strings.Fields(line)
	if len(f) != 3 || f[0] != "register" || !toolName.MatchString(f[1]) {
		fmt.Fprintf(conn, "error: want \"register <tool> <host:port>\"\n")
		return
	}
	if _, _, err := net.SplitHostPort(f[2]); err != nil {
		fmt.Fprintf(conn, "error: bad backend %q\n", f[2])
		return
	}
	reg := &Registration{Tool: f[1], Backend: f[2], Since: time.Now(), conn: conn}
	s.mu.Lock()
	select {
	case <-s.closed:
		s.mu.Unlock()
		return
	default:
	}
	s.regs[reg.Tool] = reg
	delete(s.forgotten, reg.Tool)
	s.mu.Unlock()
	fmt.Fprintf(conn, "ok\n")

	// The registration lives while the job's connection does.
	_ = conn.SetReadDeadline(time.Time{})
	buf := make([]byte, 64)
	for {
		if _, err := rd.Read(buf); err != nil {
			break
		}
	}
	s.mu.Lock()
	if s.regs[reg.Tool] == reg {
		delete(s.regs, reg.Tool)
	}
	s.mu.Unlock()
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
