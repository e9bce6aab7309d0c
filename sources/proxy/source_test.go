package proxy

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"webservicemonitor/internal/config"
)

// listServer serves handler on 127.0.0.1 and returns a Source pointed at it
// through a freshly written active-proxy file.
func listServer(t *testing.T, handler http.HandlerFunc) (*Source, *httptest.Server) {
	t.Helper()
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	return sourceFor(t, strings.TrimPrefix(srv.URL, "http://")), srv
}

func sourceFor(t *testing.T, activeProxy string) *Source {
	t.Helper()
	path := filepath.Join(t.TempDir(), "active-proxy")
	if err := os.WriteFile(path, []byte(activeProxy+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The daemon's retries: a test of a failure that a retry hides sees it.
	return &Source{ActiveProxyFile: path, URLTemplate: "http://{proxy}/list", Timeout: 5 * time.Second,
		Retries: config.Defaults().ProxyRetries}
}

func serveFixture(t *testing.T, name string) http.HandlerFunc {
	t.Helper()
	body, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/list" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}
}

func TestFetchGoodList(t *testing.T) {
	src, srv := listServer(t, serveFixture(t, "good.json"))
	snap, err := src.Fetch(context.Background())
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	want := Snapshot{
		Proxy:   strings.TrimPrefix(srv.URL, "http://"),
		Enabled: true,
		Registrations: map[string]Registration{
			"mytool":     {Status: "active"},
			"other-tool": {Status: "active"},
			"stale":      {Status: "inactive"},
		},
	}
	if !reflect.DeepEqual(snap, want) {
		t.Errorf("Fetch = %+v, want %+v", snap, want)
	}
}

func TestFetchEmptyRegistryIsEnabledAndEmpty(t *testing.T) {
	// A proxy that just failed over lists nobody; that is a real answer
	// (the planner's mass-down guard deals with it), distinct from "disabled".
	src, _ := listServer(t, serveFixture(t, "empty-object.json"))
	snap, err := src.Fetch(context.Background())
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if !snap.Enabled || snap.Registrations == nil || len(snap.Registrations) != 0 {
		t.Errorf("Fetch = %+v, want enabled with an empty, non-nil registry", snap)
	}
}

func TestFetchEmptyActiveProxyFileDisables(t *testing.T) {
	for _, content := range []string{"", "\n", "  \t\n\n"} {
		var hits atomic.Int32
		src, _ := listServer(t, func(w http.ResponseWriter, r *http.Request) { hits.Add(1) })
		if err := os.WriteFile(src.ActiveProxyFile, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		snap, err := src.Fetch(context.Background())
		if err != nil {
			t.Fatalf("content %q: Fetch: %v", content, err)
		}
		if !reflect.DeepEqual(snap, Snapshot{Enabled: false}) {
			t.Errorf("content %q: Fetch = %+v, want disabled with nil registry", content, snap)
		}
		if hits.Load() != 0 {
			t.Errorf("content %q: proxy was contacted although checking is off", content)
		}
	}
}

func TestFetchActiveProxyFileProblems(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "no-such-file")
	isDir := filepath.Join(dir, "a-directory")
	if err := os.Mkdir(isDir, 0o755); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "a-fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	tooBig := filepath.Join(dir, "too-big")
	if err := os.WriteFile(tooBig, []byte(strings.Repeat("a", 5000)), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path, wantErr string
	}{
		{"missing", missing, "no such file"},
		{"directory", isDir, "not a regular file"},
		{"fifo does not block", fifo, "not a regular file"},
		{"too big", tooBig, "larger than 4096 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := &Source{ActiveProxyFile: tt.path, URLTemplate: "http://{proxy}/list"}
			_, err := src.Fetch(context.Background())
			if err == nil || !strings.Contains(err.Error(), tt.path) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Fetch error = %v, want one naming %s and saying %q", err, tt.path, tt.wantErr)
			}
		})
	}
}

func TestFetchRejectsUnsafeHosts(t *testing.T) {
	bad := []string{
		"evil.example/path",
		"user@proxy",
		"proxy?x=1",
		"proxy#frag",
		"two words",
		"proxy-01\nproxy-02",
		"[::1]:8081",
		"::1",
		"proxy:",
		"proxy:port",
		"proxy:0",
		"proxy:65536",
		"proxy:123456",
		"-proxy",
		"proxy-",
		".proxy",
		"a..b",
		"http://proxy",
		"pröxy",
		strings.Repeat("a", 300),
	}
	for _, host := range bad {
		t.Run(host, func(t *testing.T) {
			src := sourceFor(t, host)
			_, err := src.Fetch(context.Background())
			if err == nil || !strings.Contains(err.Error(), src.ActiveProxyFile) {
				t.Errorf("host %q: Fetch error = %v, want a refusal naming the file", host, err)
			}
		})
	}
}

func TestValidProxyHost(t *testing.T) {
	good := []string{"proxy-01.eqiad.wmnet", "tools-proxy-05", "10.68.21.49", "127.0.0.1:8081", "p:1", "p:65535", "A"}
	for _, h := range good {
		if !validProxyHost(h) {
			t.Errorf("validProxyHost(%q) = false, want true", h)
		}
	}
}

func TestFetchURLTemplateWithoutPlaceholder(t *testing.T) {
	src := sourceFor(t, "proxy-01")
	src.URLTemplate = "http://proxy-01:8081/list"
	if _, err := src.Fetch(context.Background()); err == nil || !strings.Contains(err.Error(), "{proxy}") {
		t.Errorf("Fetch error = %v, want a complaint about the template", err)
	}
}

func TestFetchServerErrorRetriedThenFails(t *testing.T) {
	// Zero retries means none: one attempt, not the default's three.
	for _, tc := range []struct{ retries, hits int }{{0, 1}, {1, 2}, {2, 3}} {
		retries, wantHits := tc.retries, tc.hits
		t.Run(fmt.Sprint("retries=", retries), func(t *testing.T) {
			var hits atomic.Int32
			src, srv := listServer(t, func(w http.ResponseWriter, r *http.Request) {
				hits.Add(1)
				http.Error(w, "backend registry unavailable", http.StatusInternalServerError)
			})
			src.Retries = retries
			_, err := src.Fetch(context.Background())
			if err == nil {
				t.Fatal("Fetch succeeded against a server answering 500")
			}
			for _, want := range []string{srv.URL + "/list", "500", "backend registry unavailable", fmt.Sprintf("after %d attempt(s)", wantHits)} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
			if got := hits.Load(); got != int32(wantHits) {
				t.Errorf("server hit %d times, want %d", got, wantHits)
			}
		})
	}
}

func TestFetchNoRetriesWhenNegative(t *testing.T) {
	var hits atomic.Int32
	src, _ := listServer(t, func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusBadGateway)
	})
	src.Retries = -1
	if _, err := src.Fetch(context.Background()); err == nil {
		t.Fatal("Fetch succeeded against a server answering 502")
	}
	if got := hits.Load(); got != 1 {
		t.Errorf("server hit %d times, want 1", got)
	}
}

func TestFetchNotFoundIsNotRetried(t *testing.T) {
	var hits atomic.Int32
	src, _ := listServer(t, func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.NotFound(w, r)
	})
	_, err := src.Fetch(context.Background())
	if err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("Fetch error = %v, want a 404 error", err)
	}
	if got := hits.Load(); got != 1 {
		t.Errorf("server hit %d times, want 1: a 404 will not fix itself", got)
	}
}

func TestFetchUnavailableThenOK(t *testing.T) {
	good := serveFixture(t, "good.json")
	var hits atomic.Int32
	src, _ := listServer(t, func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) == 1 {
			// A Retry-After far beyond the deadline must not be obeyed.
			w.Header().Set("Retry-After", "3600")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		good(w, r)
	})
	start := time.Now()
	snap, err := src.Fetch(context.Background())
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if elapsed := time.Since(start); elapsed > 3*time.Second {
		t.Errorf("Fetch took %s: the backoff was not capped", elapsed)
	}
	if len(snap.Registrations) != 3 || hits.Load() != 2 {
		t.Errorf("Fetch = %+v after %d hits, want the good list after 2", snap, hits.Load())
	}
}

func TestFetchBadBodies(t *testing.T) {
	tests := []struct{ fixture, wantErr string }{
		{"garbage.txt", "invalid character"},
		{"empty.txt", "empty body"},
		{"array.json", "JSON array"},
		{"null.json", "JSON null"},
		{"non-object-value.json", `tool "other"`},
		{"truncated.json", "decoding JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			src, srv := listServer(t, serveFixture(t, tt.fixture))
			snap, err := src.Fetch(context.Background())
			if err == nil {
				t.Fatalf("Fetch = %+v, want an error", snap)
			}
			if !strings.Contains(err.Error(), srv.URL+"/list") || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q should name the URL and say %q", err, tt.wantErr)
			}
		})
	}
}

func TestFetchBodyOverCap(t *testing.T) {
	src, _ := listServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("{"))
		for i := range 100_000 { // ~3 MB of plausible entries
			fmt.Fprintf(w, "%q: {\"status\": \"active\"},", fmt.Sprint("tool", i))
		}
		w.Write([]byte(`"last": {"status": "active"}}`))
	})
	// The cap is lowered for the test: a body over the real one would be
	// tens of megabytes.
	_, err := src.fetchList(context.Background(), "http://"+readHost(t, src)+"/list", 64<<10)
	if err == nil || !strings.Contains(err.Error(), "larger than 65536 bytes") {
		t.Errorf("Fetch error = %v, want a size error", err)
	}
}

func readHost(t *testing.T, src *Source) string {
	t.Helper()
	host, err := readActiveProxy(src.ActiveProxyFile)
	if err != nil {
		t.Fatal(err)
	}
	return host
}

// TestFetchRefusesZeroTimeout: no deadline is never "the default deadline".
func TestFetchRefusesZeroTimeout(t *testing.T) {
	for _, timeout := range []time.Duration{0, -time.Second} {
		var hits atomic.Int32
		src, _ := listServer(t, func(w http.ResponseWriter, r *http.Request) { hits.Add(1) })
		src.Timeout = timeout
		_, err := src.Fetch(context.Background())
		want := fmt.Sprintf("the deadline (Timeout) must be greater than 0, got %s", timeout)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Timeout %s: error %v, want %q", timeout, err, want)
		}
		if hits.Load() != 0 {
			t.Errorf("Timeout %s: the proxy was asked anyway", timeout)
		}
	}
}

func TestFetchServerNeverAnswers(t *testing.T) {
	// Accept connections and never say a word, like the proxy that hung
	// the old monitor forever.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var conns []net.Conn
	accepted := make(chan struct{})
	go func() {
		defer close(accepted)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-accepted
		for _, c := range conns {
			c.Close()
		}
	})

	src := sourceFor(t, ln.Addr().String())
	src.Timeout = 300 * time.Millisecond
	start := time.Now()
	_, err = src.Fetch(context.Background())
	elapsed := time.Since(start)
	if err == nil {
		t.Fatal("Fetch succeeded against a silent server")
	}
	if !strings.Contains(err.Error(), "deadline") {
		t.Errorf("error %q should say the deadline passed", err)
	}
	if elapsed > 300*time.Millisecond+700*time.Millisecond {
		t.Errorf("Fetch took %s with a 300ms timeout", elapsed)
	}
}

func TestFetchServerHangsMidBody(t *testing.T) {
	stop := make(chan struct{})
	src, _ := listServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		w.Write([]byte(`{"mytool": {"sta`))
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	})
	t.Cleanup(func() { close(stop) }) // runs before the server's Close
	src.Timeout = 300 * time.Millisecond
	start := time.Now()
	_, err := src.Fetch(context.Background())
	elapsed := time.Since(start)
	if err == nil {
		t.Fatal("Fetch succeeded with half a body")
	}
	if !strings.Contains(err.Error(), "deadline") {
		t.Errorf("error %q should say the deadline passed", err)
	}
	if elapsed > 300*time.Millisecond+700*time.Millisecond {
		t.Errorf("Fetch took %s with a 300ms timeout", elapsed)
	}
}

func TestFetchHonoursCallerCancellation(t *testing.T) {
	stop := make(chan struct{})
	src, _ := listServer(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	})
	t.Cleanup(func() { close(stop) })
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := src.Fetch(ctx); err == nil {
		t.Fatal("Fetch succeeded after its context ended")
	}
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Errorf("Fetch took %s although the caller's context ended after 100ms", elapsed)
	}
}

func TestFetchConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	src := sourceFor(t, addr)
	src.Retries = 1
	_, err = src.Fetch(context.Background())
	if err == nil || !strings.Contains(err.Error(), "http://"+addr+"/list") || !strings.Contains(err.Error(), "refused") {
		t.Errorf("Fetch error = %v, want connection refused naming the URL", err)
	}
}

// TestFetchHidesURLSecrets: the credentials and query values of the list
// URL reach no error, whatever went wrong, while the request carries them.
func TestFetchHidesURLSecrets(t *testing.T) {
	const template = "http://user:secret-password@{proxy}/list?token=secret-token"
	var gotQuery atomic.Value
	src, srv := listServer(t, func(w http.ResponseWriter, r *http.Request) {
		gotQuery.Store(r.URL.RawQuery)
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
	})
	src.URLTemplate, src.Retries = template, 0

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := sourceFor(t, ln.Addr().String())
	ln.Close() // nothing listens there now
	refused.URLTemplate, refused.Retries = template, 0

	noPlaceholder := sourceFor(t, "proxy-01")
	noPlaceholder.URLTemplate = "http://user:secret-password@proxy-01/list?token=secret-token"
	zeroTimeout := sourceFor(t, "proxy-01")
	zeroTimeout.URLTemplate, zeroTimeout.Timeout = template, 0

	tests := []struct {
		name string
		src  *Source
		want string
	}{
		{"refused by the proxy", src, "fetching proxy list from " + srv.URL + "/list?token=xxxxx: HTTP status 503"},
		{"connection refused", refused, "/list?token=xxxxx"},
		{"no placeholder", noPlaceholder, `"http://proxy-01/list?token=xxxxx" has no {proxy} placeholder`},
		{"zero timeout", zeroTimeout, "fetching proxy list from http://proxy-01/list?token=xxxxx: the deadline"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.src.Fetch(context.Background())
			if err == nil || strings.Contains(err.Error(), "secret") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q and no secret", err, tt.want)
			}
		})
	}
	if q, _ := gotQuery.Load().(string); q != "token=secret-token" {
		t.Errorf("the proxy got query %q, want the configured one", q)
	}
}

// TestFetchRefusalIsOneSafeLine: what a broken proxy answers (its status
// line, the start of its body) reaches the error as one line without
// control characters, escape sequences or bidi controls.
func TestFetchRefusalIsOneSafeLine(t *testing.T) {
	body := "<html>\n\x1b[2J\x1b[1;1Hforged\u202e\r\nline\x07</html>"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				if _, err := http.ReadRequest(bufio.NewReader(conn)); err == nil {
					fmt.Fprintf(conn, "HTTP/1.1 502 Bad\x1b[31m Gateway\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body)
				}
			}()
		}
	}()
	src := sourceFor(t, ln.Addr().String())
	src.Retries = 0
	_, err = src.Fetch(context.Background())
	if err == nil {
		t.Fatal("Fetch succeeded against a 502")
	}
	msg := err.Error()
	if strings.ContainsAny(msg, "\n\r\x1b\x07\u202e") || strings.Contains(msg, `\x1b`) || strings.Contains(msg, `\n`) {
		t.Errorf("error %q carries control characters", msg)
	}
	if want := `HTTP status 502 Bad Gateway after 1 attempt(s), body starts "<html> forged line</html>"`; !strings.Contains(msg, want) {
		t.Errorf("error %q, want it to contain %q", msg, want)
	}
}
