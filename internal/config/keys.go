package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	shellquote "github.com/kballard/go-shellquote"

	"webservicemonitor/internal/sanitize"
)

// setting describes one key: its name (flag and YAML key), the placeholder
// of its value in the help, its default, its help, and how to parse it into
// the Config.
//
// This table is the one place a setting's default is declared: the packages
// that take the settings have none, and tests elsewhere that want the
// daemon's take them from Defaults. A zero either means what it says, and
// the help says what that is, or is refused by the key's parser with the
// key named.
type setting struct {
	name, arg, def, help string
	set                  setter
	fileOK               bool // may appear in the YAML file (modes may not)
}

// key is a setting with the help group it is listed under.
type key struct {
	setting
	group string
	// runOnly: a flag of the run command (the daemon's modes), not one
	// every command takes.
	runOnly bool
}

// setter parses one key's raw value into the Config.
type setter func(c *Config, v string) error

// StallTimeoutAuto is the stall-timeout value that leaves it to be derived
// from the other timeouts; Config.StallTimeout is 0 then.
const StallTimeoutAuto = "auto"

// LogFormatAuto picks the log format from where the log goes: the console
// writer on a terminal, JSON otherwise.
const LogFormatAuto = "auto"

// group is one of the help's sections and the settings it lists.
type group struct {
	title    string
	settings func() []setting
}

// groups are the help's sections, in the order it lists them.
func groups() []group {
	return []group{
		{"Modes (the command line's alone, never in the file)", modeSettings},
		{"Sources (where the three sources read, and how long they may take)", sourceSettings},
		{"Restart policy (how restarts run and what paces them)", restartSettings},
		{"Valve (the hold on a mass restart)", valveSettings},
		{"Alerting", alertingSettings},
		{"Logging", loggingSettings},
		{"State (the restart history)", stateSettings},
		{"Daemon (its pace, its watchdog, its metrics)", daemonSettings},
	}
}

// keys is every setting, with its group, in the help's order.
func keys() []key {
	var ks []key
	for _, g := range groups() {
		for _, s := range g.settings() {
			runOnly := !s.fileOK && s.name != "config" && s.name != "output"
			ks = append(ks, key{setting: s, group: g.title, runOnly: runOnly})
		}
	}
	return ks
}

// modeSettings are the group Modes: the command line alone, never the file.
func modeSettings() []setting {
	return []setting{
		{"config", "FILE", "", "YAML configuration file (every key is also a flag)", func(c *Config, v string) error {
			if v == "" {
				return nil
			}
			abs, err := filepath.Abs(v)
			c.ConfigFile = abs
			return err
		}, false},
		{"output", "FORMAT", "table", "output of the audit (--dry-run) and of status: table or json", oneOf(&[]string{"table", "json"}, func(c *Config) *string { return &c.Output }), false},
		{"dry-run", "", "false", "run one read-only cycle and print what would be done", boolean(func(c *Config) *bool { return &c.DryRun }), false},
		{"once", "", "false", "run one acting cycle and exit", boolean(func(c *Config) *bool { return &c.Once }), false},
		{"check-config", "", "false", "validate the configuration and the state file (with etcd-endpoints: each etcd member instead), report every error and warning, and exit (as the check-config command)", boolean(func(c *Config) *bool { return &c.CheckConfig }), false},
		{"version", "", "false", "print version, commit and Go version and exit", boolean(func(c *Config) *bool { return &c.Version }), false},
		{"reset-history", "", "false", "set a lost or damaged state file aside (renamed with a timestamp, never deleted), start a fresh restart history and exit (stop the daemon first)", boolean(func(c *Config) *bool { return &c.ResetHistory }), false},
		{"migrate-down", "VERSION", "", "rewrite the state file to this older schema version for a rollback (stop the daemon first; a backup is kept) and exit", func(c *Config, v string) error {
			c.MigrateDown = -1
			if v == "" {
				return nil
			}
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return fmt.Errorf("%q is not a schema version", v)
			}
			c.MigrateDown = n
			return nil
		}, false},
	}
}

// sourceSettings are the group Sources: where the three sources read, and how long they may take.
func sourceSettings() []setting {
	return []setting{
		{"homes", "PATH", "/data/project", "root of the tool homes holding service.manifest files", requiredPath(func(c *Config) *string { return &c.Homes }), true},
		{"project-file", "PATH", "/etc/wmcs-project", "file naming the project; tool accounts are <project>.<tool>", requiredPath(func(c *Config) *string { return &c.ProjectFile }), true},
		{"min-uid", "UID", "50000", "lowest uid a tool account may have; 0: any uid", integer(0, func(c *Config) *int { return &c.MinUID }), true},
		{"passwd-file", "PATH", "", "resolve tool accounts from this passwd(5) file instead of NSS (demos and tests)", optionalPath(func(c *Config) *string { return &c.PasswdFile }), true},
		{"account-cache-ttl", "DURATION", "10m", "how long an account lookup is cached; 0s: not cached", duration(func(c *Config) *time.Duration { return &c.AccountCacheTTL }), true},
		{"manifest-timeout", "DURATION", "30s", "deadline for scanning all manifests", positive(func(c *Config) *time.Duration { return &c.ManifestTimeout }), true},
		{"manifest-workers", "N", "32", "manifests read at once (hides NFS latency)", integer(1, func(c *Config) *int { return &c.ManifestWorkers }), true},
		{"web-types", "LIST", "lighttpd,lighttpd-plain,uwsgi-python,uwsgi-plain,nodejs,generic", "web types the grid's webservice supports (comma-separated); a manifest asking for another is skipped", list(func(c *Config) *[]string { return &c.WebTypes }, "no web types"), true},
		{"releases", "LIST", "buster", "releases (grid operating systems) the grid offers (comma-separated); a manifest asking for another is skipped", list(func(c *Config) *[]string { return &c.Releases }, "no releases"), true},
		{"default-release", "RELEASE", "buster", "release of a manifest that names none; one of releases", func(c *Config, v string) error {
			if c.DefaultRelease = strings.TrimSpace(v); c.DefaultRelease == "" {
				return errors.New("empty release")
			}
			return nil
		}, true},
		{"qstat", "COMMAND", "/usr/bin/qstat -u '*' -xml", "grid listing command (split like a shell would, never run by one)", argv(func(c *Config) *[]string { return &c.Qstat }), true},
		{"qstat-timeout", "DURATION", "30s", "deadline for the grid listing (a hung qmaster blocks qstat for minutes)", positive(func(c *Config) *time.Duration { return &c.QstatTimeout }), true},
		{"qstat-max-output", "SIZE", "256MiB", "largest qstat output accepted, in bytes (like 268435456, 512KiB, 256MiB, 1GiB)", func(c *Config, v string) error {
			n, err := parseBytes(v)
			if err != nil || n < 1024 {
				return fmt.Errorf("%q is not a byte count of at least 1024", v)
			}
			c.QstatMaxOutput = n
			return nil
		}, true},
		{"active-proxy-file", "PATH", "/etc/active-proxy", "file naming the active front proxy (empty file: registration checks off)", requiredPath(func(c *Config) *string { return &c.ActiveProxyFile }), true},
		{"proxy-list-url", "URL", "http://{proxy}:8081/list", "URL of the proxy's registration list; {proxy} is the active proxy (the only placeholder)", func(c *Config, v string) error {
			if err := checkTemplateURL(v, "{proxy}"); err != nil {
				return err
			}
			c.ProxyListURL = v
			return nil
		}, true},
		{"proxy-timeout", "DURATION", "10s", "total deadline for reading the proxy list, retries included", positive(func(c *Config) *time.Duration { return &c.ProxyTimeout }), true},
		{"proxy-retries", "N", "2", "retries of a failed proxy list request; 0: none", integer(0, func(c *Config) *int { return &c.ProxyRetries }), true},
	}
}

// restartSettings are the group Restart policy: how restarts run and what paces them.
func restartSettings() []setting {
	return []setting{
		{"restart-command", "COMMAND", "sudo -i -u {account} /usr/bin/webservice --backend=gridengine --release={release} restart", "restart command template; placeholders {account} {tool} {web} {release} {home}", argv(func(c *Config) *[]string { return &c.RestartCommand }), true},
		{"restart-timeout", "DURATION", "60s", "deadline of one restart (and of one clear); its whole process group is killed after it", positive(func(c *Config) *time.Duration { return &c.RestartTimeout }), true},
		{"restart-parallel", "N", "4", "restarts running at once", integer(1, func(c *Config) *int { return &c.RestartParallel }), true},
		{"restart-budget", "N", "3", "restarts allowed per tool in the restart window", integer(1, func(c *Config) *int { return &c.Budget }), true},
		{"restart-window", "DURATION", "60m", "sliding window the restart budget counts in", positive(func(c *Config) *time.Duration { return &c.Window }), true},
		{"backoff-initial", "DURATION", "2m", "wait after a tool's first restart; doubles after each; 0s: no wait, the budget alone paces restarts", duration(func(c *Config) *time.Duration { return &c.BackoffInitial }), true},
		{"backoff-max", "DURATION", "30m", "longest wait between restarts of one tool", positive(func(c *Config) *time.Duration { return &c.BackoffMax }), true},
		{"reset-after", "DURATION", "10m", "a tool seen up this long in a row has its backoff forgotten; 0s: as soon as it is seen up", duration(func(c *Config) *time.Duration { return &c.ResetAfter }), true},
		{"registration-grace", "DURATION", "2m", "how long a fresh job may run before it must be registered with the proxy; 0s: it must be registered when first seen running", duration(func(c *Config) *time.Duration { return &c.RegistrationGrace }), true},
		{"up-timeout", "DURATION", "5m", "after its restart command returned, how long a tool has to be seen up (its job running and registered) before the restart counts as not-up; at least registration-grace plus interval", positive(func(c *Config) *time.Duration { return &c.UpTimeout }), true},
		{"pending-timeout", "DURATION", "10m", "a job pending longer is reported as stuck", positive(func(c *Config) *time.Duration { return &c.PendingTimeout }), true},
		{"clear-command", "COMMAND", "sudo -i -u {account} /usr/bin/qdel {job}", "removes one stuck job (in error, or stuck being deleted) before its tool is restarted; placeholders {job} {account} {tool}. A job stuck in dr needs a grid manager's forced delete: e.g. /usr/bin/qdel -f {job}, run as a manager", argv(func(c *Config) *[]string { return &c.ClearCommand }), true},
		{"clear-deleting-after", "DURATION", "5m", "a job seen being deleted (d) longer than this is removed with clear-command and its tool restarted", positive(func(c *Config) *time.Duration { return &c.DeletingTooLong }), true},
		{"qstat-job", "COMMAND", "/usr/bin/qstat -j {job}", "prints one job's details, read for SGE's error reason when a restart was not seen up; {job} is the job number", argv(func(c *Config) *[]string { return &c.QstatJob }), true},
		{"pause-max", "DURATION", "24h", "longest pause an admin may declare; the alert rule also fires for a hold older than this", positive(func(c *Config) *time.Duration { return &c.PauseMax }), true},
	}
}

// valveSettings are the group Valve: the hold on a mass restart.
func valveSettings() []setting {
	return []setting{
		{"valve-min", "N", "10", "the safety valve trips when more tools than max(valve-min, valve-fraction × tools) need a restart at once; 0: valve-fraction alone decides", integer(0, func(c *Config) *int { return &c.ValveMin }), true},
		{"valve-fraction", "FRACTION", "0.1", "see valve-min; 0: valve-min alone decides", func(c *Config, v string) error {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f < 0 || f > 1 {
				return fmt.Errorf("%q is not a fraction between 0 and 1", v)
			}
			c.ValveFraction = f
			return nil
		}, true},
		{"valve-allow", "N", "0", "restarts still let through per cycle while the valve holds; 0: none", integer(0, func(c *Config) *int { return &c.ValveAllow }), true},
	}
}

// alertingSettings are the group Alerting: the pages, and where they go.
func alertingSettings() []setting {
	return []setting{
		{"alertmanager-url", "URL", "", "Alertmanager to push alerts to, e.g. http://127.0.0.1:9093 (repeat the flag, or give a YAML list, for several); none: alerting off", alertmanagerURLs, true},
		{"alert-resend", "DURATION", "0s", "how often a firing alert is sent again; 0s: every cycle", duration(func(c *Config) *time.Duration { return &c.AlertResend }), true},
		{"alert-timeout", "DURATION", "10s", "deadline for pushing alerts to one Alertmanager, retries included", positive(func(c *Config) *time.Duration { return &c.AlertTimeout }), true},
		{"source-alert-after", "N", "3", "consecutive cycles a source must fail before it is paged", integer(1, func(c *Config) *int { return &c.SourceAlertAfter }), true},
		{"runbook-url", "URL", "", "base of every alert's runbook_url annotation: each alert adds its anchor, e.g. <base>#webservicemonitorgivenup (a fragment in the base is replaced); empty: none", func(c *Config, v string) error {
			if v != "" {
				if err := checkURL(v); err != nil {
					return err
				}
			}
			c.RunbookURL = v
			return nil
		}, true},
		{"tool-url", "URL", "https://{tool}.toolforge.org/", "link to a tool in its alert; {tool} is the tool name (the only placeholder); empty: none", func(c *Config, v string) error {
			if v != "" {
				if err := checkTemplateURL(v, "{tool}"); err != nil {
					return err
				}
			}
			c.ToolURL = v
			return nil
		}, true},
	}
}

// loggingSettings are the group Logging.
func loggingSettings() []setting {
	return []setting{
		{"log-format", "FORMAT", LogFormatAuto, "log format: json, console, or auto: console on a terminal (coloured unless NO_COLOR is set), JSON otherwise", oneOf(&[]string{"json", "console", LogFormatAuto}, func(c *Config) *string { return &c.LogFormat }), true},
		{"log-level", "LEVEL", "info", "log level: debug, info, warn, error", oneOf(&[]string{"debug", "info", "warn", "error"}, func(c *Config) *string { return &c.LogLevel }), true},
	}
}

// stateSettings are the group State: the restart history.
func stateSettings() []setting {
	return []setting{
		{"state-file", "PATH", "/var/lib/webservicemonitor/state.db", "bbolt file holding the restart history", requiredPath(func(c *Config) *string { return &c.StateFile }), true},
		{"state-lock-wait", "DURATION", "2s", "how long to wait for the state file's lock before saying who holds it", positive(func(c *Config) *time.Duration { return &c.StateLockWait }), true},
		{"history-retention", "DURATION", "24h", "restart attempts older than this are pruned", positive(func(c *Config) *time.Duration { return &c.Retention }), true},
		{"etcd-endpoints", "LIST", "", "etcd client URLs (comma-separated) holding the history shared by several hosts, one of which acts; empty: this host alone, with the state file", etcdEndpoints, true},
		{"etcd-cert", "PATH", "", "client certificate (PEM) for etcd's TLS client authentication; with etcd-key", optionalPath(func(c *Config) *string { return &c.EtcdCert }), true},
		{"etcd-key", "PATH", "", "private key (PEM) of etcd-cert", optionalPath(func(c *Config) *string { return &c.EtcdKey }), true},
		{"etcd-ca", "PATH", "", "CA bundle (PEM) verifying the etcd members; empty: the system's roots", optionalPath(func(c *Config) *string { return &c.EtcdCA }), true},
		{"etcd-prefix", "PREFIX", "/webservicemonitor/", "etcd key prefix of this platform's history and election (ends in /)", etcdPrefix, true},
		{"host-name", "NAME", "", "this host's name among those sharing a history (the election, the attempts it starts); empty: the system's host name", func(c *Config, v string) error { c.HostName = strings.TrimSpace(v); return nil }, true},
		{"leader-ttl", "DURATION", "20s", "lease of the acting host in etcd: a standby takes over within this plus one interval of the leader's death (whole seconds, at least 3s)", leaderTTL, true},
	}
}

// daemonSettings are the group Daemon: its pace, its watchdog and its metrics.
func daemonSettings() []setting {
	return []setting{
		{"interval", "DURATION", "60s", "time between cycles", duration(func(c *Config) *time.Duration { return &c.Interval }), true},
		{"shutdown-grace", "DURATION", "10s", "on SIGTERM, how long restarts in flight may finish before they are killed; 0s: killed at once", duration(func(c *Config) *time.Duration { return &c.ShutdownGrace }), true},
		{"stall-timeout", "DURATION", StallTimeoutAuto, "the daemon's loop counts as hung after this long without progress, and the systemd watchdog is no longer fed; auto: the longest step's timeout plus a minute", func(c *Config, v string) error {
			if v == StallTimeoutAuto {
				c.StallTimeout = 0
				return nil
			}
			return positive(func(c *Config) *time.Duration { return &c.StallTimeout })(c, v)
		}, true},
		{"memory-limit", "SIZE", "256MiB", "soft limit of the Go heap (as GOMEMLIMIT): near it the collector works harder instead of letting a large platform's cycle double its heap; 0 disables", func(c *Config, v string) error {
			n, err := parseBytes(v)
			if err != nil {
				return err
			}
			c.MemoryLimit = n
			return nil
		}, true},
		{"listen", "HOST:PORT", "127.0.0.1:9469", "host:port serving /metrics, /healthz and /readyz in daemon mode; empty: no listener", func(c *Config, v string) error {
			if v != "" {
				if _, _, err := net.SplitHostPort(v); err != nil {
					return fmt.Errorf("%q is not a host:port: %v", v, err)
				}
			}
			c.Listen = v
			return nil
		}, true},
	}
}

// parseBytes reads a byte count with an optional binary unit: 0, 1048576,
// 512KiB, 256MiB, 2GiB.
func parseBytes(v string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"", 1}}
	for _, u := range units {
		if num, ok := strings.CutSuffix(v, u.suffix); ok {
			n, err := strconv.ParseInt(num, 10, 64)
			if err != nil || n < 0 {
				break
			}
			return n * u.mult, nil
		}
	}
	return 0, fmt.Errorf("%q is not a byte count (like 0, 512MiB, 2GiB)", v)
}

// optionalPath takes an absolute path, or "" for none.
func optionalPath(p func(*Config) *string) setter {
	return func(c *Config, v string) error {
		if v == "" {
			*p(c) = ""
			return nil
		}
		if !filepath.IsAbs(v) {
			return fmt.Errorf("%q is not an absolute path", v)
		}
		*p(c) = filepath.Clean(v)
		return nil
	}
}

// requiredPath takes an absolute path; "" is refused rather than read as
// the working directory.
func requiredPath(p func(*Config) *string) setter {
	return func(c *Config, v string) error {
		if v == "" {
			return errors.New("must not be empty")
		}
		return optionalPath(p)(c, v)
	}
}

// duration takes a duration of 0 or more; the key's help says what 0 means.
func duration(p func(*Config) *time.Duration) setter {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("%q is not a duration (like 30s, 5m, 1h)", v)
		}
		if d < 0 {
			return fmt.Errorf("%q is negative", v)
		}
		*p(c) = d
		return nil
	}
}

// positive takes a duration greater than 0: a deadline or window of zero
// would fail everything or allow everything at once, never what was meant.
func positive(p func(*Config) *time.Duration) setter {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("%q is not a duration (like 30s, 5m, 1h)", v)
		}
		if d <= 0 {
			return fmt.Errorf("must be greater than 0, got %s", d)
		}
		*p(c) = d
		return nil
	}
}

// integer takes a whole number of at least min.
func integer(min int, p func(*Config) *int) setter {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("%q is not an integer", v)
		}
		if n < min {
			return fmt.Errorf("must be at least %d, got %d", min, n)
		}
		*p(c) = n
		return nil
	}
}

// argv splits a command line into its words, as a shell would.
func argv(p func(*Config) *[]string) setter {
	return func(c *Config, v string) error {
		words, err := shellquote.Split(v)
		if err != nil {
			return fmt.Errorf("cannot split %q into arguments: %v", v, err)
		}
		if len(words) == 0 {
			return errors.New("empty command")
		}
		*p(c) = words
		return nil
	}
}

// list parses a comma-separated list of names; empty says what is missing.
func list(p func(*Config) *[]string, empty string) setter {
	return func(c *Config, v string) error {
		names := p(c)
		*names = nil
		for _, t := range strings.Split(v, ",") {
			if t = strings.TrimSpace(t); t != "" {
				*names = append(*names, t)
			}
		}
		if len(*names) == 0 {
			return errors.New(empty)
		}
		return nil
	}
}

func boolean(p func(*Config) *bool) setter {
	return func(c *Config, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("%q is not true or false", v)
		}
		*p(c) = b
		return nil
	}
}

// alertmanagerURLs takes the Alertmanagers, one a line, each once.
func alertmanagerURLs(c *Config, v string) error {
	urls, err := distinctURLs(strings.Split(v, "\n"), "/")
	c.AlertmanagerURLs = urls
	return err
}

// checkTemplateURL accepts an http(s) URL using no placeholder but known:
// a typo ({prxy}) would pass a look at the URL and fail every cycle.
func checkTemplateURL(v, known string) error {
	for _, p := range placeholder.FindAllString(v, -1) {
		if p != known {
			return fmt.Errorf("unknown placeholder %s in %q (known: %s)", p, sanitize.URL(v), known)
		}
	}
	if checkURL(strings.ReplaceAll(v, known, "placeholder")) != nil {
		return fmt.Errorf("%q is not an http(s) URL", sanitize.URL(v))
	}
	return nil
}

// checkURL accepts an absolute http(s) URL with a host. Its refusal shows
// the URL without credentials or query values, as every log line does.
func checkURL(v string) error {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http(s) URL", sanitize.URL(v))
	}
	return nil
}

// listSeparator says how a key that takes a list keeps it in its one raw
// string: the items of a YAML list, and for a repeatable flag each use of
// the flag, are joined with sep. A URL may hold a comma, never a newline.
func listSeparator(name string) (sep string, repeatable bool) {
	switch name {
	case "web-types", "releases", "etcd-endpoints":
		return ",", false
	case "alertmanager-url":
		return "\n", true
	}
	return "", false
}

func oneOf(allowed *[]string, p func(*Config) *string) setter {
	return func(c *Config, v string) error {
		for _, a := range *allowed {
			if v == a {
				*p(c) = v
				return nil
			}
		}
		return fmt.Errorf("%q is not one of %s", v, strings.Join(*allowed, ", "))
	}
}

// etcdEndpoints takes the etcd members' client URLs, each once; none is the
// single-host mode.
func etcdEndpoints(c *Config, v string) error {
	urls, err := distinctURLs(strings.Split(v, ","), "")
	c.EtcdEndpoints = urls
	return err
}

// distinctURLs checks each non-empty item (spaces and the trailing cutset
// trimmed) as a URL given at most once.
func distinctURLs(items []string, cutset string) ([]string, error) {
	var urls []string
	seen := map[string]bool{}
	for _, u := range items {
		if u = strings.TrimRight(strings.TrimSpace(u), cutset); u == "" {
			continue
		}
		if err := checkURL(u); err != nil {
			return nil, err
		}
		if seen[u] {
			return nil, fmt.Errorf("%q is given twice", sanitize.URL(u))
		}
		seen[u] = true
		urls = append(urls, u)
	}
	return urls, nil
}

// etcdPrefix takes a key prefix: absolute-looking and ending in a slash,
// so that one platform's keys never run into another's.
func etcdPrefix(c *Config, v string) error {
	if !strings.HasPrefix(v, "/") || !strings.HasSuffix(v, "/") || len(v) < 2 {
		return fmt.Errorf("%q does not start and end with /", v)
	}
	c.EtcdPrefix = v
	return nil
}

// leaderTTL takes whole seconds of at least 3: etcd grants leases in
// seconds and raises shorter ones to about 2s.
func leaderTTL(c *Config, v string) error {
	d, err := time.ParseDuration(v)
	switch {
	case err != nil:
		return fmt.Errorf("%q is not a duration (like 30s, 5m, 1h)", v)
	case d < 3*time.Second:
		return fmt.Errorf("must be at least 3s, got %s", d)
	case d%time.Second != 0:
		return fmt.Errorf("must be whole seconds, got %s", d)
	}
	c.LeaderTTL = d
	return nil
}
