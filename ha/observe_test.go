package ha

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"webservicemonitor/state/etcdstore"
)

type observed struct {
	mu      sync.Mutex
	ops     []string
	changes []bool
}

func (o *observed) StoreRequest(op string, _ time.Duration, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.ops = append(o.ops, op+" "+etcdstore.Result(err))
}

func (o *observed) LeadershipChanged(leading bool, _ time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.changes = append(o.changes, leading)
}

func (o *observed) snapshot() ([]string, []bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.ops...), append([]bool(nil), o.changes...)
}

// A host that cannot reach etcd tells its observer so at each try to open
// its election session, and never gains the leadership.
func TestElectorToldCampaignsFailing(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{"http://" + addr}, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	keys, _ := etcdstore.NewKeys("/p/")
	e := NewElector(cli, keys, 3*time.Second, LeaderInfo{Host: "cron-a"}, zerolog.Nop())
	o := &observed{}
	e.Observer = o
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.Run(ctx)
	}()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ops, _ := o.snapshot()
		if len(ops) > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	<-done
	ops, changes := o.snapshot()
	if len(ops) == 0 {
		t.Fatal("no request told in 60 s")
	}
	for _, op := range ops {
		if op != "campaign unavailable" {
			t.Errorf("told %q, want only campaign unavailable", ops)
			break
		}
	}
	if len(changes) != 0 {
		t.Errorf("leadership changes %v without etcd", changes)
	}
}

// Gaining and stepping down are each told once, in order; renewals are
// told as keepalives.
func TestElectorToldGainAndLoss(t *testing.T) {
	e := &Elector{log: zerolog.Nop(), lost: make(chan string, 1), gained: make(chan struct{}, 1)}
	o := &observed{}
	e.Observer = o
	e.changed(true)
	e.observe(context.Background(), etcdstore.OpKeepAlive, time.Now(), nil)
	e.stepDown("test")
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	e.observe(cancelled, etcdstore.OpKeepAlive, time.Now(), context.Canceled)
	ops, changes := o.snapshot()
	if len(changes) != 2 || !changes[0] || changes[1] {
		t.Errorf("changes %v, want [true false]", changes)
	}
	if len(ops) != 1 || ops[0] != "keepalive ok" {
		t.Errorf("ops %q, want one keepalive ok (a shutdown's cancellation not told)", ops)
	}
}
