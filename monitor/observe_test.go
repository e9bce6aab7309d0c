package monitor

import (
	"errors"
	"testing"
	"time"

	"webservicemonitor/sources/manifest"
	"webservicemonitor/sources/proxy"
	"webservicemonitor/sources/qstat"
)

// observeCase is what the sources say about tool "a", and what observe must
// make of it.
type observeCase struct {
	name    string
	jobs    []qstat.Job
	proxy   proxy.Snapshot
	gridErr error
	proxErr error
	want    observation
}

// observeCases has a case for every sentence observe writes.
func observeCases() []observeCase {
	running := func(mod func(*qstat.Job)) []qstat.Job {
		return []qstat.Job{withJob(mod, job(42, "a", "lighttpd", "r"))}
	}
	letters := func(s string) []qstat.Job {
		return []qstat.Job{withJob(func(j *qstat.Job) { j.Submitted = time.Time{} }, job(42, "a", "lighttpd", s))}
	}
	pendingFor := func(d time.Duration) []qstat.Job {
		return []qstat.Job{withJob(func(j *qstat.Job) { j.Submitted = t0.Add(-d) }, job(42, "a", "lighttpd", "qw"))}
	}
	keep := func(*qstat.Job) {}
	return []observeCase{
		{"grid failed", nil, registered(), errors.New("exit 1"), nil,
			observation{ActionWait, CodeGridUnknown, "grid state unknown (qstat failed this cycle); not restarting", "", nil}},
		{"no job", nil, registered(), nil, nil,
			observation{ActionRestart, CodeNoJob, "no lighttpd-a job on the grid", PhaseNone, nil}},
		{"error", letters("Eqw"), registered(), nil, nil,
			observation{ActionRestart, CodeJobError, "job 42 (lighttpd-a) is stuck in error state Eqw", PhaseError, nil}},
		{"deleting", letters("dr"), registered(), nil, nil,
			observation{ActionWait, CodeJobDeleting, "job 42 (lighttpd-a) is being deleted (dr); waiting until 2026-11-21T12:05:00Z before clearing it", PhaseDeleting, nil}},
		{"suspended", letters("s"), registered(), nil, nil,
			observation{ActionWait, CodeSuspended, "job 42 (lighttpd-a) is suspended (s); a suspended job is not restarted", PhaseSuspended, nil}},
		{"held", letters("hqw"), registered(), nil, nil,
			observation{ActionWait, CodeHeld, "job 42 (lighttpd-a) is on hold (hqw); a held job is not restarted", PhaseHeld, nil}},
		{"unknown letters", letters("rz"), registered(), nil, nil,
			observation{ActionWait, CodeUnknownState, `job 42 (lighttpd-a) is in state letters "rz" this supervisor does not know; not touching it`, PhaseUnknown, nil}},
		{"pending, submitted at an unknown time", letters("qw"), registered(), nil, nil,
			observation{ActionWait, CodePending, "job 42 (lighttpd-a) is pending (qw)", PhasePending, nil}},
		{"pending", pendingFor(time.Minute), registered(), nil, nil,
			observation{ActionWait, CodePending, "job 42 (lighttpd-a) is pending (qw) for 1m0s", PhasePending, nil}},
		{"pending too long", pendingFor(20 * time.Minute), registered(), nil, nil,
			observation{ActionWait, CodePendingTooLong, "job 42 (lighttpd-a) is pending (qw) for 20m0s, longer than 10m0s: check the queue", PhasePending, nil}},
		{"proxy failed", running(keep), registered(), nil, errors.New("500"),
			observation{ActionWait, CodeProxyUnknown, "job 42 (lighttpd-a) is running (r); registration unknown (proxy /list failed this cycle); not restarting", PhaseRunning, nil}},
		{"checking off", running(keep), proxy.Snapshot{}, nil, nil,
			observation{ActionNone, CodeUnchecked, "job 42 (lighttpd-a) is running (r); proxy registration checking is off (empty active-proxy file)", PhaseRunning, nil}},
		{"registered, two jobs", append(running(keep), job(7, "a", "lighttpd", "Eqw")), registered("a"), nil, nil,
			observation{ActionNone, CodeHealthy, "job 42 (lighttpd-a; also job 7 in Eqw) is running (r) and registered with proxy proxy-01", PhaseRunning, ptr(true)}},
		{"registering", running(func(j *qstat.Job) { j.Started = t0.Add(-30 * time.Second) }), registered(), nil, nil,
			observation{ActionWait, CodeRegistering, "job 42 (lighttpd-a) is running (r) since 30s; waiting up to 2m0s for it to register with proxy proxy-01", PhaseRunning, ptr(false)}},
		{"registration inactive", running(keep), proxy.Snapshot{Proxy: "proxy-01", Enabled: true, Registrations: map[string]proxy.Registration{"a": {Status: "inactive"}}}, nil, nil,
			observation{ActionRestart, CodeUnregistered, `job 42 (lighttpd-a) is running (r) but its registration with proxy proxy-01 is "inactive"`, PhaseRunning, ptr(false)}},
		{"not registered", running(keep), registered(), nil, nil,
			observation{ActionRestart, CodeUnregistered, "job 42 (lighttpd-a) is running (r) but not registered with proxy proxy-01", PhaseRunning, ptr(false)}},
	}
}

// The sentences are shown in the log, the audit, service.log and alerts, and
// the e2e suites match them: each is pinned here, byte for byte.
func TestObserveSentences(t *testing.T) {
	for _, tt := range observeCases() {
		t.Run(tt.name, func(t *testing.T) {
			in := Inputs{Manifests: manifest.Scan{Manifests: []manifest.Manifest{mf("a", "lighttpd")}},
				Jobs: tt.jobs, GridErr: tt.gridErr, Proxy: tt.proxy, ProxyErr: tt.proxErr, Now: t0}
			v, p := join(&in).view(0), testPolicy()
			got := observe(&v, &in, &p)
			if got.action != tt.want.action || got.code != tt.want.code || got.phase != tt.want.phase {
				t.Errorf("got %s/%s/%s, want %s/%s/%s", got.action, got.code, got.phase, tt.want.action, tt.want.code, tt.want.phase)
			}
			if got.reason != tt.want.reason {
				t.Errorf("reason\n  %q\nwant\n  %q", got.reason, tt.want.reason)
			}
			if (got.registered == nil) != (tt.want.registered == nil) || got.registered != nil && *got.registered != *tt.want.registered {
				t.Errorf("registered = %v, want %v", got.registered, tt.want.registered)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }
