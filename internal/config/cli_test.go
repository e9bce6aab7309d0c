package config

import (
	"errors"
	"io"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestCommands: each command's grammar, with the settings as global flags
// before or after it.
func TestCommands(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		command string
		admin   Admin
	}{
		{"no command: the daemon", nil, CommandRun, Admin{}},
		{"run named", []string{"run"}, CommandRun, Admin{}},
		{"check-config command", []string{"check-config"}, CommandCheckConfig, Admin{}},
		{"--check-config flag", []string{"--check-config"}, CommandCheckConfig, Admin{}},
		{"status of all", []string{"status"}, CommandStatus, Admin{}},
		{"status of some, setting after", []string{"status", "alpha", "--interval", "2m", "b.eta"}, CommandStatus, Admin{Tools: []string{"alpha", "b.eta"}}},
		{"pause the platform", []string{"pause", "--reason", "grid maintenance", "--for", "2h"}, CommandPause,
			Admin{Reason: "grid maintenance", For: 2 * time.Hour}},
		{"pause tools, --flag=value", []string{"pause", "--for=30m", "--reason=deploy", "alpha", "beta"}, CommandPause,
			Admin{Tools: []string{"alpha", "beta"}, Reason: "deploy", For: 30 * time.Minute}},
		{"pause as long as pause-max", []string{"--pause-max", "48h", "pause", "--reason", "r", "--for", "48h"}, CommandPause,
			Admin{Reason: "r", For: 48 * time.Hour}},
		{"resume all", []string{"resume"}, CommandResume, Admin{}},
		{"resume one", []string{"resume", "alpha"}, CommandResume, Admin{Tools: []string{"alpha"}}},
		{"forget", []string{"forget", "alpha", "beta"}, CommandForget, Admin{Tools: []string{"alpha", "beta"}}},
		{"retry", []string{"retry", "alpha"}, CommandRetry, Admin{Tools: []string{"alpha"}}},
		{"valve release", []string{"valve", "release", "--at-most", "5"}, CommandValveRelease, Admin{AtMost: 5}},
		{"valve release with a reason", []string{"valve", "release", "--at-most", "1", "--reason", "proxy back"}, CommandValveRelease,
			Admin{AtMost: 1, Reason: "proxy back"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Load(append(base(t), tt.args...), io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Command != tt.command || !reflect.DeepEqual(cfg.Admin, tt.admin) {
				t.Errorf("command %q %+v, want %q %+v", cfg.Command, cfg.Admin, tt.command, tt.admin)
			}
		})
	}
}

// TestCommandLineErrors: each refusal is one line naming what is wrong and
// where to read how it is done.
func TestCommandLineErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string // substrings of the one line
	}{
		{"mistyped flag", []string{"--hoems", "/x"}, []string{"unknown long flag '--hoems'", "try 'webservicemonitor --help'"}},
		{"mistyped command", []string{"stauts"}, []string{`unknown command "stauts"`, "try 'webservicemonitor --help'"}},
		{"mode of run after another command", []string{"status", "--dry-run"}, []string{"unknown long flag '--dry-run'", "help status"}},
		{"argument to run", []string{"run", "alpha"}, []string{`unexpected argument "alpha"`}},
		{"pause without a reason", []string{"pause", "--for", "1h"}, []string{"pause: required flag(s) '--reason' not provided", "try 'webservicemonitor help pause'"}},
		{"pause without an end", []string{"pause", "--reason", "r"}, []string{"'--for' not provided"}},
		{"pause for no time", []string{"pause", "--reason", "r", "--for", "0s"}, []string{"pause: --for: must be greater than 0"}},
		{"pause for a negative time", []string{"pause", "--reason", "r", "--for", "-1h"}, []string{"pause: --for: must be greater than 0"}},
		{"pause for soon", []string{"pause", "--reason", "r", "--for", "soon"}, []string{`pause: --for: "soon" is not a duration`}},
		{"pause longer than pause-max", []string{"pause", "--reason", "r", "--for", "25h"}, []string{"pause: --for 25h0m0s is longer than pause-max 24h0m0s, the longest pause an admin may declare"}},
		{"forget nothing", []string{"forget"}, []string{"forget: required argument 'tool' not provided"}},
		{"retry nothing", []string{"retry"}, []string{"retry: required argument 'tool' not provided"}},
		{"forget a path", []string{"forget", "../etc"}, []string{`forget: "../etc" is not a tool name`}},
		{"status of an upper-case name", []string{"status", "Alpha"}, []string{`status: "Alpha" is not a tool name`}},
		{"valve alone", []string{"valve"}, []string{"must select a subcommand of 'valve'"}},
		{"valve release without --at-most", []string{"valve", "release"}, []string{"'--at-most' not provided"}},
		{"valve release of none", []string{"valve", "release", "--at-most", "0"}, []string{`valve release: --at-most: "0" is not a number of restarts of at least 1`}},
		{"help of no command", []string{"help", "bogus"}, []string{`expected command but got "bogus"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(append(base(t), tt.args...), io.Discard)
			if err == nil {
				t.Fatal("accepted")
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("%d lines, want one:\n%v", strings.Count(err.Error(), "\n")+1, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

// TestFlagsAsBefore: what the flag package took, kingpin takes too.
func TestFlagsAsBefore(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		check func(c *Config) bool
	}{
		{"a repeated flag: the last wins", []string{"--interval", "2m", "--interval", "3m"}, func(c *Config) bool { return c.Interval == 3*time.Minute }},
		{"--switch=false", []string{"--dry-run=false"}, func(c *Config) bool { return !c.DryRun }},
		{"--switch=true", []string{"--dry-run=true"}, func(c *Config) bool { return c.DryRun }},
		{"--migrate-down=N", []string{"--migrate-down=2"}, func(c *Config) bool { return c.MigrateDown == 2 }},
		{"an empty value", []string{"--listen", ""}, func(c *Config) bool { return c.Listen == "" }},
		{"a setting after run's mode", []string{"--once", "--interval", "5s"}, func(c *Config) bool { return c.Once && c.Interval == 5*time.Second }},
		{"a value starting with a dash", []string{"pause", "--reason", "-x- marks the spot", "--for", "1h"}, func(c *Config) bool { return c.Admin.Reason == "-x- marks the spot" }},
		{"a size with its unit", []string{"--qstat-max-output", "1GiB"}, func(c *Config) bool { return c.QstatMaxOutput == 1<<30 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Load(append(base(t), tt.args...), io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(cfg) {
				t.Errorf("%q loaded as %+v", tt.args, cfg)
			}
		})
	}
}

// TestHelp: --help, help COMMAND and COMMAND --help print the help, and
// Load says so (the program exits 0).
func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"help"}, {"--config", "/nonexistent.yaml", "--help"}} {
		var out strings.Builder
		if _, err := Load(args, &out); !errors.Is(err, ErrHelpShown) {
			t.Fatalf("%q: error %v, want ErrHelpShown", args, err)
		}
		help := out.String()
		for _, g := range groups() {
			if strings.Count(help, "\n"+g.title+":\n") != 1 {
				t.Errorf("%q: group %q not listed once", args, g.title)
			}
		}
		for _, k := range keys() {
			if n := strings.Count(help, "\n  --"+k.name+"\n") + strings.Count(help, "\n  --"+k.name+"=") + strings.Count(help, "\n  --"+k.name+"  "); n != 1 {
				t.Errorf("%q: --%s listed %d times, want once", args, k.name, n)
			}
			if k.def != "" && k.arg != "" && strings.Count(help, "(default: "+k.def+")") < 1 {
				t.Errorf("%q: the default of --%s is not shown", args, k.name)
			}
		}
		for _, w := range []string{"Exit statuses:", "\n  3  the state file is locked", "(default: 256MiB)", "(default: 60s)",
			"pause --reason=TEXT --for=DURATION [TOOL...]", "valve release --at-most=N [--reason=TEXT]", "forget [--reason=TEXT] TOOL...", "retry [--reason=TEXT] TOOL...", "resume [--reason=TEXT] [TOOL...]",
			"state export [--output=FILE]", "state import [--replace] FILE\n"} {
			if !strings.Contains(help, w) {
				t.Errorf("%q: help lacks %q", args, w)
			}
		}
	}
	for _, args := range [][]string{{"help", "pause"}, {"pause", "--help"}, {"pause", "--reason", "r", "--help"}} {
		var out strings.Builder
		if _, err := Load(args, &out); !errors.Is(err, ErrHelpShown) {
			t.Fatalf("%q: error %v, want ErrHelpShown", args, err)
		}
		for _, w := range []string{"usage: webservicemonitor pause --reason=TEXT --for=DURATION [TOOL...]", "--for=DURATION", "at most pause-max", "Exit statuses:"} {
			if !strings.Contains(out.String(), w) {
				t.Errorf("%q: help lacks %q:\n%s", args, w, out.String())
			}
		}
	}
}

// TestCheckConfigReportsEveryError: one file, five mistakes, five errors,
// each on its own line with its key.
func TestCheckConfigReportsEveryError(t *testing.T) {
	file, _ := filepath.Abs("testdata/several-errors.yaml")
	_, err := Load(append(base(t), "--config", file, "check-config"), io.Discard)
	if err == nil {
		t.Fatal("accepted")
	}
	want := []string{
		`line 2: unknown key "homez"`,
		`interval: "soon" is not a duration`,
		"restart-budget: must be at least 1, got 0",
		"proxy-list-url: unknown placeholder {prxy}",
		"tool-url: unknown placeholder {user}",
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != len(want) {
		t.Errorf("%d errors, want %d:\n%v", len(lines), len(want), err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("errors lack %q:\n%v", w, err)
		}
	}
}

// TestWarnings: what the cycle reads and is not there yet is a warning,
// never a refusal.
func TestWarnings(t *testing.T) {
	file, _ := filepath.Abs("testdata/missing-homes-proxy-file-and-qstat.yaml")
	project, _ := filepath.Abs("testdata/project")
	args := []string{"--config", file, "check-config", "--project-file", project, "--state-file", filepath.Join(t.TempDir(), "state.db"),
		"--restart-command", "/bin/true {account}", "--clear-command", "/bin/true {job}"}
	cfg, err := Load(args, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"homes: /nonexistent/homes is not a directory", "active-proxy-file: stat /nonexistent/active-proxy", "qstat: exec: \"/nonexistent/qstat\"", "qstat-job: exec: \"/nonexistent/qstat\""}
	if len(cfg.Warnings) != len(want) {
		t.Errorf("warnings %q, want %d", cfg.Warnings, len(want))
	}
	for i, w := range want {
		if i < len(cfg.Warnings) && !strings.HasPrefix(cfg.Warnings[i], w) {
			t.Errorf("warning %q, want %q", cfg.Warnings[i], w)
		}
	}
}

// TestStateCommands: state export writes where --output names (the
// format setting is left alone), state import reads its file and replaces
// only when told.
func TestStateCommands(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		command  string
		transfer Transfer
		output   string
	}{
		{"export to standard output", []string{"state", "export"}, CommandStateExport, Transfer{}, "table"},
		{"export to a file", []string{"state", "export", "--output", "/tmp/h.json"}, CommandStateExport, Transfer{File: "/tmp/h.json"}, "table"},
		{"export, --output before the command", []string{"--output=/tmp/h.json", "state", "export"}, CommandStateExport, Transfer{File: "/tmp/h.json"}, "table"},
		{"import", []string{"state", "import", "/tmp/h.json"}, CommandStateImport, Transfer{File: "/tmp/h.json"}, "table"},
		{"import replacing", []string{"state", "import", "--replace", "/tmp/h.json"}, CommandStateImport, Transfer{File: "/tmp/h.json", Replace: true}, "table"},
		{"status keeps --output as a format", []string{"status", "--output", "json"}, CommandStatus, Transfer{}, "json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Load(append(base(t), tt.args...), io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Command != tt.command || cfg.Transfer != tt.transfer || cfg.Output != tt.output {
				t.Errorf("command %q %+v output %q, want %q %+v %q", cfg.Command, cfg.Transfer, cfg.Output, tt.command, tt.transfer, tt.output)
			}
		})
	}
	for _, args := range [][]string{{"state"}, {"state", "import"}, {"state", "import", "a", "b"}} {
		if _, err := Load(append(base(t), args...), io.Discard); err == nil {
			t.Errorf("%v taken", args)
		}
	}
}
