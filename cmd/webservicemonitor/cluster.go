package main

// Several hosts sharing one restart history through etcd (--etcd-endpoints):
// the client, the store, the elector, and what they change in the cycle.
// Without endpoints none of this exists and the daemon is the single host
// it always was.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	clientv3 "go.etcd.io/etcd/client/v3"

	"webservicemonitor/alerts"
	"webservicemonitor/ha"
	"webservicemonitor/internal/buildinfo"
	"webservicemonitor/internal/config"
	"webservicemonitor/internal/zaplog"
	"webservicemonitor/monitor"
	"webservicemonitor/state/etcdstore"
)

const (
	etcdDialTimeout    = 5 * time.Second
	etcdRequestTimeout = 5 * time.Second
	// alertMemoryTimeout bounds a load or save of the firing alerts: the
	// store's own tries of etcdRequestTimeout each.
	alertMemoryTimeout = 3 * etcdRequestTimeout
)

// cluster is this host's part in the group sharing a history.
type cluster struct {
	cli     *clientv3.Client
	store   *etcdstore.Store
	elector *ha.Elector
	host    string
	done    chan struct{} // closed when the elector has stepped down for good
	// marks refuse a history this host saw and that is gone; read-only
	// but in a daemon's (or --once's) cycles, which hold the daemon lock.
	marks *ha.HistoryMarks

	mu     sync.Mutex
	onGain []func() // called on each win, in order, from one goroutine
}

// joinCluster connects to etcd when endpoints are configured; nil, nil on
// a single host.
func joinCluster(cfg *config.Config, log zerolog.Logger) (*cluster, error) {
	if !shared(cfg) {
		return nil, nil
	}
	host := cfg.HostName
	if host == "" {
		var err error
		if host, err = os.Hostname(); err != nil {
			return nil, fmt.Errorf("naming this host for the election: %w", err)
		}
	}
	keys, err := etcdstore.NewKeys(cfg.EtcdPrefix)
	if err != nil {
		return nil, fmt.Errorf("etcd-prefix: %w", err)
	}
	tlsCfg, err := etcdTLS(cfg)
	if err != nil {
		return nil, err
	}
	// gRPC keepalives: a connection to a frozen member is dropped within
	// about two of them, before the lease (leader-ttl) could run out on it.
	keepAlive := max(cfg.LeaderTTL/6, time.Second)
	cli, err := clientv3.New(clientv3.Config{
		Endpoints: cfg.EtcdEndpoints, DialTimeout: etcdDialTimeout, TLS: tlsCfg,
		DialKeepAliveTime: keepAlive, DialKeepAliveTimeout: keepAlive,
		Logger: zaplog.New(log, "etcd-client"), // its warnings and errors only
	})
	if err != nil {
		return nil, fmt.Errorf("connecting to etcd at %s: %w", strings.Join(cfg.EtcdEndpoints, ","), err)
	}
	me := ha.LeaderInfo{Host: host, PID: os.Getpid(), Version: buildinfo.Get().Version}
	return &cluster{
		cli: cli, store: etcdstore.New(cli, keys, etcdRequestTimeout),
		elector: ha.NewElector(cli, keys, cfg.LeaderTTL, me, log),
		host:    host, done: make(chan struct{}),
		marks: &ha.HistoryMarks{Path: ha.MarksPath(cfg.StateFile), ReadOnly: true},
	}, nil
}

// etcdTLS is the client's TLS: nil for plain http endpoints without
// certificates, else TLS 1.2 or later with the configured CA and client pair.
func etcdTLS(cfg *config.Config) (*tls.Config, error) {
	https := false
	for _, e := range cfg.EtcdEndpoints {
		https = https || strings.HasPrefix(e, "https://")
	}
	if !https && cfg.EtcdCert == "" && cfg.EtcdCA == "" {
		return nil, nil
	}
	t := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.EtcdCert != "" {
		pair, err := tls.LoadX509KeyPair(cfg.EtcdCert, cfg.EtcdKey)
		if err != nil {
			return nil, fmt.Errorf("loading etcd-cert %s and etcd-key %s: %w", cfg.EtcdCert, cfg.EtcdKey, err)
		}
		t.Certificates = []tls.Certificate{pair}
	}
	if cfg.EtcdCA != "" {
		pem, err := os.ReadFile(cfg.EtcdCA)
		if err != nil {
			return nil, fmt.Errorf("reading etcd-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("etcd-ca %s holds no PEM certificate", cfg.EtcdCA)
		}
		t.RootCAs = pool
	}
	return t, nil
}

// campaign runs the elector until leave is called. leave steps down (the
// lease revoked: another host takes over at once) and disconnects; the
// daemon calls it after its last cycle, so that its restarts' outcomes are
// still recorded during the shutdown grace.
func (c *cluster) campaign() (leave func()) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		defer close(c.done)
		c.elector.Run(ctx)
	}()
	gains := make(chan struct{})
	go func() {
		defer close(gains)
		c.tellGains(ctx)
	}()
	return func() {
		cancel()
		<-c.done
		<-gains
		c.cli.Close()
	}
}

// whenGained has f called each time this host wins: the elector signals
// one receiver, and a win concerns several (the daemon's immediate cycle,
// the alerts' memory, --once's wait).
func (c *cluster) whenGained(f func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.onGain = append(c.onGain, f)
}

// tellGains passes each win on to whenGained's functions until ctx ends.
func (c *cluster) tellGains(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.elector.Gained():
			c.mu.Lock()
			fs := slices.Clone(c.onGain)
			c.mu.Unlock()
			for _, f := range fs {
				f()
			}
		}
	}
}

// notifyOn makes a whenGained function of ch: a win waits there, without
// blocking, until taken.
func notifyOn(ch chan struct{}) func() {
	return func() {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// awaitLeadership waits until this host leads or wait has passed (--once:
// one cycle, acting only if this host wins in time); it says whether this
// host leads.
func (c *cluster) awaitLeadership(ctx context.Context, wait time.Duration) bool {
	won := make(chan struct{}, 1)
	c.whenGained(notifyOn(won))
	t := time.NewTimer(wait)
	defer t.Stop()
	for !c.Leading() {
		select {
		case <-won:
		case <-t.C:
			return c.Leading()
		case <-ctx.Done():
			return c.Leading()
		}
	}
	return true
}

// Leading says whether this host may act now; as the daemon's
// monitor.Role it picks, at each tick, the acting cycle or the standby's.
func (c *cluster) Leading() bool {
	_, ok := c.elector.Leading()
	return ok
}

// whoLeads is who leads now, for the reports (monitor.WhoLeads).
func (c *cluster) whoLeads(ctx context.Context) (monitor.Leader, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, etcdRequestTimeout)
	defer cancel()
	info, ok, err := c.elector.Leader(ctx)
	return monitor.Leader{Host: info.Host, PID: info.PID, Since: info.Since}, ok, err
}

// rememberHistories makes the cycles of a daemon (or --once), which holds
// the state file's lock, mark the etcd history as seen beside that file,
// as the state file's own marker does; every cycle refuses it once gone.
func (c *cluster) rememberHistories(cfg *config.Config) {
	c.marks = &ha.HistoryMarks{Path: ha.MarksPath(cfg.StateFile)}
}

// share makes the acting cycle's parts those of one host among several:
// the history in etcd fenced on the leadership, the pre-exec check, the
// host on each attempt, and the hold on a restart another host started.
func (c *cluster) share(cfg *config.Config, parts *monitor.Parts) {
	c.watch(cfg, parts)
	parts.History = ha.EtcdHistory{Store: c.store, Leader: c.elector, Marks: c.marks}
	parts.Leadership = c.elector
}

// watch makes a read-only cycle's parts (a standby's, an audit's) those of
// one host among several: the history read from etcd, the leader named in
// its report, and the plan this host would make if it led (its host, the
// hold on a restart another host started).
func (c *cluster) watch(cfg *config.Config, parts *monitor.Parts) {
	parts.History = ha.EtcdHistory{Store: c.store, ReadOnly: true, Marks: c.marks}
	parts.WhoLeads = c.whoLeads
	parts.Host = c.host
	// A deposed leader's restart may still run for restart-timeout; the
	// grace of one interval covers its verification.
	parts.Policy.InFlightElsewhere = cfg.RestartTimeout + cfg.Interval
}

// alertMemory is the firing alerts' memory shared in etcd.
func (c *cluster) alertMemory() alerts.Memory {
	return ha.AlertMemory{Store: c.store, Leader: c.elector, Timeout: alertMemoryTimeout}
}

// unshared names what the command line asks for that knows only the state
// file, when the history is in etcd: a rollback or reset of it would
// change nothing the daemons use. (The admin commands, status, the audit
// and state export/import use etcd.)
func unshared(cfg *config.Config) string {
	if !shared(cfg) {
		return ""
	}
	switch {
	case cfg.MigrateDown >= 0:
		return "--migrate-down"
	case cfg.ResetHistory:
		return "--reset-history"
	}
	return ""
}
