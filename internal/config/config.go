// Package config turns the YAML file and the command line into one checked
// Config. Every key is both a YAML key and a flag of the same name; a flag
// given on the command line wins over the file, the file over the default.
//
// It owns validation (unknown keys, bad durations, bad paths are refused with
// the key named); it never starts anything. A zero is never read as "the
// default": where 0 has a meaning the key's help says it (proxy-retries 0:
// no retry), and deadlines, windows, budgets and worker counts refuse it.
package config

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	shellquote "github.com/kballard/go-shellquote"
	"go.yaml.in/yaml/v3"

	"webservicemonitor/internal/sanitize"
)

// Config is the supervisor's whole configuration.
type Config struct {
	ConfigFile      string
	Homes           string
	ProjectFile     string
	Project         string // read from ProjectFile by Load
	MinUID          int
	Qstat           []string
	QstatTimeout    time.Duration
	QstatMaxOutput  int64
	ActiveProxyFile string
	ProxyListURL    string
	ProxyTimeout    time.Duration
	ProxyRetries    int
	RestartCommand  []string
	ClearCommand    []string
	QstatJob        []string
	Releases        []string
	DefaultRelease  string
	RestartTimeout  time.Duration
	RestartParallel int
	StateFile       string
	StateLockWait   time.Duration
	MemoryLimit     int64 // bytes; 0: none
	Interval        time.Duration
	ShutdownGrace   time.Duration
	StallTimeout    time.Duration // 0 only for "auto": derived from the other timeouts (see cmd/webservicemonitor); an explicit 0 is refused
	ManifestTimeout time.Duration
	ManifestWorkers int
	WebTypes        []string
	PasswdFile      string // resolve accounts from this file instead of NSS (demos, tests)
	AccountCacheTTL time.Duration
	LogFormat       string // json or console
	LogLevel        string

	Budget            int
	Window            time.Duration
	BackoffInitial    time.Duration
	BackoffMax        time.Duration
	ResetAfter        time.Duration
	RegistrationGrace time.Duration
	PendingTimeout    time.Duration
	UpTimeout         time.Duration
	DeletingTooLong   time.Duration
	Retention         time.Duration
	ValveMin          int
	ValveFraction     float64
	ValveAllow        int

	// Observability: the metrics listener and the Alertmanagers to page.
	Listen           string   // host:port of /metrics, /healthz, /readyz; "" for none
	AlertmanagerURLs []string // none: alerting off
	RunbookURL       string
	ToolURL          string // link to a tool in its alert; {tool} is replaced
	AlertResend      time.Duration
	AlertTimeout     time.Duration
	SourceAlertAfter int

	// Modes: command line only.
	DryRun      bool
	Once        bool
	Output      string
	CheckConfig bool
	Version     bool
	MigrateDown int // target schema of --migrate-down; -1: not asked
	// ResetHistory: set a lost or damaged state file aside, start a fresh
	// history and exit (--reset-history).
	ResetHistory bool
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

// key describes one setting: its name (flag and YAML key), default, help,
// and how to parse it into the Config.
//
// This table is the one place a setting's default is declared: the packages
// that take the settings have none, and tests elsewhere that want the
// daemon's take them from Defaults. A zero either means what it says, and
// the help says what that is, or is refused by the key's parser with the
// key named.
type key struct {
	name, def, help string
	set             setter
	fileOK          bool // may appear in the YAML file (modes may not)
}

// setter parses one key's raw value into the Config.
type setter func(c *Config, v string) error

// StallTimeoutAuto is the stall-timeout value that leaves it to be derived
// from the other timeouts; Config.StallTimeout is 0 then.
const StallTimeoutAuto = "auto"

func keys() []key {
	return append(append(append(sourceKeys(), restartKeys()...), daemonKeys()...), modeKeys()...)
}

// sourceKeys are where the three sources read, and how long they may take.
func sourceKeys() []key {
	return []key{
		{"homes", "/data/project", "root of the tool homes holding service.manifest files", requiredPath(func(c *Config) *string { return &c.Homes }), true},
		{"project-file", "/etc/wmcs-project", "file naming the project; tool accounts are <project>.<tool>", requiredPath(func(c *Config) *string { return &c.ProjectFile }), true},
		{"min-uid", "50000", "lowest uid a tool account may have; 0: any uid", integer(0, func(c *Config) *int { return &c.MinUID }), true},
		{"qstat", "/usr/bin/qstat -u '*' -xml", "grid listing command (split like a shell would, never run by one)", argv(func(c *Config) *[]string { return &c.Qstat }), true},
		{"qstat-timeout", "30s", "deadline for the grid listing (a hung qmaster blocks qstat for minutes)", positive(func(c *Config) *time.Duration { return &c.QstatTimeout }), true},
		{"qstat-max-output", "268435456", "largest qstat output accepted, in bytes", func(c *Config, v string) error {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 1024 {
				return fmt.Errorf("%q is not a byte count of at least 1024", v)
			}
			c.QstatMaxOutput = n
			return nil
		}, true},
		{"active-proxy-file", "/etc/active-proxy", "file naming the active front proxy (empty file: registration checks off)", requiredPath(func(c *Config) *string { return &c.ActiveProxyFile }), true},
		{"proxy-list-url", "http://{proxy}:8081/list", "URL of the proxy's registration list; {proxy} is the active proxy", func(c *Config, v string) error {
			if !strings.HasPrefix(v, "http://") && !strings.HasPrefix(v, "https://") {
				return fmt.Errorf("%q is not an http(s) URL", sanitize.URL(v))
			}
			c.ProxyListURL = v
			return nil
		}, true},
		{"proxy-timeout", "10s", "total deadline for reading the proxy list, retries included", positive(func(c *Config) *time.Duration { return &c.ProxyTimeout }), true},
		{"proxy-retries", "2", "retries of a failed proxy list request; 0: none", integer(0, func(c *Config) *int { return &c.ProxyRetries }), true},
		{"manifest-timeout", "30s", "deadline for scanning all manifests", positive(func(c *Config) *time.Duration { return &c.ManifestTimeout }), true},
		{"manifest-workers", "32", "manifests read at once (hides NFS latency)", integer(1, func(c *Config) *int { return &c.ManifestWorkers }), true},
		{"web-types", "lighttpd,lighttpd-plain,uwsgi-python,uwsgi-plain,nodejs,generic", "web types the grid's webservice supports (comma-separated); a manifest asking for another is skipped", list(func(c *Config) *[]string { return &c.WebTypes }, "no web types"), true},
		{"releases", "buster", "releases (grid operating systems) the grid offers (comma-separated); a manifest asking for another is skipped", list(func(c *Config) *[]string { return &c.Releases }, "no releases"), true},
		{"default-release", "buster", "release of a manifest that names none; one of releases", func(c *Config, v string) error {
			if c.DefaultRelease = strings.TrimSpace(v); c.DefaultRelease == "" {
				return errors.New("empty release")
			}
			return nil
		}, true},
		{"passwd-file", "", "resolve tool accounts from this passwd(5) file instead of NSS (demos and tests)", optionalPath(func(c *Config) *string { return &c.PasswdFile }), true},
		{"account-cache-ttl", "10m", "how long an account lookup is cached; 0s: not cached", duration(func(c *Config) *time.Duration { return &c.AccountCacheTTL }), true},
	}
}

// restartKeys are how restarts run and the policy that paces them.
func restartKeys() []key {
	return []key{
		{"restart-command", "sudo -i -u {account} /usr/bin/webservice --backend=gridengine --release={release} restart", "restart command template; placeholders {account} {tool} {web} {release} {home}", argv(func(c *Config) *[]string { return &c.RestartCommand }), true},
		{"clear-command", "sudo -i -u {account} /usr/bin/qdel {job}", "removes one stuck job (in error, or stuck being deleted) before its tool is restarted; placeholders {job} {account} {tool}. A job stuck in dr needs a grid manager's forced delete: e.g. /usr/bin/qdel -f {job}, run as a manager", argv(func(c *Config) *[]string { return &c.ClearCommand }), true},
		{"qstat-job", "/usr/bin/qstat -j {job}", "prints one job's details, read for SGE's error reason when a restart was not seen up; {job} is the job number", argv(func(c *Config) *[]string { return &c.QstatJob }), true},
		{"restart-timeout", "60s", "deadline of one restart (and of one clear); its whole process group is killed after it", positive(func(c *Config) *time.Duration { return &c.RestartTimeout }), true},
		{"restart-parallel", "4", "restarts running at once", integer(1, func(c *Config) *int { return &c.RestartParallel }), true},
		{"restart-budget", "3", "restarts allowed per tool in the restart window", integer(1, func(c *Config) *int { return &c.Budget }), true},
		{"restart-window", "60m", "sliding window the restart budget counts in", positive(func(c *Config) *time.Duration { return &c.Window }), true},
		{"backoff-initial", "2m", "wait after a tool's first restart; doubles after each; 0s: no wait, the budget alone paces restarts", duration(func(c *Config) *time.Duration { return &c.BackoffInitial }), true},
		{"backoff-max", "30m", "longest wait between restarts of one tool", positive(func(c *Config) *time.Duration { return &c.BackoffMax }), true},
		{"reset-after", "10m", "a tool seen up this long in a row has its backoff forgotten; 0s: as soon as it is seen up", duration(func(c *Config) *time.Duration { return &c.ResetAfter }), true},
		{"registration-grace", "2m", "how long a fresh job may run before it must be registered with the proxy; 0s: it must be registered when first seen running", duration(func(c *Config) *time.Duration { return &c.RegistrationGrace }), true},
		{"pending-timeout", "10m", "a job pending longer is reported as stuck", positive(func(c *Config) *time.Duration { return &c.PendingTimeout }), true},
		{"up-timeout", "5m", "after its restart command returned, how long a tool has to be seen up (its job running and registered) before the restart counts as not-up; at least registration-grace plus interval", positive(func(c *Config) *time.Duration { return &c.UpTimeout }), true},
		{"clear-deleting-after", "5m", "a job seen being deleted (d) longer than this is removed with clear-command and its tool restarted", positive(func(c *Config) *time.Duration { return &c.DeletingTooLong }), true},
		{"history-retention", "24h", "restart attempts older than this are pruned", positive(func(c *Config) *time.Duration { return &c.Retention }), true},
		{"valve-min", "10", "the safety valve trips when more tools than max(valve-min, valve-fraction × tools) need a restart at once; 0: valve-fraction alone decides", integer(0, func(c *Config) *int { return &c.ValveMin }), true},
		{"valve-fraction", "0.1", "see valve-min; 0: valve-min alone decides", func(c *Config, v string) error {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f < 0 || f > 1 {
				return fmt.Errorf("%q is not a fraction between 0 and 1", v)
			}
			c.ValveFraction = f
			return nil
		}, true},
		{"valve-allow", "0", "restarts still let through per cycle while the valve holds; 0: none", integer(0, func(c *Config) *int { return &c.ValveAllow }), true},
	}
}

// daemonKeys are the daemon's own: its state, pace, logs, metrics and alerts.
func daemonKeys() []key {
	return []key{
		{"state-file", "/var/lib/webservicemonitor/state.db", "bbolt file holding the restart history", requiredPath(func(c *Config) *string { return &c.StateFile }), true},
		{"state-lock-wait", "2s", "how long to wait for the state file's lock before saying who holds it", positive(func(c *Config) *time.Duration { return &c.StateLockWait }), true},
		{"interval", "60s", "time between cycles", duration(func(c *Config) *time.Duration { return &c.Interval }), true},
		{"shutdown-grace", "10s", "on SIGTERM, how long restarts in flight may finish before they are killed; 0s: killed at once", duration(func(c *Config) *time.Duration { return &c.ShutdownGrace }), true},
		{"memory-limit", "256MiB", "soft limit of the Go heap (as GOMEMLIMIT): near it the collector works harder instead of letting a large platform's cycle double its heap; 0 disables", func(c *Config, v string) error {
			n, err := parseBytes(v)
			if err != nil {
				return err
			}
			c.MemoryLimit = n
			return nil
		}, true},
		{"stall-timeout", StallTimeoutAuto, "the daemon's loop counts as hung after this long without progress, and the systemd watchdog is no longer fed; auto: the longest step's timeout plus a minute", func(c *Config, v string) error {
			if v == StallTimeoutAuto {
				c.StallTimeout = 0
				return nil
			}
			return positive(func(c *Config) *time.Duration { return &c.StallTimeout })(c, v)
		}, true},
		{"log-format", "json", "log format: json or console", oneOf(&[]string{"json", "console"}, func(c *Config) *string { return &c.LogFormat }), true},
		{"log-level", "info", "log level: debug, info, warn, error", oneOf(&[]string{"debug", "info", "warn", "error"}, func(c *Config) *string { return &c.LogLevel }), true},
		{"listen", "127.0.0.1:9469", "host:port serving /metrics, /healthz and /readyz in daemon mode; empty: no listener", func(c *Config, v string) error {
			if v != "" {
				if _, _, err := net.SplitHostPort(v); err != nil {
					return fmt.Errorf("%q is not a host:port: %v", v, err)
				}
			}
			c.Listen = v
			return nil
		}, true},
		{"alertmanager-url", "", "Alertmanager to push alerts to, e.g. http://127.0.0.1:9093 (repeat the flag, or give a YAML list, for several); none: alerting off", alertmanagerURLs, true},
		{"runbook-url", "", "runbook_url annotation of every alert; empty: none", func(c *Config, v string) error {
			if v != "" {
				if err := checkURL(v); err != nil {
					return err
				}
			}
			c.RunbookURL = v
			return nil
		}, true},
		{"tool-url", "https://{tool}.toolforge.org/", "link to a tool in its alert; {tool} is the tool name; empty: none", func(c *Config, v string) error {
			if v != "" {
				if err := checkURL(strings.ReplaceAll(v, "{tool}", "tool")); err != nil {
					return err
				}
			}
			c.ToolURL = v
			return nil
		}, true},
		{"alert-resend", "0s", "how often a firing alert is sent again; 0s: every cycle", duration(func(c *Config) *time.Duration { return &c.AlertResend }), true},
		{"alert-timeout", "10s", "deadline for pushing alerts to one Alertmanager, retries included", positive(func(c *Config) *time.Duration { return &c.AlertTimeout }), true},
		{"source-alert-after", "3", "consecutive cycles a source must fail before it is paged", integer(1, func(c *Config) *int { return &c.SourceAlertAfter }), true},
	}
}

// modeKeys are the command line's alone: the file to read, and the modes.
func modeKeys() []key {
	return []key{
		{"config", "", "YAML configuration file (every key is also a flag)", func(c *Config, v string) error {
			if v == "" {
				return nil
			}
			abs, err := filepath.Abs(v)
			c.ConfigFile = abs
			return err
		}, false},
		{"dry-run", "false", "run one read-only cycle and print what would be done", boolean(func(c *Config) *bool { return &c.DryRun }), false},
		{"once", "false", "run one acting cycle and exit", boolean(func(c *Config) *bool { return &c.Once }), false},
		{"output", "table", "audit output: table or json", oneOf(&[]string{"table", "json"}, func(c *Config) *string { return &c.Output }), false},
		{"check-config", "false", "validate the configuration and exit", boolean(func(c *Config) *bool { return &c.CheckConfig }), false},
		{"version", "false", "print version, commit and Go version and exit", boolean(func(c *Config) *bool { return &c.Version }), false},
		{"reset-history", "false", "set a lost or damaged state file aside (renamed with a timestamp, never deleted), start a fresh restart history and exit (stop the daemon first)", boolean(func(c *Config) *bool { return &c.ResetHistory }), false},
		{"migrate-down", "", "rewrite the state file to this older schema version for a rollback (stop the daemon first; a backup is kept) and exit", func(c *Config, v string) error {
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
	c.AlertmanagerURLs = nil
	seen := map[string]bool{}
	for _, u := range strings.Split(v, "\n") {
		if u = strings.TrimRight(strings.TrimSpace(u), "/"); u == "" {
			continue
		}
		if err := checkURL(u); err != nil {
			return err
		}
		if seen[u] {
			return fmt.Errorf("%q is given twice", sanitize.URL(u))
		}
		seen[u] = true
		c.AlertmanagerURLs = append(c.AlertmanagerURLs, u)
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
	case "web-types", "releases":
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

// flagValue adapts a key to the flag package; it records the raw value and
// parses it later, so a file value can be overridden in the right order.
type flagValue struct {
	value  string
	isBool bool
	sep    string // set for a repeatable flag: later uses append
	given  bool
}

func (f *flagValue) String() string { return f.value }
func (f *flagValue) Set(v string) error {
	if f.sep != "" && f.given {
		v = f.value + f.sep + v
	}
	f.value, f.given = v, true
	return nil
}

func (f *flagValue) IsBoolFlag() bool { return f.isBool }

// Load parses args (without the program name), reads the YAML file if one is
// named, applies defaults, and checks everything. Errors name the key.
func Load(args []string, stderr io.Writer) (*Config, error) {
	ks := keys()
	fs := flag.NewFlagSet("webservicemonitor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	values := map[string]*flagValue{}
	for _, k := range ks {
		v := &flagValue{value: k.def, isBool: k.def == "true" || k.def == "false"}
		if sep, repeatable := listSeparator(k.name); repeatable {
			v.sep = sep
		}
		values[k.name] = v
		fs.Var(v, k.name, k.help+" (default "+strconv.Quote(k.def)+")")
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q (all settings are --flags)", fs.Arg(0))
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })

	raw := map[string]string{}
	for _, k := range ks {
		raw[k.name] = k.def
	}
	if file := values["config"].value; file != "" {
		fromFile, err := readFile(file, ks)
		if err != nil {
			return nil, err
		}
		for name, v := range fromFile {
			raw[name] = v
		}
	}
	for name := range given {
		raw[name] = values[name].value
	}

	c := &Config{}
	for _, k := range ks {
		if err := k.set(c, raw[k.name]); err != nil {
			return nil, fmt.Errorf("%s: %w", k.name, err)
		}
	}
	if err := c.check(); err != nil {
		return nil, err
	}
	return c, nil
}

// Defaults returns the configuration that every key's default gives,
// without reading a file or checking the machine: for tests and benchmarks
// elsewhere that want to run as the daemon does. A default that does not
// parse is a bug of this package, which its tests catch; Defaults panics on
// one.
func Defaults() *Config {
	c := &Config{}
	for _, k := range keys() {
		if err := k.set(c, k.def); err != nil {
			panic(fmt.Sprintf("config: the default of %s: %v", k.name, err))
		}
	}
	return c
}

// readFile reads the YAML configuration: a mapping of known keys to scalars.
func readFile(path string, ks []key) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading config file: %w", err)
	}
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return map[string]string{}, nil // an empty file is all defaults
		}
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("config file %s: line %d: expected a mapping of keys to values", path, root.Line)
	}
	known := map[string]key{}
	for _, k := range ks {
		known[k.name] = k
	}
	out := map[string]string{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		kn, vn := root.Content[i], root.Content[i+1]
		k, ok := known[kn.Value]
		sep, _ := listSeparator(kn.Value)
		switch {
		case !ok:
			return nil, fmt.Errorf("config file %s: line %d: unknown key %q", path, kn.Line, kn.Value)
		case !k.fileOK:
			return nil, fmt.Errorf("config file %s: line %d: key %q is a command-line mode, not a setting", path, kn.Line, kn.Value)
		case vn.Kind == yaml.SequenceNode && sep != "":
			var items []string
			for _, item := range vn.Content {
				if item.Kind != yaml.ScalarNode {
					return nil, fmt.Errorf("config file %s: line %d: %s: expected a list of strings", path, item.Line, k.name)
				}
				items = append(items, item.Value)
			}
			out[k.name] = strings.Join(items, sep)
		case vn.Kind != yaml.ScalarNode:
			return nil, fmt.Errorf("config file %s: line %d: %s: expected a single value", path, vn.Line, k.name)
		default:
			if _, dup := out[k.name]; dup {
				return nil, fmt.Errorf("config file %s: line %d: key %q given twice", path, kn.Line, kn.Value)
			}
			out[k.name] = vn.Value
		}
	}
	return out, nil
}

var projectName = regexp.MustCompile(`^[a-z][a-z0-9-]{0,31}$`)

// check validates what single keys cannot: files that must exist, the
// project name, the restart command's placeholders.
func (c *Config) check() error {
	if c.Interval < time.Second {
		return fmt.Errorf("interval: %s is shorter than 1s", c.Interval)
	}
	if c.Once && c.DryRun {
		return errors.New("once: --once and --dry-run exclude each other")
	}
	if c.MigrateDown >= 0 && (c.Once || c.DryRun) {
		return errors.New("migrate-down: a rollback runs alone, without --once or --dry-run")
	}
	if c.ResetHistory && (c.Once || c.DryRun || c.MigrateDown >= 0) {
		return errors.New("reset-history: a reset runs alone, without --once, --dry-run or --migrate-down")
	}
	if c.Version {
		return nil
	}
	data, err := os.ReadFile(c.ProjectFile)
	if err != nil {
		return fmt.Errorf("project-file: %w", err)
	}
	c.Project = strings.TrimSpace(string(data))
	if !projectName.MatchString(c.Project) {
		return fmt.Errorf("project-file: %s holds %q, not a project name", c.ProjectFile, c.Project)
	}
	if err := checkProgram("qstat", c.Qstat[0]); err != nil {
		return err
	}
	if err := checkProgram("restart-command", c.RestartCommand[0]); err != nil {
		return err
	}
	if err := checkPlaceholders(c.RestartCommand); err != nil {
		return fmt.Errorf("restart-command: %w", err)
	}
	if dir := filepath.Dir(c.StateFile); !isDir(dir) {
		return fmt.Errorf("state-file: directory %s does not exist", dir)
	}
	if c.PasswdFile != "" {
		if _, err := os.Stat(c.PasswdFile); err != nil {
			return fmt.Errorf("passwd-file: %w", err)
		}
	}
	if c.BackoffMax < c.BackoffInitial {
		return fmt.Errorf("backoff-max: %s is shorter than backoff-initial %s", c.BackoffMax, c.BackoffInitial)
	}
	return c.checkGrid()
}

// checkGrid validates what the grid is asked: the clear and job commands,
// the releases, and an up timeout that a restarted tool can meet.
func (c *Config) checkGrid() error {
	for _, cmd := range []struct {
		key   string
		argv  []string
		known []string
	}{
		{"clear-command", c.ClearCommand, []string{"{job}", "{account}", "{tool}"}},
		{"qstat-job", c.QstatJob, []string{"{job}"}},
	} {
		if err := checkProgram(cmd.key, cmd.argv[0]); err != nil {
			return err
		}
		if err := checkKnownPlaceholders(cmd.argv, cmd.known); err != nil {
			return fmt.Errorf("%s: %w", cmd.key, err)
		}
		if !strings.Contains(strings.Join(cmd.argv, " "), "{job}") {
			return fmt.Errorf("%s: no {job} placeholder: the command must name the job", cmd.key)
		}
	}
	if !slices.Contains(c.Releases, c.DefaultRelease) {
		return fmt.Errorf("default-release: %q is not one of releases (%s)", c.DefaultRelease, strings.Join(c.Releases, ", "))
	}
	// A job that starts at once has registration-grace to register, and
	// is seen at the next cycle, an interval later.
	if least := c.RegistrationGrace + c.Interval; c.UpTimeout < least {
		return fmt.Errorf("up-timeout: %s is shorter than registration-grace %s plus interval %s: a restarted tool could not be seen up in time",
			c.UpTimeout, c.RegistrationGrace, c.Interval)
	}
	return nil
}

// checkProgram finds the program the way exec will (PATH for a bare name),
// so a typo is refused at start rather than failing every cycle.
func checkProgram(key, prog string) error {
	if _, err := exec.LookPath(prog); err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	return nil
}

var placeholder = regexp.MustCompile(`\{[^{}]*\}`)

func checkPlaceholders(argv []string) error {
	return checkKnownPlaceholders(argv, []string{"{account}", "{tool}", "{web}", "{release}", "{home}"})
}

func checkKnownPlaceholders(argv, known []string) error {
	for _, a := range argv {
		for _, p := range placeholder.FindAllString(a, -1) {
			if !slices.Contains(known, p) {
				return fmt.Errorf("unknown placeholder %s in %q (known: %s)", p, a, strings.Join(known, " "))
			}
		}
	}
	return nil
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}
