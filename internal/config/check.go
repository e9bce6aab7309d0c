package config

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

// rule is one check across keys. It is skipped when one of the keys it
// reads was refused already: its error would only repeat that one.
type rule struct {
	keys  []string
	check func(c *Config) error
}

// check validates what single keys cannot: files that must exist, the
// project name, the commands' placeholders, keys that must agree. It
// returns every error, and records in c.Warnings what does not exist yet
// but may by the time a cycle needs it.
func (c *Config) check(failed map[string]bool) []error {
	rules := []rule{
		{[]string{"interval"}, func(c *Config) error {
			if c.Interval < time.Second {
				return fmt.Errorf("interval: %s is shorter than 1s", c.Interval)
			}
			return nil
		}},
		{[]string{"migrate-down"}, (*Config).checkModes},
	}
	if !c.Version { // --version looks at nothing on the machine
		rules = append(rules, c.machineRules()...)
	}
	var errs []error
	for _, r := range rules {
		if slices.ContainsFunc(r.keys, func(k string) bool { return failed[k] }) {
			continue
		}
		if err := r.check(c); err != nil {
			errs = append(errs, err)
		}
	}
	if !c.Version {
		c.Warnings = c.warnings(failed)
	}
	return errs
}

// checkModes refuses modes of the run command that exclude each other.
func (c *Config) checkModes() error {
	switch {
	case c.Once && c.DryRun:
		return errors.New("once: --once and --dry-run exclude each other")
	case c.MigrateDown >= 0 && (c.Once || c.DryRun):
		return errors.New("migrate-down: a rollback runs alone, without --once or --dry-run")
	case c.ResetHistory && (c.Once || c.DryRun || c.MigrateDown >= 0):
		return errors.New("reset-history: a reset runs alone, without --once, --dry-run or --migrate-down")
	}
	return nil
}

// machineRules check the configuration against the machine and each other.
func (c *Config) machineRules() []rule {
	return []rule{
		{[]string{"project-file"}, (*Config).readProject},
		{[]string{"restart-command"}, func(c *Config) error {
			return commandError("restart-command", c.RestartCommand, restartPlaceholders, "")
		}},
		{[]string{"clear-command"}, func(c *Config) error {
			return commandError("clear-command", c.ClearCommand, []string{"{job}", "{account}", "{tool}"}, "{job}")
		}},
		{[]string{"qstat-job"}, func(c *Config) error {
			return placeholderError("qstat-job", c.QstatJob, []string{"{job}"}, "{job}")
		}},
		{[]string{"state-file"}, func(c *Config) error {
			if dir := filepath.Dir(c.StateFile); !isDir(dir) {
				return fmt.Errorf("state-file: directory %s does not exist", dir)
			}
			return nil
		}},
		{[]string{"passwd-file"}, func(c *Config) error {
			if c.PasswdFile == "" {
				return nil
			}
			if _, err := os.Stat(c.PasswdFile); err != nil {
				return fmt.Errorf("passwd-file: %w", err)
			}
			return nil
		}},
		{[]string{"backoff-initial", "backoff-max"}, func(c *Config) error {
			if c.BackoffMax < c.BackoffInitial {
				return fmt.Errorf("backoff-max: %s is shorter than backoff-initial %s", c.BackoffMax, c.BackoffInitial)
			}
			return nil
		}},
		{[]string{"releases", "default-release"}, func(c *Config) error {
			if !slices.Contains(c.Releases, c.DefaultRelease) {
				return fmt.Errorf("default-release: %q is not one of releases (%s)", c.DefaultRelease, strings.Join(c.Releases, ", "))
			}
			return nil
		}},
		{[]string{"up-timeout", "registration-grace", "interval"}, (*Config).checkUpTimeout},
		{[]string{"pause-max"}, (*Config).checkPause},
		{[]string{"etcd-endpoints", "etcd-cert", "etcd-key", "etcd-ca"}, (*Config).checkEtcdTLS},
	}
}

// checkEtcdTLS refuses a client certificate without its key (or the
// reverse) and TLS files that are not there: etcd would only say its
// handshake failed, on every cycle.
func (c *Config) checkEtcdTLS() error {
	if (c.EtcdCert == "") != (c.EtcdKey == "") {
		return errors.New("etcd-cert: etcd-cert and etcd-key go together: give both or neither")
	}
	for _, f := range []struct{ key, path string }{{"etcd-cert", c.EtcdCert}, {"etcd-key", c.EtcdKey}, {"etcd-ca", c.EtcdCA}} {
		if f.path == "" {
			continue
		}
		if len(c.EtcdEndpoints) == 0 {
			return fmt.Errorf("%s: given without etcd-endpoints", f.key)
		}
		if _, err := os.Stat(f.path); err != nil {
			return fmt.Errorf("%s: %w", f.key, err)
		}
	}
	return nil
}

var projectName = regexp.MustCompile(`^[a-z][a-z0-9-]{0,31}$`)

// readProject reads the project name from the project file into c.Project.
func (c *Config) readProject() error {
	data, err := os.ReadFile(c.ProjectFile)
	if err != nil {
		return fmt.Errorf("project-file: %w", err)
	}
	c.Project = strings.TrimSpace(string(data))
	if !projectName.MatchString(c.Project) {
		return fmt.Errorf("project-file: %s holds %q, not a project name", c.ProjectFile, c.Project)
	}
	return nil
}

// checkUpTimeout: a job that starts at once has registration-grace to
// register, and is seen at the next cycle, an interval later.
func (c *Config) checkUpTimeout() error {
	if least := c.RegistrationGrace + c.Interval; c.UpTimeout < least {
		return fmt.Errorf("up-timeout: %s is shorter than registration-grace %s plus interval %s: a restarted tool could not be seen up in time",
			c.UpTimeout, c.RegistrationGrace, c.Interval)
	}
	return nil
}

// checkPause refuses a pause longer than an admin may declare: a hold
// without a near end is how a platform is forgotten paused.
func (c *Config) checkPause() error {
	if c.Command == CommandPause && c.Admin.For > c.PauseMax {
		return fmt.Errorf("pause: --for %s is longer than pause-max %s, the longest pause an admin may declare", c.Admin.For, c.PauseMax)
	}
	return nil
}

// warnings are the paths the cycle reads that do not exist (yet): a homes
// root on NFS not mounted, a qstat installed after this package. Each would
// fail a source every cycle, which pages; none is a reason to refuse to
// start.
func (c *Config) warnings(failed map[string]bool) []string {
	var out []string
	if !failed["homes"] && !isDir(c.Homes) {
		out = append(out, fmt.Sprintf("homes: %s is not a directory (yet): every cycle's manifest scan will fail until it is", c.Homes))
	}
	if !failed["active-proxy-file"] {
		if _, err := os.Stat(c.ActiveProxyFile); err != nil {
			out = append(out, fmt.Sprintf("active-proxy-file: %v: every cycle's proxy check will fail until it exists", err))
		}
	}
	if w := c.takeoverWarning(failed); w != "" {
		out = append(out, w)
	}
	for _, cmd := range []struct {
		key  string
		argv []string
	}{{"qstat", c.Qstat}, {"qstat-job", c.QstatJob}} {
		if failed[cmd.key] {
			continue
		}
		if _, err := exec.LookPath(cmd.argv[0]); err != nil {
			out = append(out, fmt.Sprintf("%s: %v: the grid cannot be read until it exists", cmd.key, err))
		}
	}
	return out
}

// takeoverBound is how long after the leader's death a standby should have
// taken over: the promise, met by the defaults with a 60s interval.
const takeoverBound = 2 * time.Minute

// takeoverWarning says when the hosts sharing a history could leave the
// platform without an acting supervisor for longer than takeoverBound: a
// standby takes over within leader-ttl (the dead leader's lease) plus one
// interval.
func (c *Config) takeoverWarning(failed map[string]bool) string {
	if len(c.EtcdEndpoints) == 0 || failed["leader-ttl"] || failed["interval"] || c.LeaderTTL+c.Interval <= takeoverBound {
		return ""
	}
	return fmt.Sprintf("leader-ttl: %s plus interval %s is %s, over %s: after the acting host dies, a standby may take that long to take over",
		c.LeaderTTL, c.Interval, c.LeaderTTL+c.Interval, takeoverBound)
}

var restartPlaceholders = []string{"{account}", "{tool}", "{web}", "{release}", "{home}"}

// commandError checks that a command the daemon runs exists (the way exec
// will find it: PATH for a bare name), so a typo is refused at start rather
// than failing every cycle, and that it uses only known placeholders.
func commandError(key string, argv, known []string, required string) error {
	if _, err := exec.LookPath(argv[0]); err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	return placeholderError(key, argv, known, required)
}

// placeholderError refuses a placeholder not in known, and a command
// without required (when not "").
func placeholderError(key string, argv, known []string, required string) error {
	if err := checkKnownPlaceholders(argv, known); err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	if required != "" && !strings.Contains(strings.Join(argv, " "), required) {
		return fmt.Errorf("%s: no %s placeholder: the command must name the job", key, required)
	}
	return nil
}

var placeholder = regexp.MustCompile(`\{[^{}]*\}`)

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
