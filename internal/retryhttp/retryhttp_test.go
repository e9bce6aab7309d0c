package retryhttp

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

func TestDo(t *testing.T) {
	tests := []struct {
		name         string
		statuses     []int // answers in turn; the last repeats
		retries      int
		wantStatus   int
		wantAttempts int
	}{
		{"ok at once", []int{200}, 2, 200, 1},
		{"503 then ok", []int{503, 200}, 2, 200, 2},
		{"500 until the retries run out: the last answer comes back", []int{500}, 2, 500, 3},
		{"no retries", []int{500}, 0, 500, 1},
		{"negative retries mean none", []int{500}, -1, 500, 1},
		{"4xx is not retried", []int{404}, 2, 404, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hits atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n := int(hits.Add(1)) - 1
				status := tt.statuses[min(n, len(tt.statuses)-1)]
				// A long Retry-After must not stretch the wait past WaitMax.
				w.Header().Set("Retry-After", "3600")
				w.WriteHeader(status)
			}))
			defer srv.Close()
			req, err := retryablehttp.NewRequestWithContext(context.Background(), http.MethodGet, srv.URL, nil)
			if err != nil {
				t.Fatal(err)
			}
			began := time.Now()
			resp, attempts, err := Do(srv.Client(), req, tt.retries)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus || attempts != tt.wantAttempts || int(hits.Load()) != tt.wantAttempts {
				t.Errorf("status %d, attempts %d, hits %d; want %d, %d", resp.StatusCode, attempts, hits.Load(), tt.wantStatus, tt.wantAttempts)
			}
			if elapsed := time.Since(began); elapsed > time.Duration(tt.wantAttempts)*WaitMax+time.Second {
				t.Errorf("took %s: Retry-After was not capped", elapsed)
			}
		})
	}
}

func TestDoGivesUpAtTheDeadline(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(503)
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	req, _ := retryablehttp.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	began := time.Now()
	resp, _, err := Do(srv.Client(), req, 100)
	if err == nil || resp != nil {
		t.Fatalf("err %v, resp %v: want the deadline's error and no response", err, resp)
	}
	if time.Since(began) > 2*time.Second {
		t.Errorf("took %s past a 300ms deadline", time.Since(began))
	}
}

// TestDoErrorHidesURLSecrets: the URL net/http puts in its error shows no
// credentials and no query values, whatever the URL and the failure.
func TestDoErrorHidesURLSecrets(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := ln.Addr().String()
	ln.Close() // nothing listens there now
	redirecting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/again?session=secret-session", http.StatusFound)
	}))
	defer redirecting.Close()
	tests := []struct {
		name, url, want string
	}{
		{"connection refused", "http://user:secret-password@" + refused + "/list?token=secret-token",
			"http://" + refused + "/list?token=xxxxx"},
		{"too many redirects", redirecting.URL + "/list?token=secret-token", `"/again?session=xxxxx": stopped after 10 redirects`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := retryablehttp.NewRequestWithContext(context.Background(), http.MethodGet, tt.url, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = Do(&http.Client{}, req, 0)
			if err == nil {
				t.Fatal("Do succeeded")
			}
			if strings.Contains(err.Error(), "secret") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want it to name %s and show no secret", err, tt.want)
			}
			var urlErr *url.Error
			if !errors.As(err, &urlErr) {
				t.Errorf("error %T is no longer a *url.Error", err)
			}
		})
	}
}
