package accounts

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestParsePasswd(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    map[string]Account
		wantErr string // substring; "" means success
	}{
		{
			name: "accounts, comments and blank lines",
			in:   "# comment\n\nroot:x:0:0:root:/root:/bin/bash\ntools.a:x:51001:51002:A, the tool:/data/project/a:/bin/sh\n",
			want: map[string]Account{
				"root":    {Name: "root", UID: 0, GID: 0, Home: "/root"},
				"tools.a": {Name: "tools.a", UID: 51001, GID: 51002, Home: "/data/project/a"},
			},
		},
		{name: "empty file", in: "", want: map[string]Account{}},
		{name: "no trailing newline", in: "a:x:1:2::/h:", want: map[string]Account{"a": {Name: "a", UID: 1, GID: 2, Home: "/h"}}},
		{name: "too few fields", in: "root:x:0:0:/root:/bin/bash\n", wantErr: "f line 1: has 6 colon-separated fields"},
		{name: "too many fields", in: "ok:x:1:1::/h:/s\nroot:x:0:0::/root:/bin/bash:extra\n", wantErr: "f line 2: has 8"},
		{name: "empty name", in: ":x:0:0::/root:/bin/bash\n", wantErr: "line 1: empty account name"},
		{name: "uid not a number", in: "a:x:abc:0::/h:/s\n", wantErr: `line 1: account "a": uid: "abc"`},
		{name: "negative uid", in: "a:x:-1:0::/h:/s\n", wantErr: `uid: "-1"`},
		{name: "uid beyond 32 bits", in: "a:x:4294967296:0::/h:/s\n", wantErr: `uid: "4294967296"`},
		{name: "the no-id uid", in: "a:x:4294967295:0::/h:/s\n", wantErr: `uid: "4294967295"`},
		{name: "gid not a number", in: "a:x:1:g::/h:/s\n", wantErr: `gid: "g"`},
		{name: "duplicate account", in: "a:x:1:1::/h:/s\na:x:2:2::/h:/s\n", wantErr: `line 2: account "a" appears twice`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parsePasswd(strings.NewReader(tt.in), "f")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d accounts %v, want %v", len(got), got, tt.want)
			}
			for name, a := range tt.want {
				if got[name] != a {
					t.Errorf("%s: got %+v, want %+v", name, got[name], a)
				}
			}
		})
	}
}

func TestPasswdFileLookup(t *testing.T) {
	ctx := context.Background()
	r := NewPasswdFile(filepath.Join("testdata", "passwd"))
	a, err := r.Lookup(ctx, "tools.beta")
	if err != nil {
		t.Fatal(err)
	}
	if want := (Account{Name: "tools.beta", UID: 51002, GID: 51003, Home: "/data/project/beta"}); a != want {
		t.Errorf("got %+v, want %+v", a, want)
	}
	if _, err := r.Lookup(ctx, "tools.gamma"); !errors.Is(err, ErrUnknownAccount) {
		t.Errorf("unknown account: error = %v, want ErrUnknownAccount", err)
	}

	bad := NewPasswdFile(filepath.Join("..", "..", "testdata", "accounts", "passwd-bad-uid"))
	_, err = bad.Lookup(ctx, "tools.alpha")
	if err == nil || errors.Is(err, ErrUnknownAccount) || !strings.Contains(err.Error(), "passwd-bad-uid line 2") {
		t.Errorf("bad file: error = %v, want a non-unknown error naming the file and line 2", err)
	}

	if _, err := NewPasswdFile(filepath.Join(t.TempDir(), "missing")).Lookup(ctx, "root"); err == nil || errors.Is(err, ErrUnknownAccount) {
		t.Errorf("missing file: error = %v, want a non-unknown error", err)
	}
}

func TestPasswdFileRereadsWhenChanged(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "passwd")
	if err := os.WriteFile(path, []byte("tools.a:x:51001:51001::/h:/s\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := NewPasswdFile(path)
	if _, err := r.Lookup(ctx, "tools.b"); !errors.Is(err, ErrUnknownAccount) {
		t.Fatalf("before: error = %v, want ErrUnknownAccount", err)
	}
	if err := os.WriteFile(path, []byte("tools.a:x:51001:51001::/h:/s\ntools.b:x:51002:51002::/h:/s\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if a, err := r.Lookup(ctx, "tools.b"); err != nil || a.UID != 51002 {
		t.Fatalf("after: got %+v, %v; want uid 51002", a, err)
	}
}

// countingResolver is the inner resolver for cache tests: it answers from a
// map and counts how often it was asked.
type countingResolver struct {
	calls    atomic.Int64
	accounts map[string]Account
	fail     error // returned for every name when set
}

func (r *countingResolver) Lookup(ctx context.Context, name string) (Account, error) {
	r.calls.Add(1)
	if r.fail != nil {
		return Account{}, r.fail
	}
	a, ok := r.accounts[name]
	if !ok {
		return Account{}, errors.Join(errors.New(name), ErrUnknownAccount)
	}
	return a, nil
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestCache(t *testing.T) {
	alpha := Account{Name: "tools.alpha", UID: 51001, GID: 51001, Home: "/data/project/alpha"}
	type step struct {
		advance   time.Duration
		name      string
		wantUID   int  // when !wantUnknown
		unknown   bool // want ErrUnknownAccount
		wantCalls int64
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{name: "hit within ttl", steps: []step{
			{name: "tools.alpha", wantUID: 51001, wantCalls: 1},
			{advance: 59 * time.Second, name: "tools.alpha", wantUID: 51001, wantCalls: 1},
		}},
		{name: "expired at ttl", steps: []step{
			{name: "tools.alpha", wantUID: 51001, wantCalls: 1},
			{advance: 60 * time.Second, name: "tools.alpha", wantUID: 51001, wantCalls: 2},
			{advance: time.Second, name: "tools.alpha", wantUID: 51001, wantCalls: 2},
		}},
		{name: "names cached separately", steps: []step{
			{name: "tools.alpha", wantUID: 51001, wantCalls: 1},
			{name: "tools.gone", unknown: true, wantCalls: 2},
			{name: "tools.alpha", wantUID: 51001, wantCalls: 2},
		}},
		{name: "negative answer cached for negative ttl", steps: []step{
			{name: "tools.gone", unknown: true, wantCalls: 1},
			{advance: 9 * time.Second, name: "tools.gone", unknown: true, wantCalls: 1},
			{advance: time.Second, name: "tools.gone", unknown: true, wantCalls: 2},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inner := &countingResolver{accounts: map[string]Account{"tools.alpha": alpha}}
			clock := &fakeClock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
			c := NewCache(inner, time.Minute, 10*time.Second, clock.Now)
			for i, s := range tt.steps {
				clock.Advance(s.advance)
				a, err := c.Lookup(context.Background(), s.name)
				if s.unknown {
					if !errors.Is(err, ErrUnknownAccount) {
						t.Fatalf("step %d: error = %v, want ErrUnknownAccount", i, err)
					}
				} else if err != nil || a.UID != s.wantUID {
					t.Fatalf("step %d: got %+v, %v; want uid %d", i, a, err, s.wantUID)
				}
				if got := inner.calls.Load(); got != s.wantCalls {
					t.Fatalf("step %d: inner resolver called %d times, want %d", i, got, s.wantCalls)
				}
			}
		})
	}
}

func TestCacheDoesNotKeepOtherErrors(t *testing.T) {
	inner := &countingResolver{fail: errors.New("ldap server unreachable")}
	clock := &fakeClock{}
	c := NewCache(inner, time.Minute, time.Minute, clock.Now)
	for i := range 3 {
		_, err := c.Lookup(context.Background(), "tools.alpha")
		if err == nil || errors.Is(err, ErrUnknownAccount) {
			t.Fatalf("lookup %d: error = %v, want the outage error", i, err)
		}
	}
	if got := inner.calls.Load(); got != 3 {
		t.Errorf("inner resolver called %d times, want 3 (errors must not be cached)", got)
	}
}

// blockingResolver never answers until released, and ignores ctx, like a
// getpwnam_r call stuck on LDAP.
type blockingResolver struct {
	release chan struct{}
	calls   atomic.Int64
}

func (r *blockingResolver) Lookup(_ context.Context, name string) (Account, error) {
	r.calls.Add(1)
	<-r.release
	return Account{Name: name, UID: 51001}, nil
}

func TestCacheHonoursContext(t *testing.T) {
	inner := &blockingResolver{release: make(chan struct{})}
	c := NewCache(inner, time.Minute, time.Minute, time.Now)

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Lookup(ctx, "tools.alpha")
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), `"tools.alpha"`) {
		t.Fatalf("error = %v, want a wrapped deadline error naming the account", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Lookup returned after %v, want soon after the 50ms deadline", d)
	}

	// A second caller for the same name joins the lookup in flight.
	done := make(chan error, 1)
	go func() {
		_, err := c.Lookup(context.Background(), "tools.alpha")
		done <- err
	}()
	close(inner.release)
	if err := <-done; err != nil {
		t.Fatalf("after release: %v", err)
	}
	if _, err := c.Lookup(context.Background(), "tools.alpha"); err != nil {
		t.Fatal(err)
	}
	if got := inner.calls.Load(); got != 1 {
		t.Errorf("inner resolver called %d times, want 1 (shared in-flight lookup, then cached)", got)
	}

	cancelled, cancelNow := context.WithCancel(context.Background())
	cancelNow()
	if _, err := c.Lookup(cancelled, "tools.other"); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled ctx on a miss: error = %v, want context.Canceled", err)
	}
}

func TestCacheConcurrent(t *testing.T) {
	inner := &countingResolver{accounts: map[string]Account{"tools.a": {Name: "tools.a", UID: 51001}}}
	c := NewCache(inner, time.Minute, time.Minute, time.Now)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for range 1000 {
				if a, err := c.Lookup(context.Background(), "tools.a"); err != nil || a.UID != 51001 {
					t.Errorf("got %+v, %v", a, err)
					return
				}
				_, _ = c.Lookup(context.Background(), "tools.b")
			}
		})
	}
	wg.Wait()
	if got := inner.calls.Load(); got > 2*16 {
		t.Errorf("inner resolver called %d times for 2 names", got)
	}
}

func TestNSS(t *testing.T) {
	if !NSSViaLibc() {
		t.Log("built without cgo: os/user reads /etc/passwd only")
	}
	r := NewNSS(time.Minute, time.Minute, time.Now)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a, err := r.Lookup(ctx, "root")
	if err != nil {
		t.Fatal(err)
	}
	if a.Name != "root" || a.UID != 0 || a.GID != 0 {
		t.Errorf("root: got %+v, want uid 0 gid 0", a)
	}
	if _, err := r.Lookup(ctx, "tools.no-such-tool-xyzzy"); !errors.Is(err, ErrUnknownAccount) {
		t.Errorf("missing account: error = %v, want ErrUnknownAccount", err)
	}
}

func BenchmarkCacheHit(b *testing.B) {
	inner := &countingResolver{accounts: map[string]Account{"tools.a": {Name: "tools.a", UID: 51001}}}
	c := NewCache(inner, time.Hour, time.Hour, time.Now)
	ctx := context.Background()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.Lookup(ctx, "tools.a"); err != nil {
				b.Fatal(err)
			}
		}
	})
}
