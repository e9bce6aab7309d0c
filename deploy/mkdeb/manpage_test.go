package main

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func readFixture(t *testing.T, name string) helpText {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	h, err := parseHelp(string(data))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestParseHelp reads the program's help: its sections, items with a
// default, with their text inline (exit statuses), wrapped over lines.
func TestParseHelp(t *testing.T) {
	h := readFixture(t, "program-help.txt")
	if h.usage != "webservicemonitor [<flags>] [<command> [<args>...]]" {
		t.Errorf("usage %q", h.usage)
	}
	if len(h.sections[0].paragraphs) != 1 || !strings.HasPrefix(h.sections[0].paragraphs[0], "Keeps a grid platform's") {
		t.Errorf("description %q", h.sections[0].paragraphs)
	}
	tests := []struct {
		heading string
		item    helpItem
	}{
		{"Commands", helpItem{term: "run (the default)", text: "supervise: a cycle every interval, until SIGTERM; with --once one cycle, with --dry-run one read-only cycle printing what it would do (the audit)"}},
		{"Sources (where the three sources read, and how long they may take)", helpItem{term: "--homes=PATH", note: "(default: /data/project)", text: "root of the tool homes holding service.manifest files"}},
		{"Exit statuses", helpItem{term: "2", text: "bad configuration or command line, or a source failed"}},
	}
	for _, tt := range tests {
		s := h.section(tt.heading)
		if s == nil {
			t.Errorf("no section %q", tt.heading)
			continue
		}
		found := false
		for _, it := range s.items {
			found = found || it == tt.item
		}
		if !found {
			t.Errorf("section %q lacks %+v; has %+v", tt.heading, tt.item, s.items)
		}
	}
}

func TestParseHelpRefuses(t *testing.T) {
	for _, text := range []string{"", "no usage here\n", "usage: x\n\n      text before any item\n"} {
		if _, err := parseHelp(text); err == nil {
			t.Errorf("parseHelp(%q) accepted", text)
		}
	}
}

func TestCommandWords(t *testing.T) {
	tests := []struct{ term, want string }{
		{"run (the default)", "run"},
		{"check-config", "check-config"},
		{"status [TOOL...]", "status"},
		{"forget [--reason=TEXT] TOOL...", "forget"},
		{"valve release --at-most=N [--reason=TEXT]", "valve release"},
		{"help [COMMAND...]", "help"},
	}
	for _, tt := range tests {
		if got := strings.Join(commandWords(tt.term), " "); got != tt.want {
			t.Errorf("commandWords(%q) = %q, want %q", tt.term, got, tt.want)
		}
	}
}

func TestRoffText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"--homes=PATH", `\-\-homes=PATH`},
		{"with --dry-run one read-only cycle", `with \-\-dry\-run one read-only cycle`},
		{"sudo -i -u {account}", `sudo \-i \-u {account}`},
		{"[--reason=TEXT]", `[\-\-reason=TEXT]`},
		{".hidden", `\&.hidden`},
		{`a\b`, `a\eb`},
		{"given-up state", "given-up state"},
	}
	for _, tt := range tests {
		if got := roffText(tt.in); got != tt.want {
			t.Errorf("roffText(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestManPage renders the fixtures' help: every section, a command's own
// items under it, and (where man is installed) no warning from man.
func TestManPage(t *testing.T) {
	h := readFixture(t, "program-help.txt")
	own := map[string][]helpItem{"pause": readFixture(t, "command-help-pause.txt").sections[0].items}
	page := manPage{name: "webservicemonitor", section: "8", summary: summary, version: "1.0.0",
		date: time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC), files: []helpItem{{term: ConfigFile, text: "the configuration"}}}
	roff := page.render(h, own)
	for _, want := range []string{
		`.TH WEBSERVICEMONITOR 8 "2026-01-02" "webservicemonitor 1.0.0" "System Administration"`,
		".SH NAME\nwebservicemonitor \\- supervisor that keeps",
		".SH COMMANDS\n", ".SH OPTIONS\n", ".SH \"EXIT STATUS\"\n", ".SH FILES\n",
		".SS Valve (the hold on a mass restart)\n",
		".TP\n\\fB\\-\\-homes=PATH\\fR (default: /data/project)\nroot of the tool homes",
		".RS\n.TP\n\\fB\\-\\-reason=TEXT\\fR\nwhy; shown with the hold",
		".TP\n\\fB3\\fR\nthe state file is locked",
	} {
		if !strings.Contains(roff, want) {
			t.Errorf("man page lacks %q", want)
		}
	}
	if _, err := exec.LookPath("man"); err != nil {
		return
	}
	path := filepath.Join(t.TempDir(), "webservicemonitor.8")
	if err := os.WriteFile(path, []byte(roff), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("man", "--warnings", "-E", "UTF-8", "-l", path)
	cmd.Env = append(os.Environ(), "MANWIDTH=80", "MAN_KEEP_FORMATTING=0")
	var warnings bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &warnings
	err := cmd.Run()
	if err != nil || warnings.Len() > 0 {
		t.Errorf("man: %v\n%s", err, warnings.String())
	}
}
