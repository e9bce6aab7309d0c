//go:build e2e

package ha

import (
	"context"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"

	"webservicemonitor/ha"
	"webservicemonitor/state/etcdstore"
)

// ttl is the election lease of the tests: etcd grants no less than ~2 s.
const ttl = 3 * time.Second

// gate blocks a client's traffic while closed, in both directions: a
// host paused (SIGSTOP, a VM freeze) or cut off, as its etcd peers see it.
type gate struct {
	mu   sync.Mutex
	open chan struct{} // closed while the gate is open
}

func newGate() *gate {
	g := &gate{open: make(chan struct{})}
	close(g.open)
	return g
}

func (g *gate) wait() {
	g.mu.Lock()
	ch := g.open
	g.mu.Unlock()
	<-ch
}

func (g *gate) Close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.open = make(chan struct{})
}

func (g *gate) Open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.open:
	default:
		close(g.open)
	}
}

type gatedConn struct {
	net.Conn
	g *gate
}

func (c gatedConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.g.wait()
	return n, err
}

func (c gatedConn) Write(b []byte) (int, error) {
	c.g.wait()
	return c.Conn.Write(b)
}

// client connects to the endpoints, through g when it is not nil.
func client(t testing.TB, endpoints []string, g *gate) *clientv3.Client {
	t.Helper()
	// gRPC keepalives close a connection to a member that stopped
	// answering without closing it (SIGSTOP, a frozen VM), so that the
	// lease's keepalives move to another member before the lease ends.
	cfg := clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop(),
		DialKeepAliveTime: time.Second, DialKeepAliveTimeout: time.Second}
	if g != nil {
		cfg.DialOptions = []grpc.DialOption{grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
			if err != nil {
				return nil, err
			}
			return gatedConn{Conn: c, g: g}, nil
		})}
	}
	cli, err := clientv3.New(cfg)
	if err != nil {
		t.Fatalf("connecting to etcd %v: %v", endpoints, err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// candidate is one host: its client, elector (running until the test
// ends or stop is called) and store.
type candidate struct {
	name    string
	cli     *clientv3.Client
	elector *ha.Elector
	store   *etcdstore.Store
	stop    context.CancelFunc
	done    chan struct{}
}

func startCandidate(t testing.TB, name string, cli *clientv3.Client, keys etcdstore.Keys, reqTimeout time.Duration) *candidate {
	t.Helper()
	log := zerolog.New(zerolog.NewTestWriter(t)).With().Str("host", name).Timestamp().Logger()
	if os.Getenv("WSM_HA_QUIET") != "" {
		log = zerolog.Nop()
	}
	c := &candidate{
		name:    name,
		cli:     cli,
		elector: ha.NewElector(cli, keys, ttl, ha.LeaderInfo{Host: name, PID: os.Getpid()}, log),
		store:   etcdstore.New(cli, keys, reqTimeout),
		done:    make(chan struct{}),
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.stop = func() { cancel(); <-c.done }
	go func() { defer close(c.done); c.elector.Run(ctx) }()
	t.Cleanup(c.stop)
	return c
}

// waitLeading waits until c leads and returns its fence.
func waitLeading(t testing.TB, c *candidate, timeout time.Duration) etcdstore.Fence {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if f, ok := c.elector.Leading(); ok {
			return f
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not become the leader within %s", c.name, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// keysFor is a fresh prefix per test, so tests share no keys.
func keysFor(t testing.TB) etcdstore.Keys {
	t.Helper()
	k, err := etcdstore.NewKeys("/wsm-e2e-" + t.Name() + "/")
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// put is one fenced put of key=value.
func put(ctx context.Context, s *etcdstore.Store, f etcdstore.Fence, key, value string) error {
	return s.Write(ctx, f, []etcdstore.Write{{Key: key, Value: []byte(value)}})
}

// value reads key; "" when missing.
func value(t *testing.T, cli *clientv3.Client, key string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := cli.Get(ctx, key)
	if err != nil {
		t.Fatalf("reading %s: %v", key, err)
	}
	if len(resp.Kvs) == 0 {
		return ""
	}
	return string(resp.Kvs[0].Value)
}
