package rig

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// AlertmanagerBinary is Debian's name for the Alertmanager binary
// (package prometheus-alertmanager).
const AlertmanagerBinary = "prometheus-alertmanager"

// Alertmanager is Debian's Alertmanager run for one test: on a loopback
// port that stays the same across restarts, without clustering, with fresh
// storage at each start. Its one route groups by alertname, tool and
// source, waits a second before the first notification of a group, and
// repeats one only after an hour, so that each page is notified once.
type Alertmanager struct {
	Addr   string // 127.0.0.1:port
	Proc   *Proc  // the one started last
	t      testing.TB
	config string
}

// NewAlertmanager writes the configuration of an Alertmanager notifying
// webhookURL (with resolved notifications), or nobody when it is "", and
// picks its port; Start starts it.
func NewAlertmanager(t testing.TB, webhookURL string) *Alertmanager {
	t.Helper()
	if _, err := exec.LookPath(AlertmanagerBinary); err != nil {
		t.Fatalf("%s is not installed (e2e/observability/install.sh installs it): %v", AlertmanagerBinary, err)
	}
	receiver := "  - name: test\n"
	if webhookURL != "" {
		receiver += fmt.Sprintf("    webhook_configs:\n      - url: %s\n        send_resolved: true\n", webhookURL)
	}
	config := `route:
  receiver: test
  group_by: [alertname, tool, source]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
` + receiver
	path := filepath.Join(t.TempDir(), "alertmanager.yml")
	if err := os.WriteFile(path, []byte(config), 0o644); err != nil {
		t.Fatalf("writing the Alertmanager configuration: %v", err)
	}
	return &Alertmanager{Addr: FreePort(t), t: t, config: path}
}

// StartAlertmanager is NewAlertmanager then Start.
func StartAlertmanager(t testing.TB, webhookURL string) *Alertmanager {
	t.Helper()
	a := NewAlertmanager(t, webhookURL)
	a.Start()
	return a
}

// Start starts the Alertmanager with empty storage and waits until it is
// ready. It is killed at the test's cleanup.
func (a *Alertmanager) Start() *Proc {
	a.t.Helper()
	a.Proc = Start(a.t, "alertmanager", AlertmanagerBinary,
		"--config.file="+a.config,
		"--storage.path="+a.t.TempDir(),
		"--web.listen-address="+a.Addr,
		"--cluster.listen-address=",
		"--log.level=debug")
	WaitFor(a.t, 60*time.Second, "Alertmanager to be ready", func() (bool, string) {
		if a.Proc.Exited() {
			a.t.Fatalf("Alertmanager exited: %s", Tail(a.Proc.Log, 20))
		}
		return Ready(a.URL() + "/-/ready")()
	})
	return a.Proc
}

// URL is the Alertmanager's base URL, as the supervisor's
// --alertmanager-url takes it.
func (a *Alertmanager) URL() string { return "http://" + a.Addr }

// Alerts lists the alerts the Alertmanager holds (API v2). A resolved
// alert — endsAt in the past — is not listed.
func (a *Alertmanager) Alerts() ([]AMAlert, error) {
	var out []AMAlert
	if err := GetJSON(a.URL()+"/api/v2/alerts", &out); err != nil {
		return nil, fmt.Errorf("listing the alerts of Alertmanager %s: %w", a.Addr, err)
	}
	return out, nil
}

// AMAlert is one alert as Alertmanager's API v2 lists it.
type AMAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	StartsAt    time.Time         `json:"startsAt"`
	EndsAt      time.Time         `json:"endsAt"`
	Fingerprint string            `json:"fingerprint"`
	Status      struct {
		State string `json:"state"`
	} `json:"status"`
}

// Named returns the alerts whose alertname label is alertname.
func Named(alerts []AMAlert, alertname string) []AMAlert {
	var out []AMAlert
	for _, a := range alerts {
		if a.Labels["alertname"] == alertname {
			out = append(out, a)
		}
	}
	return out
}

// Webhook is a receiver Alertmanager notifies: it records every alert of
// every notification, in order.
type Webhook struct {
	URL  string
	mu   sync.Mutex
	msgs []HookAlert
}

// HookAlert is one alert of a webhook notification.
type HookAlert struct {
	Status      string            `json:"status"` // firing or resolved
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	StartsAt    time.Time         `json:"startsAt"`
	Fingerprint string            `json:"fingerprint"`
}

// NewWebhook serves a Webhook on a loopback port until the test's cleanup.
func NewWebhook(t testing.TB) *Webhook {
	h := &Webhook{}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	h.URL = srv.URL + "/hook"
	return h
}

func (h *Webhook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var msg struct {
		Alerts []HookAlert `json:"alerts"`
	}
	if err := json.NewDecoder(r.Body).Decode(&msg); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	h.msgs = append(h.msgs, msg.Alerts...)
	h.mu.Unlock()
}

// Notified returns every alert notified so far, in order.
func (h *Webhook) Notified() []HookAlert {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]HookAlert(nil), h.msgs...)
}

// Seen returns, in order, the statuses notified for alerts with the label.
func (h *Webhook) Seen(label, value string) []string {
	var out []string
	for _, a := range h.Notified() {
		if a.Labels[label] == value {
			out = append(out, a.Status)
		}
	}
	return out
}
