package config

import (
	"io"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// zeroOf is each settable key's zero: what an admin types for "nothing".
// A key added without a row here fails TestEveryZeroIsDecided, so its zero
// is decided (refused, or documented) when it is added.
var zeroOf = []struct {
	key, zero string
	refused   string // the error; "" when the zero is taken
	helpSays  string // for a taken zero: how the key's help explains it
}{
	{"homes", "", "homes: must not be empty", ""},
	{"project-file", "", "project-file: must not be empty", ""},
	{"min-uid", "0", "", "0: any uid"},
	{"qstat", "", "qstat: empty command", ""},
	{"qstat-timeout", "0s", "qstat-timeout: must be greater than 0, got 0s", ""},
	{"qstat-max-output", "0", `qstat-max-output: "0" is not a byte count of at least 1024`, ""},
	{"active-proxy-file", "", "active-proxy-file: must not be empty", ""},
	{"proxy-list-url", "", `proxy-list-url: "" is not an http(s) URL`, ""},
	{"proxy-timeout", "0s", "proxy-timeout: must be greater than 0, got 0s", ""},
	{"proxy-retries", "0", "", "0: none"},
	{"manifest-timeout", "0s", "manifest-timeout: must be greater than 0, got 0s", ""},
	{"manifest-workers", "0", "manifest-workers: must be at least 1, got 0", ""},
	{"web-types", "", "web-types: no web types", ""},
	{"releases", "", "releases: no releases", ""},
	{"default-release", "", "default-release: empty release", ""},
	{"passwd-file", "", "", "instead of NSS"},
	{"account-cache-ttl", "0s", "", "0s: not cached"},
	{"restart-command", "", "restart-command: empty command", ""},
	{"clear-command", "", "clear-command: empty command", ""},
	{"qstat-job", "", "qstat-job: empty command", ""},
	{"restart-timeout", "0s", "restart-timeout: must be greater than 0, got 0s", ""},
	{"etcd-endpoints", "", "", "empty: this host alone"},
	{"etcd-cert", "", "", "with etcd-key"},
	{"etcd-key", "", "", "of etcd-cert"},
	{"etcd-ca", "", "", "empty: the system's roots"},
	{"etcd-prefix", "", `etcd-prefix: "" does not start and end with /`, ""},
	{"host-name", "", "", "empty: the system's host name"},
	{"leader-ttl", "0s", "leader-ttl: must be at least 3s, got 0s", ""},
	{"restart-parallel", "0", "restart-parallel: must be at least 1, got 0", ""},
	{"restart-budget", "0", "restart-budget: must be at least 1, got 0", ""},
	{"restart-window", "0s", "restart-window: must be greater than 0, got 0s", ""},
	{"backoff-initial", "0s", "", "0s: no wait"},
	{"backoff-max", "0s", "backoff-max: must be greater than 0, got 0s", ""},
	{"reset-after", "0s", "", "0s: as soon as it is seen up"},
	{"registration-grace", "0s", "", "0s: it must be registered when first seen running"},
	{"pending-timeout", "0s", "pending-timeout: must be greater than 0, got 0s", ""},
	{"up-timeout", "0s", "up-timeout: must be greater than 0, got 0s", ""},
	{"clear-deleting-after", "0s", "clear-deleting-after: must be greater than 0, got 0s", ""},
	{"history-retention", "0s", "history-retention: must be greater than 0, got 0s", ""},
	{"pause-max", "0s", "pause-max: must be greater than 0, got 0s", ""},
	{"valve-min", "0", "", "0: valve-fraction alone decides"},
	{"valve-fraction", "0", "", "0: valve-min alone decides"},
	{"valve-allow", "0", "", "0: none"},
	{"state-file", "", "state-file: must not be empty", ""},
	{"state-lock-wait", "0s", "state-lock-wait: must be greater than 0, got 0s", ""},
	{"interval", "0s", "interval: 0s is shorter than 1s", ""},
	{"shutdown-grace", "0s", "", "0s: killed at once"},
	{"memory-limit", "0", "", "0 disables"},
	{"stall-timeout", "0s", "stall-timeout: must be greater than 0, got 0s", ""},
	{"log-format", "", `log-format: "" is not one of json, console`, ""},
	{"log-level", "", `log-level: "" is not one of debug, info, warn, error`, ""},
	{"listen", "", "", "empty: no listener"},
	{"alertmanager-url", "", "", "none: alerting off"},
	{"runbook-url", "", "", "empty: none"},
	{"tool-url", "", "", "empty: none"},
	{"alert-resend", "0s", "", "0s: every cycle"},
	{"alert-timeout", "0s", "alert-timeout: must be greater than 0, got 0s", ""},
	{"source-alert-after", "0", "source-alert-after: must be at least 1, got 0", ""},
}

// TestEveryZeroIsDecided gives every setting its zero on the command line:
// it is refused with the key named, or taken as it is and explained in the
// key's help. A negative number or duration is refused everywhere.
func TestEveryZeroIsDecided(t *testing.T) {
	byName := map[string]key{}
	for _, k := range keys() {
		byName[k.name] = k
	}
	decided := map[string]bool{}
	for _, tt := range zeroOf {
		decided[tt.key] = true
		t.Run(tt.key, func(t *testing.T) {
			k, ok := byName[tt.key]
			if !ok {
				t.Fatalf("no key %s", tt.key)
			}
			_, err := Load(append(base(t), "--"+tt.key, tt.zero), io.Discard)
			switch {
			case tt.refused == "" && err != nil:
				t.Errorf("--%s %q refused: %v", tt.key, tt.zero, err)
			case tt.refused != "" && (err == nil || !strings.Contains(err.Error(), tt.refused)):
				t.Errorf("--%s %q: error %v, want %q", tt.key, tt.zero, err, tt.refused)
			case tt.refused == "" && !strings.Contains(k.help, tt.helpSays):
				t.Errorf("--%s %q is taken, but its help %q does not say %q", tt.key, tt.zero, k.help, tt.helpSays)
			}
			for _, neg := range []string{"-1", "-1s"} {
				if strings.HasSuffix(tt.zero, "s") != strings.HasSuffix(neg, "s") || tt.zero == "" {
					continue
				}
				if _, err := Load(append(base(t), "--"+tt.key, neg), io.Discard); err == nil || !strings.HasPrefix(err.Error(), tt.key+": ") {
					t.Errorf("--%s %s: error %v, want a refusal naming the key", tt.key, neg, err)
				}
			}
		})
	}
	for _, k := range keys() {
		if k.fileOK && !decided[k.name] {
			t.Errorf("key %s: what its zero means is not decided in zeroOf", k.name)
		}
	}
}

// TestZerosThatMeanWhatTheySay: the zeros that are taken arrive as zeros,
// never replaced by a default somewhere on the way.
func TestZerosThatMeanWhatTheySay(t *testing.T) {
	file, _ := filepath.Abs("testdata/zeros-that-mean-what-they-say.yaml")
	cfg, err := Load(append(base(t), "--config", file), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"min-uid", cfg.MinUID, 0},
		{"proxy-retries", cfg.ProxyRetries, 0},
		{"account-cache-ttl", cfg.AccountCacheTTL, time.Duration(0)},
		{"passwd-file", cfg.PasswdFile, ""},
		{"shutdown-grace", cfg.ShutdownGrace, time.Duration(0)},
		{"memory-limit", cfg.MemoryLimit, int64(0)},
		{"backoff-initial", cfg.BackoffInitial, time.Duration(0)},
		{"reset-after", cfg.ResetAfter, time.Duration(0)},
		{"registration-grace", cfg.RegistrationGrace, time.Duration(0)},
		{"valve-min", cfg.ValveMin, 0},
		{"valve-fraction", cfg.ValveFraction, 0.0},
		{"valve-allow", cfg.ValveAllow, 0},
		{"listen", cfg.Listen, ""},
		{"alertmanager-url", len(cfg.AlertmanagerURLs), 0},
		{"runbook-url", cfg.RunbookURL, ""},
		{"tool-url", cfg.ToolURL, ""},
		{"alert-resend", cfg.AlertResend, time.Duration(0)},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestStallTimeout(t *testing.T) {
	tests := []struct {
		args []string
		want time.Duration
	}{
		{nil, 0}, // the default: auto
		{[]string{"--stall-timeout", "auto"}, 0},
		{[]string{"--stall-timeout", "5m"}, 5 * time.Minute},
	}
	for _, tt := range tests {
		cfg, err := Load(append(base(t), tt.args...), io.Discard)
		if err != nil {
			t.Fatalf("%q: %v", tt.args, err)
		}
		if cfg.StallTimeout != tt.want {
			t.Errorf("%q: stall timeout %s, want %s", tt.args, cfg.StallTimeout, tt.want)
		}
	}
	if _, err := Load(append(base(t), "--stall-timeout", "soon"), io.Discard); err == nil ||
		!strings.Contains(err.Error(), `stall-timeout: "soon" is not a duration`) {
		t.Errorf("a bad stall-timeout: %v", err)
	}
}

// TestDefaultsAreWhatLoadGives: Defaults is Load without a file, a flag or
// a look at the machine.
func TestDefaultsAreWhatLoadGives(t *testing.T) {
	cfg, err := Load(base(t), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	d := Defaults()
	d.ProjectFile, d.Project, d.StateFile, d.Qstat, d.RestartCommand = cfg.ProjectFile, cfg.Project, cfg.StateFile, cfg.Qstat, cfg.RestartCommand
	d.QstatJob, d.ClearCommand = cfg.QstatJob, cfg.ClearCommand
	d.Warnings = cfg.Warnings // what this machine lacks
	if !reflect.DeepEqual(d, cfg) {
		t.Errorf("Defaults() = %+v\nLoad gives %+v", *d, *cfg)
	}
}
