package alerts

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// alertmanager is a stand-in for Alertmanager's POST /api/v2/alerts that
// answers with the statuses it is given, in turn (the last one repeats).
type alertmanager struct {
	mu       sync.Mutex
	statuses []int
	hang     chan struct{} // when set, requests block until it is closed
	requests int
	got      [][]Alert
	srv      *httptest.Server
}

func newAlertmanager(t *testing.T, statuses ...int) *alertmanager {
	am := &alertmanager{statuses: statuses}
	am.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/api/v2/alerts" || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "unexpected "+r.Method+" "+r.URL.Path, http.StatusNotFound)
			return
		}
		var batch []Alert
		if err := json.NewDecoder(r.Body).Decode(&batch); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		am.mu.Lock()
		am.requests++
		status := http.StatusOK
		if len(am.statuses) > 0 {
			status = am.statuses[0]
			if len(am.statuses) > 1 {
				am.statuses = am.statuses[1:]
			}
		}
		hang := am.hang
		if status == http.StatusOK {
			am.got = append(am.got, batch)
		}
		am.mu.Unlock()
		if hang != nil {
			select {
			case <-hang:
			case <-r.Context().Done():
			}
			return
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(am.srv.Close)
	return am
}

func (am *alertmanager) setStatuses(s ...int) {
	am.mu.Lock()
	am.statuses = s
	am.mu.Unlock()
}

func (am *alertmanager) count() int {
	am.mu.Lock()
	defer am.mu.Unlock()
	return am.requests
}

func (am *alertmanager) batches() [][]Alert {
	am.mu.Lock()
	defer am.mu.Unlock()
	return slices.Clone(am.got)
}

func alert(tool string, ends time.Time) Alert {
	return Alert{Labels: map[string]string{"alertname": NameGivenUp, "tool": tool, "severity": "page"},
		Annotations: map[string]string{"description": "no job"}, StartsAt: t0, EndsAt: ends}
}

func TestClientPost(t *testing.T) {
	tests := []struct {
		name         string
		statuses     []int
		hang         bool
		timeout      time.Duration
		wantErr      string
		wantRequests int
	}{
		{"accepted", []int{200}, false, 5 * time.Second, "", 1},
		{"retried through 5xx", []int{503, 502, 200}, false, 5 * time.Second, "", 3},
		{"retries bounded", []int{503}, false, 5 * time.Second, "HTTP status 503 Service Unavailable after 3 attempt(s)", 3},
		{"a refused alert is not retried", []int{400}, false, 5 * time.Second, "HTTP status 400", 1},
		{"a hung Alertmanager meets the deadline", nil, true, 300 * time.Millisecond, "deadline 300ms", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			am := newAlertmanager(t, tt.statuses...)
			if tt.hang {
				am.hang = make(chan struct{})
				defer close(am.hang)
			}
			c, err := NewClient(am.srv.URL+"/", tt.timeout, 2)
			if err != nil {
				t.Fatal(err)
			}
			began := time.Now()
			err = c.Post(context.Background(), []Alert{alert("echo", t0.Add(time.Hour))})
			if took := time.Since(began); took > 5*time.Second {
				t.Errorf("took %s", took)
			}
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("error %v, want it to contain %q", err, tt.wantErr)
			}
			if n := am.count(); n != tt.wantRequests {
				t.Errorf("%d requests, want %d", n, tt.wantRequests)
			}
			if tt.wantErr == "" {
				b := am.batches()
				if len(b) != 1 || len(b[0]) != 1 || b[0][0].Labels["tool"] != "echo" || !b[0][0].StartsAt.Equal(t0) || !b[0][0].EndsAt.Equal(t0.Add(time.Hour)) {
					t.Errorf("Alertmanager got %+v", b)
				}
			}
		})
	}
}

func TestClientNameHidesCredentials(t *testing.T) {
	c, err := NewClient("https://user:secret@am.example:9093/prefix/", time.Second, 0)
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "https://am.example:9093/prefix" || c.url != "https://user:secret@am.example:9093/prefix/api/v2/alerts" {
		t.Errorf("name %q, url %q", c.Name, c.url)
	}
	if _, err := NewClient("am.example:9093", time.Second, 0); err == nil {
		t.Error("a URL without scheme was accepted")
	}
}

// TestClientHidesURLSecrets: the query values and credentials of the
// configured URL reach neither the name (the alertmanager metric label and
// every log line) nor an error, while the request still carries them.
func TestClientHidesURLSecrets(t *testing.T) {
	var gotQuery atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotQuery.Store(r.URL.RawQuery)
		http.Error(w, "no", http.StatusBadRequest)
	}))
	defer srv.Close()
	c, err := NewClient(srv.URL+"/?token=secret-token", time.Second, 0)
	if err != nil {
		t.Fatal(err)
	}
	if want := srv.URL + "/?token=xxxxx"; c.Name != want {
		t.Errorf("name %q, want %q", c.Name, want)
	}
	err = c.Post(context.Background(), []Alert{alert("echo", t0.Add(time.Hour))})
	if q, _ := gotQuery.Load().(string); q != "token=secret-token" {
		t.Errorf("Alertmanager got query %q, want the configured one", q)
	}
	if err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("refusal %v, want one without the token", err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := ln.Addr().String()
	ln.Close() // nothing listens there now
	c, err = NewClient("http://user:secret-password@"+refused+"/?token=secret-token", time.Second, 0)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Post(context.Background(), []Alert{alert("echo", t0.Add(time.Hour))})
	if err == nil || strings.Contains(err.Error(), "secret") || !strings.Contains(err.Error(), "refused") {
		t.Errorf("error %v, want connection refused without the password or the token", err)
	}
	for _, bad := range []string{"am.example:9093/?token=secret-token", "user:secret-password@am.example"} {
		if _, err := NewClient(bad, time.Second, 0); err == nil || strings.Contains(err.Error(), "secret") {
			t.Errorf("NewClient(%q): error %v, want a refusal without the secret", bad, err)
		}
	}
}

// TestClientRefusalIsOneSafeLine: what a broken or hostile server answers
// (its status line, the start of its body) reaches the error as one line
// without control characters, escape sequences or bidi controls.
func TestClientRefusalIsOneSafeLine(t *testing.T) {
	addr := rawServer(t, "400 Bad\x1b[31m Request", "no\n{\"level\":\"error\"}\x1b]0;owned\x07\u202eevil\x00!")
	c, err := NewClient("http://"+addr, time.Second, 0)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Post(context.Background(), []Alert{alert("echo", t0.Add(time.Hour))})
	if err == nil {
		t.Fatal("Post succeeded against a refusal")
	}
	msg := err.Error()
	if strings.ContainsAny(msg, "\n\r\x1b\x07\x00\u202e") {
		t.Errorf("error %q carries control characters", msg)
	}
	if want := `HTTP status 400 Bad Request after 1 attempt(s): no {"level":"error"}evil!`; !strings.Contains(msg, want) {
		t.Errorf("error %q, want it to contain %q", msg, want)
	}
}

// rawServer answers every request with status and body, as written.
func rawServer(t *testing.T, status, body string) string {
	response := fmt.Sprintf("HTTP/1.1 %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", status, len(body), body)
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				req, err := http.ReadRequest(bufio.NewReader(conn))
				if err == nil {
					_, _ = io.Copy(io.Discard, req.Body)
					_, _ = io.WriteString(conn, response)
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// TestClientRefusesZeroTimeout: no deadline is never "the default deadline",
// and the refusal does not show the URL's password.
func TestClientRefusesZeroTimeout(t *testing.T) {
	for _, timeout := range []time.Duration{0, -time.Second} {
		_, err := NewClient("https://user:secret@am.example:9093/", timeout, 0)
		want := fmt.Sprintf("the push deadline must be greater than 0, got %s", timeout)
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "secret") {
			t.Errorf("timeout %s: error %v, want %q without the password", timeout, err, want)
		}
	}
}

type observed struct {
	mu           sync.Mutex
	sent, failed int
	queued       map[string]int
}

func (o *observed) AlertsSent(am string, n int, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if err != nil {
		o.failed++
	} else {
		o.sent++
	}
}

func (o *observed) AlertsQueued(am string, n int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.queued[am] = n
}

func (o *observed) AlertsFiring(map[string]int) {}

// A down Alertmanager loses nothing: what it missed (the resolution above
// all) goes out with the next cycle's push.
func TestNotifierRetriesOnTheNextCycle(t *testing.T) {
	am := newAlertmanager(t, 503)
	c, _ := NewClient(am.srv.URL, time.Second, 0)
	obs := &observed{queued: map[string]int{}}
	now := t0
	n := NewNotifier([]*Client{c}, 4*time.Minute, obs, zerolog.Nop(), func() time.Time { return now })
	ctx := context.Background()

	n.Notify([]Alert{alert("echo", now.Add(4*time.Minute))}, []Alert{alert("foxtrot", now)}, true)
	if err := n.Flush(ctx); err == nil {
		t.Fatal("push to a down Alertmanager succeeded")
	}
	if obs.queued[c.Name] != 2 || obs.failed != 1 {
		t.Errorf("queued %d, failed %d after a failed push", obs.queued[c.Name], obs.failed)
	}

	am.setStatuses(200)
	now = now.Add(time.Minute)
	n.Notify([]Alert{alert("echo", now.Add(4*time.Minute))}, nil, false)
	if err := n.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	b := am.batches()
	if len(b) != 1 || len(b[0]) != 2 {
		t.Fatalf("Alertmanager got %+v, want echo firing and foxtrot resolved in one push", b)
	}
	if obs.queued[c.Name] != 0 || obs.sent != 1 {
		t.Errorf("queued %d, sent %d after delivery", obs.queued[c.Name], obs.sent)
	}

	// Delivered and not due for a re-send: nothing goes out.
	n.Notify([]Alert{alert("echo", now.Add(4*time.Minute))}, nil, false)
	if err := n.Flush(ctx); err != nil || len(am.batches()) != 1 {
		t.Errorf("pushed again without a reason: %v, %d pushes", err, len(am.batches()))
	}
}

func TestNotifierDropsObsoleteResolutions(t *testing.T) {
	am := newAlertmanager(t, 503)
	c, _ := NewClient(am.srv.URL, time.Second, 0)
	now := t0
	n := NewNotifier([]*Client{c}, 4*time.Minute, nil, zerolog.Nop(), func() time.Time { return now })
	n.Notify(nil, []Alert{alert("foxtrot", now), alert("golf", now)}, false)
	_ = n.Flush(context.Background())

	// golf fires again: its resolution is obsolete. foxtrot's last firing
	// endsAt has passed: Alertmanager resolved it by itself.
	now = now.Add(5 * time.Minute)
	am.setStatuses(200)
	n.Notify([]Alert{alert("golf", now.Add(4*time.Minute))}, nil, true)
	if err := n.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	b := am.batches()
	if len(b) != 1 || len(b[0]) != 1 || b[0][0].Labels["tool"] != "golf" || !b[0][0].EndsAt.After(now) {
		t.Errorf("Alertmanager got %+v, want golf firing only", b)
	}
}

// Notify never waits for an Alertmanager, and one hung Alertmanager does
// not delay the others.
func TestNotifierNeverBlocks(t *testing.T) {
	hung := newAlertmanager(t)
	hung.hang = make(chan struct{})
	defer close(hung.hang)
	fine := newAlertmanager(t)
	ch, _ := NewClient(hung.srv.URL, 30*time.Second, 0)
	cf, _ := NewClient(fine.srv.URL, 30*time.Second, 0)
	n := NewNotifier([]*Client{ch, cf}, time.Minute, nil, zerolog.Nop(), time.Now)
	ctx, cancel := context.WithCancel(context.Background())
	n.Start(ctx)
	defer func() { cancel(); n.Wait() }()

	var delivered atomic.Bool
	began := time.Now()
	for i := range 5 {
		n.Notify([]Alert{alert("echo", time.Now().Add(time.Minute))}, nil, i == 0)
	}
	if took := time.Since(began); took > 100*time.Millisecond {
		t.Errorf("Notify took %s with a hung Alertmanager", took)
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) && !delivered.Load() {
		delivered.Store(len(fine.batches()) > 0)
		time.Sleep(10 * time.Millisecond)
	}
	if !delivered.Load() {
		t.Error("the working Alertmanager got nothing while the other one hung")
	}
}
