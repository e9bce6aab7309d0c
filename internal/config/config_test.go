package config

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// base points the keys that must exist on disk at things that do, so each
// fixture shows exactly one problem.
func base(t *testing.T) []string {
	t.Helper()
	project, _ := filepath.Abs("testdata/project")
	return []string{"--project-file", project, "--state-file", filepath.Join(t.TempDir(), "state.db"),
		"--qstat", "/bin/echo", "--restart-command", "/bin/true {account}",
		"--qstat-job", "/bin/echo {job}", "--clear-command", "/bin/true {job}"}
}

func TestFixtures(t *testing.T) {
	tests := []struct {
		file string
		want string // error substring; "" = valid
	}{
		{"good.yaml", ""},
		{"unknown-key.yaml", `line 2: unknown key "homez"`},
		{"bad-duration.yaml", `interval: "soon" is not a duration`},
		{"relative-state-file.yaml", `state-file: "state.db" is not an absolute path`},
		{"mode-in-file.yaml", `key "once" is a command-line mode`},
		{"bad-valve-fraction.yaml", "valve-fraction:"},
		{"unknown-placeholder.yaml", "restart-command: unknown placeholder {user}"},
		{"not-a-mapping.yaml", "expected a mapping"},
		{"list-for-scalar.yaml", "homes: expected a single value"},
		{"bad-integer.yaml", `min-uid: "many" is not an integer`},
		{"interval-too-short.yaml", "interval: 10ms is shorter than 1s"},
		{"duplicate-key.yaml", `key "homes" given twice`},
		{"unbalanced-quote.yaml", "qstat: cannot split"},
		{"bad-proxy-url.yaml", "proxy-list-url:"},
		{"invalid-yaml.yaml", "invalid-yaml.yaml"},
		{"up-timeout-shorter-than-grace-and-interval.yaml", "up-timeout: 2m0s is shorter than registration-grace 2m0s plus interval 1m0s"},
		{"default-release-not-offered.yaml", `default-release: "stretch" is not one of releases (buster, bullseye)`},
		{"clear-command-without-job.yaml", "clear-command: no {job} placeholder"},
		{"clear-command-unknown-placeholder.yaml", "clear-command: unknown placeholder {home}"},
		{"alertmanager-list.yaml", ""},
		{"bad-alertmanager-url.yaml", `alertmanager-url: "alertmanager-2.example:9093" is not an http(s) URL`},
		{"bad-listen.yaml", `listen: "9469" is not a host:port`},
		// A refusal shows a URL without credentials or query values.
		{"bad-alertmanager-url-with-credentials.yaml", `alertmanager-url: "alertmanager.example:9093/?token=xxxxx" is not an http(s) URL`},
		{"alertmanager-url-with-token-given-twice.yaml", `alertmanager-url: "http://alertmanager.example:9093/?token=xxxxx" is given twice`},
		{"bad-proxy-url-with-credentials.yaml", `proxy-list-url: "ftp://{proxy}/list?token=xxxxx" is not an http(s) URL`},
		{"bad-runbook-url-with-token.yaml", `runbook-url: "wiki.example/Runbooks?token=xxxxx" is not an http(s) URL`},
		{"proxy-list-url-unknown-placeholder.yaml", `proxy-list-url: unknown placeholder {prxy} in "http://{prxy}:8081/list" (known: {proxy})`},
		{"tool-url-unknown-placeholder.yaml", `tool-url: unknown placeholder {toool} in "https://toolforge.org/{tool}/{toool}" (known: {tool})`},
		{"several-errors.yaml", `unknown key "homez"`},
		{"missing-homes-proxy-file-and-qstat.yaml", ""}, // warnings only: see TestWarnings

		// A zero that could only mean "the default" is refused, key named.
		{"zero-qstat-timeout.yaml", "qstat-timeout: must be greater than 0, got 0s"},
		{"zero-proxy-timeout.yaml", "proxy-timeout: must be greater than 0, got 0s"},
		{"zero-manifest-timeout.yaml", "manifest-timeout: must be greater than 0, got 0s"},
		{"zero-restart-timeout.yaml", "restart-timeout: must be greater than 0, got 0s"},
		{"zero-restart-window.yaml", "restart-window: must be greater than 0, got 0s"},
		{"zero-backoff-max.yaml", "backoff-max: must be greater than 0, got 0s"},
		{"zero-pending-timeout.yaml", "pending-timeout: must be greater than 0, got 0s"},
		{"zero-history-retention.yaml", "history-retention: must be greater than 0, got 0s"},
		{"zero-state-lock-wait.yaml", "state-lock-wait: must be greater than 0, got 0s"},
		{"zero-stall-timeout.yaml", "stall-timeout: must be greater than 0, got 0s"},
		{"zero-alert-timeout.yaml", "alert-timeout: must be greater than 0, got 0s"},
		{"zero-interval.yaml", "interval: 0s is shorter than 1s"},
		{"zero-manifest-workers.yaml", "manifest-workers: must be at least 1, got 0"},
		{"zero-restart-parallel.yaml", "restart-parallel: must be at least 1, got 0"},
		{"zero-restart-budget.yaml", "restart-budget: must be at least 1, got 0"},
		{"zero-source-alert-after.yaml", "source-alert-after: must be at least 1, got 0"},
		{"zero-qstat-max-output.yaml", `qstat-max-output: "0" is not a byte count of at least 1024`},
		{"empty-homes.yaml", "homes: must not be empty"},
		{"empty-project-file.yaml", "project-file: must not be empty"},
		{"empty-active-proxy-file.yaml", "active-proxy-file: must not be empty"},
		{"empty-state-file.yaml", "state-file: must not be empty"},
		{"empty-qstat.yaml", "qstat: empty command"},
		{"empty-restart-command.yaml", "restart-command: empty command"},
		{"empty-web-types.yaml", "web-types: no web types"},
		// A zero that means what it says is taken as it is.
		{"zeros-that-mean-what-they-say.yaml", ""},
	}
	entries, _ := os.ReadDir("testdata")
	listed := map[string]bool{"project": true}
	for _, tt := range tests {
		listed[tt.file] = true
	}
	for _, e := range entries {
		if !listed[e.Name()] {
			t.Errorf("fixture %s is not in the table", e.Name())
		}
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("testdata", tt.file)
			args := []string{"--config", path}
			if tt.file != "good.yaml" {
				// Drop the base flags for keys the fixture sets: flags win.
				data, _ := os.ReadFile(path)
				b := base(t)
				for i := 0; i < len(b); i += 2 {
					if !strings.Contains(string(data), strings.TrimPrefix(b[i], "--")+":") {
						args = append(args, b[i], b[i+1])
					}
				}
			} else {
				// Flags given on the command line win over the file; only
				// the ones the file cannot know go there.
				project, _ := filepath.Abs("testdata/project")
				data, _ := os.ReadFile(path)
				fixed := filepath.Join(t.TempDir(), "good.yaml")
				os.WriteFile(fixed, []byte(strings.ReplaceAll(string(data), "PROJECT", project)), 0o644)
				args = []string{"--config", fixed}
			}
			cfg, err := Load(args, io.Discard)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("valid config refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want it to contain %q (config %+v)", err, tt.want, cfg)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error %q shows a secret of the file", err)
			}
		})
	}
}

func TestGoodFileValuesAndPrecedence(t *testing.T) {
	project, _ := filepath.Abs("testdata/project")
	data, _ := os.ReadFile("testdata/good.yaml")
	file := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(file, []byte(strings.ReplaceAll(string(data), "PROJECT", project)), 0o644)

	cfg, err := Load([]string{"--config", file, "--interval", "90s"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"homes from file", cfg.Homes, "/srv/homes"},
		{"project read from the project file", cfg.Project, "tools"},
		{"min-uid from file", cfg.MinUID, 40000},
		{"qstat split like a shell", strings.Join(cfg.Qstat, "|"), "/bin/echo|-u|*|-xml"},
		{"flag beats file", cfg.Interval, 90 * time.Second},
		{"web types list", strings.Join(cfg.WebTypes, ","), "lighttpd,generic"},
		{"budget", cfg.Budget, 5},
		{"default kept", cfg.Window, 60 * time.Minute},
		{"default proxy retries", cfg.ProxyRetries, 2},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestDefaultsMatchTheDesign(t *testing.T) {
	want := map[string]string{
		"homes":             "/data/project",
		"project-file":      "/etc/wmcs-project",
		"min-uid":           "50000",
		"qstat":             "/usr/bin/qstat -u '*' -xml",
		"active-proxy-file": "/etc/active-proxy",
		"proxy-list-url":    "http://{proxy}:8081/list",
		"restart-command":   "sudo -i -u {account} /usr/bin/webservice --backend=gridengine --release={release} restart",
		"state-file":        "/var/lib/webservicemonitor/state.db",
		"interval":          "60s",
		"output":            "table",
	}
	for _, k := range keys() {
		if w, ok := want[k.name]; ok && k.def != w {
			t.Errorf("default of %s = %q, want %q", k.name, k.def, w)
		}
		delete(want, k.name)
	}
	for name := range want {
		t.Errorf("key %s missing", name)
	}
}

func TestAlertmanagerURLs(t *testing.T) {
	list, _ := filepath.Abs("testdata/alertmanager-list.yaml")
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"none: alerting off", nil, nil},
		{"YAML list, trailing slash dropped", []string{"--config", list},
			[]string{"http://alertmanager-1.example:9093", "http://alertmanager-2.example:9093"}},
		{"repeated flag", []string{"--alertmanager-url", "http://a:9093", "--alertmanager-url", "https://b/am"},
			[]string{"http://a:9093", "https://b/am"}},
		{"flag replaces the file's list", []string{"--config", list, "--alertmanager-url", "http://a:9093/am,1"},
			[]string{"http://a:9093/am,1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Load(append(base(t), tt.args...), io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(cfg.AlertmanagerURLs, " ") != strings.Join(tt.want, " ") {
				t.Errorf("alertmanager URLs %q, want %q", cfg.AlertmanagerURLs, tt.want)
			}
		})
	}
	if _, err := Load(append(base(t), "--alertmanager-url", "http://a:9093", "--alertmanager-url", "http://a:9093/"), io.Discard); err == nil ||
		!strings.Contains(err.Error(), "given twice") {
		t.Errorf("the same Alertmanager twice: %v", err)
	}
	cfg, err := Load(base(t), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "127.0.0.1:9469" || cfg.AlertResend != 0 || cfg.SourceAlertAfter != 3 || cfg.ToolURL != "https://{tool}.toolforge.org/" {
		t.Errorf("observability defaults: listen %q resend %s source-alert-after %d tool-url %q",
			cfg.Listen, cfg.AlertResend, cfg.SourceAlertAfter, cfg.ToolURL)
	}
	if cfg, err := Load(append(base(t), "--listen", ""), io.Discard); err != nil || cfg.Listen != "" {
		t.Errorf("empty listen must disable the listener: %q, %v", cfg.Listen, err)
	}
}

// A flag wins over the file, but a bad value in the file is still an
// error: the daemon reads the file alone on its next start or SIGHUP.
func TestOverriddenFileValueIsStillChecked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte("interval: soon\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(append(base(t), "--config", path, "--interval", "2s"), io.Discard)
	if err == nil || !strings.Contains(err.Error(), `interval (in the file; a flag overrides it here): "soon" is not a duration`) {
		t.Errorf("got %v", err)
	}
}
