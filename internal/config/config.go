// Package config turns the YAML file and the command line into one checked
// Config. Every key is both a YAML key and a flag of the same name; a flag
// given on the command line wins over the file, the file over the default.
// The command line names a command (the daemon, "run", when it names none)
// and the command's own arguments: the tools an admin action concerns.
//
// It owns validation (unknown keys, bad durations, bad paths are refused with
// the key named, every one of them, not only the first) and the help; it
// never starts anything. A zero is never read as "the default": where 0 has
// a meaning the key's help says it (proxy-retries 0: no retry), and
// deadlines, windows, budgets and worker counts refuse it.
package config

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"time"
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
	EtcdEndpoints   []string // empty: single host, the state file
	EtcdCert        string
	EtcdKey         string
	EtcdCA          string
	EtcdPrefix      string
	LeaderTTL       time.Duration
	HostName        string // empty: os.Hostname
	MemoryLimit     int64  // bytes; 0: none
	Interval        time.Duration
	ShutdownGrace   time.Duration
	StallTimeout    time.Duration // 0 only for "auto": derived from the other timeouts (see cmd/webservicemonitor); an explicit 0 is refused
	ManifestTimeout time.Duration
	ManifestWorkers int
	WebTypes        []string
	PasswdFile      string // resolve accounts from this file instead of NSS (demos, tests)
	AccountCacheTTL time.Duration
	LogFormat       string // auto, json or console
	LogLevel        string

	Budget            int
	Window            time.Duration
	BackoffInitial    time.Duration
	BackoffMax        time.Duration
	ResetAfter        time.Duration
	RegistrationGrace time.Duration
	PauseMax          time.Duration // longest pause an admin may declare
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

	// Command is what the command line asks for: one of the Command*
	// constants; CommandRun when it names none.
	Command string
	// Admin holds the arguments of an admin command.
	Admin Admin
	// Transfer holds the arguments of state export and state import.
	Transfer Transfer

	// Warnings are what the checks found odd but not wrong (a homes root
	// or a qstat that does not exist yet): check-config prints them, the
	// daemon logs them at start.
	Warnings []string

	// Modes of the run command: command line only.
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

// The commands. CommandRun is the daemon and its one-shot modes.
const (
	CommandRun          = "run"
	CommandCheckConfig  = "check-config"
	CommandStatus       = "status"
	CommandPause        = "pause"
	CommandResume       = "resume"
	CommandForget       = "forget"
	CommandRetry        = "retry"
	CommandValveRelease = "valve-release"
	CommandStateExport  = "state-export"
	CommandStateImport  = "state-import"
)

// Admin is what an admin command was given on the command line.
type Admin struct {
	Tools  []string      // the tools it concerns, checked to be tool names; none: the whole platform
	Reason string        // pause, valve release: why (shown with the action)
	For    time.Duration // pause: how long; positive, at most pause-max
	AtMost int           // valve release: restarts per cycle; at least 1
}

// Transfer is what state export or state import was given on the command
// line.
type Transfer struct {
	// File is where export writes ("": standard output) and what import
	// reads.
	File string
	// Replace lets an import replace a history the store already holds.
	Replace bool
}

// ErrHelpShown is returned by Load when the command line asked for help
// (--help, help COMMAND, COMMAND --help) and the help was printed: nothing
// else is to be done, and the exit status is 0.
var ErrHelpShown = errors.New("help shown")

// Load parses args (without the program name), reads the YAML file if one is
// named, applies defaults, and checks everything. The help, when asked for,
// goes to help. Errors name the key; every error found is returned, joined
// (errors.Join), so an admin fixes a file in one pass. A mistyped flag or
// command is one error saying how to get help.
func Load(args []string, help io.Writer) (*Config, error) {
	ks := keys()
	cl, err := parseCommandLine(ks, args, help)
	if err != nil {
		return nil, err
	}
	var errs []error
	raw := map[string]string{}
	for _, k := range ks {
		raw[k.name] = k.def
	}
	if file := cl.values["config"].value; file != "" {
		fromFile, err := readFile(file, ks)
		if fromFile == nil {
			return nil, err
		}
		errs = append(errs, err) // the keys it could not take; the others count
		maps.Copy(raw, fromFile)
		errs = append(errs, overriddenButBad(ks, fromFile, cl)...)
	}
	for name, v := range cl.values {
		if v.given {
			raw[name] = v.value
		}
	}
	c := &Config{}
	failed := map[string]bool{}
	for _, k := range ks {
		if err := k.set(c, raw[k.name]); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", k.name, err))
			failed[k.name] = true
		}
	}
	errs = append(errs, cl.apply(c)...)
	errs = append(errs, c.check(failed)...)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return c, nil
}

// overriddenButBad checks the file's values that a flag overrides: the
// file is what the daemon reads on its next start or SIGHUP without that
// flag, so a bad value in it is an error now, not then.
func overriddenButBad(ks []key, fromFile map[string]string, cl *commandLine) []error {
	var errs []error
	scratch := &Config{}
	for _, k := range ks {
		v, inFile := fromFile[k.name]
		if flag, ok := cl.values[k.name]; !inFile || !ok || !flag.given {
			continue
		}
		if err := k.set(scratch, v); err != nil {
			errs = append(errs, fmt.Errorf("%s (in the file; a flag overrides it here): %w", k.name, err))
		}
	}
	return errs
}

// Defaults returns the configuration that every key's default gives,
// without reading a file or checking the machine: for tests and benchmarks
// elsewhere that want to run as the daemon does. A default that does not
// parse is a bug of this package, which its tests catch; Defaults panics on
// one.
func Defaults() *Config {
	c := &Config{Command: CommandRun}
	for _, k := range keys() {
		if err := k.set(c, k.def); err != nil {
			panic(fmt.Sprintf("config: the default of %s: %v", k.name, err))
		}
	}
	return c
}
