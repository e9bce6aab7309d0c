package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"webservicemonitor/internal/toolname"
)

const programName = "webservicemonitor"

// flagValue holds one key's raw value from the command line; it is parsed
// with the file's and the defaults later, so that a flag wins over the file
// and every error is reported with the others.
type flagValue struct {
	value  string
	isBool bool
	sep    string // set for a list flag that may be repeated: later uses append
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

// IsCumulative lets every flag be repeated, as the flag package did: the
// last one wins (or, for a list, each adds to it), so a wrapper script's
// flags can be overridden by the ones given after them.
func (f *flagValue) IsCumulative() bool { return true }

// commandLine is what the command line gave: each key's flag, the command,
// and the command's own arguments, still unparsed.
type commandLine struct {
	values  map[string]*flagValue
	command string
	tools   []string
	reason  string
	pause   string // --for, a duration
	atMost  string
	file    string // state export --output, state import FILE
	replace bool
}

// parseCommandLine parses args into a commandLine. When the help is asked
// for, it writes it to help and returns ErrHelpShown. Its errors are one
// line each, saying how to get help.
func parseCommandLine(ks []key, args []string, help io.Writer) (*commandLine, error) {
	cl := &commandLine{values: map[string]*flagValue{}}
	for _, k := range ks {
		v := &flagValue{value: k.def, isBool: k.def == "true" || k.def == "false"}
		if sep, repeatable := listSeparator(k.name); repeatable {
			v.sep = sep
		}
		cl.values[k.name] = v
	}
	app := cl.application(ks)
	var usage, complaint bytes.Buffer
	status := -1 // set by kingpin when it would have exited: after the help
	app.UsageWriter(&usage).ErrorWriter(&complaint).Terminate(func(s int) {
		if status < 0 {
			status = s
		}
	})
	args = joinFlagValues(args, cl.values, []string{"reason", "for", "at-most"})
	command, err := app.Parse(args)
	switch {
	case status == 0:
		_, werr := help.Write(usage.Bytes())
		return nil, errors.Join(ErrHelpShown, werr)
	case status > 0:
		err = errors.New(strings.TrimSpace(strings.TrimPrefix(complaint.String(), programName+": error: ")))
	}
	if err != nil {
		return nil, usageError(err, args)
	}
	cl.command = strings.ReplaceAll(command, " ", "-") // valve release, state export
	cl.takeExportFile(ks)
	return cl, nil
}

// application declares the commands and their flags to kingpin; the
// settings are global flags, the run command's modes its own.
func (cl *commandLine) application(ks []key) *kingpin.Application {
	app := kingpin.New(programName, about)
	app.UsageTemplate(`{{help .App .Context.SelectedCommand}}`).UsageFuncs(map[string]any{
		"help": func(app *kingpin.ApplicationModel, cmd *kingpin.CmdModel) string { return helpText(ks, app, cmd) },
	})
	run := app.Command(CommandRun, "supervise: a cycle every interval, until SIGTERM; with --once one cycle, with --dry-run one read-only cycle printing what it would do (the audit)").Default()
	for _, k := range ks {
		declare := app.Flag
		if k.runOnly {
			declare = run.Flag
		}
		declare(k.name, k.help).PlaceHolder(k.arg).SetValue(cl.values[k.name])
	}
	app.Command(CommandCheckConfig, "validate the configuration and the state file (with etcd-endpoints: each etcd member instead), report every error and warning, and exit (as --check-config)")
	status := app.Command(CommandStatus, "each tool's current decision and its whole retained history (attempts, their output, the admin actions concerning it); --output table or json; works while the daemon runs")
	status.Arg("tool", "the tools to show; none: every tool").StringsVar(&cl.tools)
	pause := app.Command(CommandPause, "hold restarts, of the whole platform or of the tools named, for a time: the daemon keeps collecting and reporting, and restarts nothing paused")
	pause.Flag("reason", "why; shown with the hold in every audit, log line and metric").PlaceHolder("TEXT").Required().StringVar(&cl.reason)
	pause.Flag("for", "how long the hold lasts; it ends by itself; at most pause-max").PlaceHolder("DURATION").Required().StringVar(&cl.pause)
	pause.Arg("tool", "the tools to pause; none: the whole platform").StringsVar(&cl.tools)
	resume := app.Command(CommandResume, "end a pause before its time")
	resume.Flag("reason", "why; recorded with the action").PlaceHolder("TEXT").StringVar(&cl.reason)
	resume.Arg("tool", "the tools to resume; none: the whole platform's pause").StringsVar(&cl.tools)
	forget := app.Command(CommandForget, "clear the tools' restart budget, backoff and given-up state, so the next cycle may restart them (their past attempts stay in the history, marked forgiven)")
	forget.Flag("reason", "why; recorded with the action").PlaceHolder("TEXT").StringVar(&cl.reason)
	forget.Arg("tool", "the tools to forget").Required().StringsVar(&cl.tools)
	retry := app.Command(CommandRetry, "restart the tools at the next cycle even if backoff holds them (counted as an attempt)")
	retry.Flag("reason", "why; recorded with the action").PlaceHolder("TEXT").StringVar(&cl.reason)
	retry.Arg("tool", "the tools to restart").Required().StringsVar(&cl.tools)
	release := app.Command("valve", "the safety valve").Command("release", "restart the tools the valve is holding, at most N a cycle, until none wants a restart")
	release.Flag("at-most", "restarts a cycle, at least 1").PlaceHolder("N").Required().StringVar(&cl.atMost)
	release.Flag("reason", "why; recorded with the release").PlaceHolder("TEXT").StringVar(&cl.reason)
	cl.stateCommands(app)
	return app
}

// stateCommands declares state export and state import: a history moved
// between the state file and etcd (single host to several and back).
func (cl *commandLine) stateCommands(app *kingpin.Application) {
	st := app.Command("state", "the restart history as a whole")
	st.Command("export", "write the whole restart history of the configured store (the state file; etcd with etcd-endpoints) "+
		"as one JSON document: every tool's attempts, the admin actions and their numbering, the firing alerts, the last cycle's time. "+
		"It only reads (works while the daemons run; etcd is read at one revision). "+
		"--output=FILE names the file (default: standard output)")
	imp := st.Command("import", "write an exported history into the configured store (the state file; etcd with etcd-endpoints). "+
		"Into the state file it takes the daemon lock, so not while a daemon runs; into etcd it takes the leadership "+
		"(waiting leader-ttl plus 10s), so not while a daemon leads: stop the daemons first. A store that holds a history is refused unless --replace")
	imp.Flag("replace", "replace the history the store holds (export it first to keep it)").BoolVar(&cl.replace)
	imp.Arg("file", "the file state export wrote").Required().StringVar(&cl.file)
}

// takeExportFile makes state export's --output the file it writes: the
// export is always JSON, so the setting's formats mean nothing to it, and
// an admin names the file with the flag every output already uses.
func (cl *commandLine) takeExportFile(ks []key) {
	out := cl.values["output"]
	if cl.command != CommandStateExport || out == nil || !out.given {
		return
	}
	cl.file = out.value
	for _, k := range ks {
		if k.name == "output" {
			*out = flagValue{value: k.def}
		}
	}
}

// joinFlagValues rewrites "--name value" as "--name=value" for every flag
// that takes a value, as the flag package read them: kingpin would take a
// value starting with "-" (a negative number, given to be refused with its
// key named) for a flag. "--switch=false" becomes kingpin's "--no-switch".
func joinFlagValues(args []string, values map[string]*flagValue, valueFlags []string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(out, args[i:]...)
		}
		name, value, hasValue := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		v, isKey := values[name]
		takesValue := (isKey && !v.isBool) || slices.Contains(valueFlags, name)
		switch {
		case !strings.HasPrefix(a, "--"):
		case takesValue && !hasValue && i+1 < len(args):
			i++
			a += "=" + args[i]
		case isKey && v.isBool && hasValue:
			if b, err := strconv.ParseBool(value); err == nil && b {
				a = "--" + name
			} else if err == nil {
				a = "--no-" + name
			}
		}
		out = append(out, a)
	}
	return out
}

// usageError is err in one line, with where to read how it is done: the
// help of the command given, or the whole help.
func usageError(err error, args []string) error {
	msg := err.Error()
	first := firstWord(args)
	if rest, ok := strings.CutPrefix(msg, "unexpected "); ok {
		msg = fmt.Sprintf("unexpected argument %q", rest)
		if rest == first && !slices.Contains(commandNames(), first) {
			msg = fmt.Sprintf("unknown command %q (commands: %s)", first, strings.Join(commandNames(), ", "))
		}
	}
	hint := programName + " --help"
	if slices.Contains(commandNames(), first) && first != "help" {
		msg = first + ": " + msg
		hint = programName + " help " + first
	}
	return fmt.Errorf("%s; try '%s'", msg, hint)
}

// firstWord is the first argument that is not a flag: the command, if any.
func firstWord(args []string) string {
	for _, a := range args {
		if a == "--" {
			return ""
		}
		if !strings.HasPrefix(a, "-") {
			return a
		}
	}
	return ""
}

func commandNames() []string {
	return []string{CommandRun, CommandCheckConfig, CommandStatus, CommandPause, CommandResume, CommandForget, CommandRetry, "valve", "state", "help"}
}

// apply sets what the command line asked for in c: the command and its
// arguments, each refused with the command and the flag named.
func (cl *commandLine) apply(c *Config) []error {
	c.Command = cl.command
	if c.Command == CommandCheckConfig || c.CheckConfig {
		c.Command, c.CheckConfig = CommandCheckConfig, true
	}
	var errs []error
	for _, t := range cl.tools {
		if !toolname.Safe(t) {
			errs = append(errs, fmt.Errorf("%s: %q is not a tool name (lowercase letters, digits, '.', '_' and '-', starting with a letter or digit, at most 64)", c.Command, t))
		}
	}
	c.Admin = Admin{Reason: cl.reason}
	c.Transfer = Transfer{File: cl.file, Replace: cl.replace}
	if len(cl.tools) > 0 {
		c.Admin.Tools = cl.tools
	}
	if c.Command == CommandPause {
		d, err := time.ParseDuration(cl.pause)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("pause: --for: %q is not a duration (like 30m, 2h)", cl.pause))
		case d <= 0:
			errs = append(errs, fmt.Errorf("pause: --for: must be greater than 0, got %s: a pause without an end is not one", d))
		}
		c.Admin.For = d
	}
	if c.Command == CommandValveRelease {
		n, err := strconv.Atoi(cl.atMost)
		if err != nil || n < 1 {
			errs = append(errs, fmt.Errorf("valve release: --at-most: %q is not a number of restarts of at least 1", cl.atMost))
		}
		c.Admin.AtMost = n
	}
	return errs
}
