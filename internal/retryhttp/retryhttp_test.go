package retryhttp

import (
	"context"
	"net/http"
	"net/http/httptest"
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
