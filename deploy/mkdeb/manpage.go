package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// The man page is made from the built binary's own help (`--help`, and
// `help COMMAND` for each command's arguments and flags), so that it
// cannot say anything the program does not. The help is kingpin's, laid
// out by the program's template: a "usage:" line, paragraphs, headings
// ending in ":" at the margin, items indented by two (a term, then
// optionally two spaces and a note "(default: x)" or the item's text) and
// their text indented further.

// helpItem is one term of the help: a flag, a command, an argument, an
// exit status.
type helpItem struct {
	term, note, text string
}

// helpSection is a heading's paragraphs and items; the first section of a
// help has no heading (the description, and a command's own items).
type helpSection struct {
	heading    string
	paragraphs []string
	items      []helpItem
}

type helpText struct {
	usage    string
	sections []helpSection
}

// parseHelp reads the layout described above.
func parseHelp(text string) (helpText, error) {
	h := helpText{sections: []helpSection{{}}}
	var para []string
	flush := func() {
		if len(para) > 0 {
			s := &h.sections[len(h.sections)-1]
			s.paragraphs = append(s.paragraphs, strings.Join(para, " "))
			para = nil
		}
	}
	for _, line := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		s := &h.sections[len(h.sections)-1]
		indent := len(line) - len(strings.TrimLeft(line, " "))
		switch {
		case strings.TrimSpace(line) == "":
			flush()
		case h.usage == "" && strings.HasPrefix(line, "usage: "):
			h.usage = strings.TrimPrefix(line, "usage: ")
		case indent == 0 && strings.HasSuffix(line, ":"):
			flush()
			h.sections = append(h.sections, helpSection{heading: strings.TrimSuffix(line, ":")})
		case indent == 0:
			para = append(para, line)
		case indent == 2:
			flush()
			s.items = append(s.items, parseItem(line[2:]))
		case len(s.items) > 0 && len(para) == 0:
			it := &s.items[len(s.items)-1]
			it.text = strings.TrimSpace(it.text + " " + strings.TrimSpace(line))
		default:
			return helpText{}, fmt.Errorf("help line %q: indented text outside an item", line)
		}
	}
	flush()
	if h.usage == "" {
		return helpText{}, errors.New("help has no usage line")
	}
	return h, nil
}

// parseItem splits "--homes=PATH  (default: /data/project)" into term and
// note, "0  all tools up" into term and text.
func parseItem(s string) helpItem {
	term, rest, found := strings.Cut(s, "  ")
	if !found {
		return helpItem{term: s}
	}
	rest = strings.TrimSpace(rest)
	if strings.HasPrefix(rest, "(") && strings.HasSuffix(rest, ")") {
		return helpItem{term: term, note: rest}
	}
	return helpItem{term: term, text: rest}
}

// section is the section of h headed heading (nil when there is none).
func (h helpText) section(heading string) *helpSection {
	for i := range h.sections {
		if h.sections[i].heading == heading {
			return &h.sections[i]
		}
	}
	return nil
}

// commandWords is the command a Commands item names: "valve release
// --at-most=N [--reason=TEXT]" is "valve release".
func commandWords(term string) []string {
	var words []string
	for _, w := range strings.Fields(term) {
		if strings.ContainsAny(w[:1], "[(<-") || strings.ToLower(w) != w {
			break
		}
		words = append(words, w)
	}
	return words
}

// manPage is what the page says besides the help: its header and the
// package's own knowledge (files, where the rest is documented).
type manPage struct {
	name, section, summary, version string
	date                            time.Time
	files                           []helpItem
	seeAlso                         string
}

// readHelp runs the binary for its help: the program's, and each
// command's own items (its arguments and flags), by command.
func readHelp(ctx context.Context, binary string) (helpText, map[string][]helpItem, error) {
	main, err := runHelp(ctx, binary, "--help")
	if err != nil {
		return helpText{}, nil, err
	}
	own := map[string][]helpItem{}
	if cmds := main.section("Commands"); cmds != nil {
		for _, it := range cmds.items {
			words := commandWords(it.term)
			if len(words) == 0 {
				continue
			}
			h, err := runHelp(ctx, binary, append([]string{"help"}, words...)...)
			if err != nil {
				return helpText{}, nil, err
			}
			own[strings.Join(words, " ")] = h.sections[0].items
		}
	}
	return main, own, nil
}

func runHelp(ctx context.Context, binary string, args ...string) (helpText, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// The help is wrapped to the terminal's width: the same 80 columns
	// wherever the package is built.
	cmd.Env = append(os.Environ(), "NO_COLOR=1", "COLUMNS=80")
	if err := cmd.Run(); err != nil {
		return helpText{}, fmt.Errorf("running %s %s for the man page: %w: %s", binary, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	h, err := parseHelp(stdout.String() + stderr.String())
	if err != nil {
		return helpText{}, fmt.Errorf("reading the output of %s %s: %w", binary, strings.Join(args, " "), err)
	}
	return h, nil
}

// render writes the page in man(7) roff: NAME, SYNOPSIS, DESCRIPTION from
// the help's head; COMMANDS with each command's own items; OPTIONS with a
// subsection per heading; EXIT STATUS; then FILES and SEE ALSO.
func (m manPage) render(h helpText, own map[string][]helpItem) string {
	var b strings.Builder
	fmt.Fprintf(&b, ".\\\" Generated by deploy/mkdeb from the output of `%s --help`: do not edit.\n", m.name)
	fmt.Fprintf(&b, ".TH %s %s %q %q %q\n", strings.ToUpper(m.name), m.section,
		m.date.UTC().Format("2006-01-02"), m.name+" "+m.version, "System Administration")
	b.WriteString(".nh\n.ad l\n") // no hyphens inside paths and flags
	fmt.Fprintf(&b, ".SH NAME\n%s \\- %s\n", m.name, roffText(m.summary))
	fmt.Fprintf(&b, ".SH SYNOPSIS\n.B %s\n%s\n", m.name, roffText(strings.TrimPrefix(h.usage, m.name+" ")))
	b.WriteString(".SH DESCRIPTION\n")
	writeParagraphs(&b, h.sections[0].paragraphs)
	if cmds := h.section("Commands"); cmds != nil {
		b.WriteString(".SH COMMANDS\n")
		for _, it := range cmds.items {
			writeItem(&b, it)
			if sub := own[strings.Join(commandWords(it.term), " ")]; len(sub) > 0 {
				b.WriteString(".RS\n")
				for _, s := range sub {
					writeItem(&b, s)
				}
				b.WriteString(".RE\n")
			}
		}
	}
	b.WriteString(".SH OPTIONS\n")
	for _, s := range h.sections[1:] {
		if s.heading == "Commands" || s.heading == "Exit statuses" {
			continue
		}
		fmt.Fprintf(&b, ".SS %s\n", roffText(s.heading))
		writeParagraphs(&b, s.paragraphs)
		for _, it := range s.items {
			writeItem(&b, it)
		}
	}
	if s := h.section("Exit statuses"); s != nil {
		b.WriteString(".SH \"EXIT STATUS\"\n")
		for _, it := range s.items {
			writeItem(&b, it)
		}
	}
	if len(m.files) > 0 {
		b.WriteString(".SH FILES\n")
		for _, it := range m.files {
			writeItem(&b, it)
		}
	}
	if m.seeAlso != "" {
		fmt.Fprintf(&b, ".SH \"SEE ALSO\"\n%s\n", m.seeAlso)
	}
	return b.String()
}

func writeParagraphs(b *strings.Builder, paras []string) {
	for i, p := range paras {
		if i > 0 {
			b.WriteString(".PP\n")
		}
		b.WriteString(roffText(p) + "\n")
	}
}

func writeItem(b *strings.Builder, it helpItem) {
	tag := "\\fB" + roffText(it.term) + "\\fR"
	if it.note != "" {
		tag += " " + roffText(it.note)
	}
	fmt.Fprintf(b, ".TP\n%s\n%s\n", tag, roffText(it.text))
}

// roffText escapes text for a roff text line: backslashes, a leading
// control character, and every hyphen of a word starting with one (an
// option: a minus sign to roff, so that a copied --flag-name stays ASCII).
func roffText(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	var b strings.Builder
	option := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '-' && (i == 0 || strings.IndexByte(" ([,=", s[i-1]) >= 0) {
			option = true
		} else if strings.IndexByte(" ,;)]", c) >= 0 {
			option = false
		}
		if c == '-' && option {
			b.WriteString(`\-`)
			continue
		}
		b.WriteByte(c)
	}
	s = b.String()
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	return s
}
