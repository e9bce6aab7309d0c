package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"webservicemonitor/state/etcdstore"
)

// Cluster is the metrics of one host of several sharing a history through
// etcd: who leads, and how etcd answers. It is the store's and the
// elector's Observer. Every series carries the host's name (host-name), so
// that a dashboard and the rules tell the hosts apart whatever the scrape
// relabels.
type Cluster struct {
	changes  *prometheus.CounterVec
	since    prometheus.Gauge
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	up       prometheus.Gauge
}

// ExportLeadership adds the series of a host named host in a cluster: the
// leader gauge, read at each scrape from leading (1 while this host may
// act, 0 while it stands by), and those the returned Cluster is told of.
// Only a daemon sharing its history with other hosts has them; a single
// host's scrape stays as it was.
func (m *Metrics) ExportLeadership(host string, leading func() bool) *Cluster {
	r := registrar{m.reg}
	host1 := prometheus.Labels{"host": host}
	r.register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: namespace, Name: "leader", ConstLabels: host1,
		Help: "1 while this host is the one of several that acts (it holds the leadership in etcd and its lease is renewed), 0 while it stands by.",
	}, func() float64 { return boolean(leading()) }))
	c := &Cluster{
		changes: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "leader_changes_total", ConstLabels: host1,
			Help: "Times this host gained and lost the leadership, by change: gained, lost."}, []string{"change"}),
		since: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Name: "leader_since_timestamp_seconds", ConstLabels: host1,
			Help: "When this host last gained the leadership; 0 while it does not lead."}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "store_requests_total", ConstLabels: host1,
			Help: "Operations on etcd, by op (read, commit, action, alerts, dump, campaign, keepalive) and result: ok, not-leader (refused by the fence), " +
				"unavailable (no answer in time: etcd down, without quorum or unreachable), error."}, []string{"op", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Name: "store_request_duration_seconds", ConstLabels: host1,
			Help:    "How long each operation on etcd took, retries included, by op.",
			Buckets: []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20}}, []string{"op"}),
		up: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Name: "store_up", ConstLabels: host1,
			Help: "1 when etcd answered this host's last operation (a refusal is an answer), 0 when it did not."}),
	}
	for _, col := range []prometheus.Collector{c.changes, c.since, c.requests, c.duration, c.up} {
		r.register(col)
	}
	c.changes.WithLabelValues("gained")
	c.changes.WithLabelValues("lost")
	for _, op := range etcdstore.Ops() {
		c.duration.WithLabelValues(op)
		for _, res := range etcdstore.Results() {
			c.requests.WithLabelValues(op, res)
		}
	}
	return c
}

// StoreRequest implements etcdstore.Observer (and ha.Observer's part).
func (c *Cluster) StoreRequest(op string, took time.Duration, err error) {
	res := etcdstore.Result(err)
	c.requests.WithLabelValues(op, res).Inc()
	c.duration.WithLabelValues(op).Observe(took.Seconds())
	c.up.Set(boolean(res != etcdstore.ResultUnavailable))
}

// LeadershipChanged implements ha.Observer: this host gained (leading) or
// lost the leadership at at.
func (c *Cluster) LeadershipChanged(leading bool, at time.Time) {
	if leading {
		c.changes.WithLabelValues("gained").Inc()
		c.since.Set(seconds(at))
		return
	}
	c.changes.WithLabelValues("lost").Inc()
	c.since.Set(0)
}
