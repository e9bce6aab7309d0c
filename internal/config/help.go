package config

import (
	"fmt"
	"strings"

	"github.com/alecthomas/kingpin/v2"
)

// about is the help's first paragraph.
const about = "Keeps a grid platform's tool web services up: every interval it reads the tools' service.manifest files, " +
	"the grid's jobs and the front proxy's registrations, restarts the web services that should be up and are not, " +
	"and pages when it cannot. Every setting is a flag (before or after the command) and a key of the YAML file " +
	"named by --config; a flag wins over the file, the file over the default."

// exitStatuses are the exit statuses of cmd/webservicemonitor (its exit*
// constants); the audit's 0/1/2 are a contract with other tools.
const exitStatuses = `Exit statuses:
  0  all tools up, or the command did what it was asked
  1  some tools are not up (run with --once or --dry-run)
  2  bad configuration or command line, or a source failed
  3  the state file is locked, unreadable, damaged, lost or from a newer release;
     etcd (with etcd-endpoints) did not answer, or its leadership is held;
     the target of state import already holds a history
`

const helpWidth = 80

// helpText is the help of cmd (nil: the program's): its usage, what it
// does, its flags and the settings grouped by purpose, each default once,
// and the exit statuses.
func helpText(ks []key, app *kingpin.ApplicationModel, cmd *kingpin.CmdModel) string {
	var b strings.Builder
	if cmd == nil || cmd.Name == CommandRun {
		usage := "[<flags>] [<command> [<args>...]]"
		if cmd != nil {
			usage = "[run] [<flags>]"
		}
		fmt.Fprintf(&b, "usage: %s %s\n\n", programName, usage)
		b.WriteString(wrap(about, 0))
		b.WriteString("\nCommands:\n")
		for _, c := range commandsOf(app.Commands) {
			if c.Name != "help" {
				fmt.Fprintf(&b, "  %s\n%s", commandUsage(c), wrap(c.Help, 6))
			}
		}
		fmt.Fprintf(&b, "  help [COMMAND...]\n%s", wrap("this help, or a command's (also: --help, COMMAND --help)", 6))
		for _, g := range groups() {
			fmt.Fprintf(&b, "\n%s:\n", g.title)
			for _, k := range ks {
				if k.group == g.title {
					b.WriteString(keyHelp(k))
				}
			}
		}
	} else {
		fmt.Fprintf(&b, "usage: %s %s\n\n", programName, commandUsage(cmd))
		b.WriteString(wrap(cmd.Help, 0))
		for _, c := range commandsOf(cmd.Commands) {
			fmt.Fprintf(&b, "\n  %s\n%s", commandUsage(c), wrap(c.Help, 6))
		}
		b.WriteString(argsHelp(cmd))
		b.WriteString("\n" + wrap("Every setting of '"+programName+" --help' is taken too, before or after the command: --config, --state-file and --output among them.", 0))
	}
	b.WriteString("\n" + exitStatuses)
	return b.String()
}

// commandsOf lists the commands and their subcommands, depth first, as
// they are typed: "valve release" rather than "valve".
func commandsOf(commands []*kingpin.CmdModel) []*kingpin.CmdModel {
	var out []*kingpin.CmdModel
	for _, c := range commands {
		if len(c.Commands) > 0 {
			out = append(out, commandsOf(c.Commands)...)
			continue
		}
		out = append(out, c)
	}
	return out
}

// commandUsage is how a command is typed: its required flags, then its
// optional ones, then its arguments.
func commandUsage(c *kingpin.CmdModel) string {
	words := []string{c.FullCommand}
	if c.Default {
		words[0] += " (the default)"
	}
	for _, required := range []bool{true, false} {
		for _, f := range c.Flags {
			if f.Required == required && !isKeyFlag(f) {
				words = append(words, optional(flagUsage(f), !required))
			}
		}
	}
	if c.FullCommand == "state export" {
		// --output is a setting (the format elsewhere), the file here.
		words = append(words, "[--output=FILE]")
	}
	for _, a := range c.Args {
		words = append(words, optional(argUsage(a), !a.Required))
	}
	return strings.Join(words, " ")
}

// flagUsage is how a command's own flag is typed: a switch alone, else
// with its value.
func flagUsage(f *kingpin.FlagModel) string {
	if f.IsBoolFlag() {
		return "--" + f.Name
	}
	return fmt.Sprintf("--%s=%s", f.Name, f.PlaceHolder)
}

// argUsage is an argument as typed: with "..." when it may be repeated.
func argUsage(a *kingpin.ArgModel) string {
	if r, ok := a.Value.(interface{ IsCumulative() bool }); ok && r.IsCumulative() {
		return strings.ToUpper(a.Name) + "..."
	}
	return strings.ToUpper(a.Name)
}

// isKeyFlag: a flag that is a key of the configuration, listed in its group.
func isKeyFlag(f *kingpin.FlagModel) bool {
	_, ok := f.Value.(*flagValue)
	return ok
}

func optional(s string, optional bool) string {
	if optional {
		return "[" + s + "]"
	}
	return s
}

// argsHelp lists a command's own flags and arguments.
func argsHelp(c *kingpin.CmdModel) string {
	var b strings.Builder
	for _, f := range c.Flags {
		if !isKeyFlag(f) {
			fmt.Fprintf(&b, "  %s\n%s", flagUsage(f), wrap(f.Help, 6))
		}
	}
	for _, a := range c.Args {
		fmt.Fprintf(&b, "  %s\n%s", argUsage(a), wrap(a.Help, 6))
	}
	if b.Len() == 0 {
		return ""
	}
	return "\n" + b.String()
}

// keyHelp is one key's entry: the flag, its default (once, as it is
// typed: with its unit), and what it does; a run-only mode says so.
func keyHelp(k key) string {
	line := "  --" + k.name
	if k.arg != "" {
		line += "=" + k.arg
	}
	if k.def != "" && k.arg != "" {
		line += "  (default: " + k.def + ")"
	}
	if k.runOnly {
		line += "  (run)"
	}
	return line + "\n" + wrap(k.help, 6)
}

// wrap fills text into lines of at most helpWidth, each indented by indent
// spaces; a word longer than a line stands alone.
func wrap(text string, indent int) string {
	var b strings.Builder
	pad := strings.Repeat(" ", indent)
	line := pad
	for _, w := range strings.Fields(text) {
		if len(line) > indent && len(line)+1+len(w) > helpWidth {
			b.WriteString(line + "\n")
			line = pad
		}
		if len(line) > indent {
			line += " "
		}
		line += w
	}
	return b.String() + line + "\n"
}
