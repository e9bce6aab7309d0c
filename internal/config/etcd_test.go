package config

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestEtcdSettings: the single-host mode is the default; TLS files go
// together, need endpoints and must exist.
func TestEtcdSettings(t *testing.T) {
	dir := t.TempDir()
	pem := filepath.Join(dir, "client.pem")
	if err := os.WriteFile(pem, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.pem")
	ep := "--etcd-endpoints=http://127.0.0.1:2379,http://127.0.0.1:2479"
	tests := []struct {
		name    string
		flags   []string
		wantErr string // "" when taken
	}{
		{"single host by default", nil, ""},
		{"endpoints alone", []string{ep}, ""},
		{"cert, key and ca", []string{ep, "--etcd-cert", pem, "--etcd-key", pem, "--etcd-ca", pem}, ""},
		{"cert without key", []string{ep, "--etcd-cert", pem}, "etcd-cert and etcd-key go together"},
		{"key without cert", []string{ep, "--etcd-key", pem}, "etcd-cert and etcd-key go together"},
		{"missing ca", []string{ep, "--etcd-ca", missing}, "etcd-ca: stat " + missing},
		{"ca without endpoints", []string{"--etcd-ca", pem}, "etcd-ca: given without etcd-endpoints"},
		{"endpoint not a URL", []string{"--etcd-endpoints", "127.0.0.1:2379"}, "is not an http(s) URL"},
		{"endpoint twice", []string{"--etcd-endpoints", "http://a:2379,http://a:2379"}, "is given twice"},
		{"prefix without slash", []string{"--etcd-prefix", "/wsm"}, "does not start and end with /"},
		{"ttl in fractions", []string{"--leader-ttl", "3500ms"}, "must be whole seconds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Load(append(checkArgs(t), tt.flags...), io.Discard)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("error %v, want one saying %q", err, tt.wantErr)
			case tt.name == "single host by default":
				if len(cfg.EtcdEndpoints) != 0 || cfg.EtcdPrefix != "/webservicemonitor/" || cfg.LeaderTTL != 20*time.Second {
					t.Errorf("defaults: endpoints %v, prefix %q, ttl %s", cfg.EtcdEndpoints, cfg.EtcdPrefix, cfg.LeaderTTL)
				}
			}
		})
	}
}

// TestTakeoverWarning: with etcd, a lease plus interval over two minutes
// is warned about (a standby takes over that late); not on a single host.
func TestTakeoverWarning(t *testing.T) {
	ep := "--etcd-endpoints=http://127.0.0.1:2379"
	tests := []struct {
		name  string
		flags []string
		warn  bool
	}{
		{"defaults with a 60s interval", []string{ep, "--interval", "60s"}, false},
		{"exactly two minutes", []string{ep, "--interval", "100s", "--up-timeout", "10m"}, false},
		{"over two minutes", []string{ep, "--interval", "2m", "--up-timeout", "10m"}, true},
		{"a long lease", []string{ep, "--interval", "60s", "--leader-ttl", "90s"}, true},
		{"single host, long interval", []string{"--interval", "5m", "--up-timeout", "10m"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Load(append(checkArgs(t), tt.flags...), io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			warned := false
			for _, w := range cfg.Warnings {
				warned = warned || strings.HasPrefix(w, "leader-ttl: ")
			}
			if warned != tt.warn {
				t.Errorf("warnings %q, want a leader-ttl one: %v", cfg.Warnings, tt.warn)
			}
		})
	}
}

// checkArgs are the flags a --check-config needs on this machine.
func checkArgs(t *testing.T) []string {
	project, _ := filepath.Abs("testdata/project")
	return []string{"--config", exampleConfig, "--check-config",
		"--project-file", project, "--qstat", "/bin/echo", "--restart-command", "/bin/true {account}",
		"--qstat-job", "/bin/echo {job}", "--clear-command", "/bin/true {job}",
		"--state-file", filepath.Join(t.TempDir(), "state.db")}
}
