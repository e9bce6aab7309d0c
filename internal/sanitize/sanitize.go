// Package sanitize makes text that came from outside safe to put in front
// of people, and URLs safe to show.
//
// It owns two rules. Text: what a restart command printed, a key of the
// proxy's /list, an HTTP answer — anything a tool or a broken server
// controls — goes into a log line, an alert, a service.log or a terminal
// table as one line of visible characters, bounded, that cannot move the
// cursor, recolour a terminal, forge a second log line or reorder what is
// shown around it. URL: a configured URL keeps its scheme, host, port and
// path, and hides what may be a secret (credentials, query values,
// fragment) wherever it is shown: a log, an error, a metric label.
//
// It never decides what is shown, only how; and it never fails.
package sanitize

import (
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Cut ends a text that Text cut short.
const Cut = "…"

// Text returns s as one line for people: control characters (C0, DEL, C1)
// and Unicode bidirectional controls are removed, a terminal escape
// sequence (ESC [ … or ESC ] …) with its ESC; every run of white space,
// line and paragraph separators included, becomes one space, none at
// either end; invalid UTF-8 becomes U+FFFD. The result is at most max
// bytes, cut on a rune boundary and ending in Cut when s did not fit (a
// max below len(Cut) leaves no room for it); max <= 0 gives "".
func Text(s string, max int) string {
	if max <= 0 {
		return ""
	}
	if len(s) <= max && isClean(s) {
		return s
	}
	var b strings.Builder
	b.Grow(min(len(s), max))
	space, cut := false, false
	for i := 0; i < len(s) && !cut; {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == 0x1b: // ESC: the escape sequence goes with it
			size = escapeLength(s[i:])
		case unicode.IsSpace(r):
			space = b.Len() > 0
		case isHidden(r):
		default:
			if space {
				cut = !fits(&b, " ", max)
				space = false
			}
			if !cut {
				cut = !fits(&b, s[i:i+size], max) // RuneError's bytes are written as U+FFFD by fits
			}
		}
		i += size
	}
	if !cut {
		return b.String()
	}
	return withCut(b.String(), max)
}

// fits appends piece to b when b stays within max bytes.
func fits(b *strings.Builder, piece string, max int) bool {
	if r, size := utf8.DecodeRuneInString(piece); r == utf8.RuneError && size == 1 {
		piece = string(utf8.RuneError)
	}
	if b.Len()+len(piece) > max {
		return false
	}
	b.WriteString(piece)
	return true
}

// withCut shortens the visible text t (at most max bytes) so that it ends
// in Cut within max.
func withCut(t string, max int) string {
	if max < len(Cut) {
		return strings.TrimRight(t, " ")
	}
	end := max - len(Cut)
	for end > 0 && end < len(t) && !utf8.RuneStart(t[end]) {
		end--
	}
	return strings.TrimRight(t[:min(end, len(t))], " ") + Cut
}

// isClean reports whether Text would leave s as it is.
func isClean(s string) bool {
	for i, r := range s {
		switch {
		case r == utf8.RuneError:
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				return false
			}
		case r == ' ':
			if i == 0 || i == len(s)-1 || s[i+1] == ' ' {
				return false
			}
		case r < 0x20 || unicode.IsSpace(r) || isHidden(r):
			return false
		}
	}
	return true
}

// isHidden is a rune that is removed: a control character, or a Unicode
// bidirectional control (LRE, RLE, PDF, LRO, RLO; LRI, RLI, FSI, PDI; LRM,
// RLM; ALM), which reorders the text shown around it.
func isHidden(r rune) bool {
	switch {
	case r < 0x20, r >= 0x7f && r <= 0x9f:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true
	case r == 0x200e, r == 0x200f, r == 0x061c:
		return true
	}
	return false
}

// escapeLength is how many bytes of s (starting with ESC) a terminal reads
// as one escape sequence: a CSI (ESC [ parameters final byte), an OSC or
// other string (ESC ] … up to BEL or ESC \), a two-byte sequence, or the
// lone ESC. The sequence ends at the end of s if it is not finished.
func escapeLength(s string) int {
	if len(s) < 2 {
		return len(s)
	}
	switch c := s[1]; {
	case c == '[':
		for i := 2; i < len(s); i++ {
			if s[i] >= 0x40 && s[i] <= 0x7e {
				return i + 1
			}
			if s[i] < 0x20 || s[i] > 0x7e {
				return i // not a CSI byte: the sequence was cut short
			}
		}
		return len(s)
	case c == ']' || c == 'P' || c == '_' || c == '^' || c == 'X':
		for i := 2; i < len(s); i++ {
			if s[i] == 0x07 {
				return i + 1
			}
			if s[i] == 0x1b && i+1 < len(s) && s[i+1] == '\\' {
				return i + 2
			}
		}
		return len(s)
	case c > 0x20 && c <= 0x7e:
		return 2
	}
	return 1
}

// URL returns raw as it may be shown: without its userinfo (user and
// password), with the value of every query parameter (or a parameter
// without a name) replaced by "xxxxx", and its fragment too. Scheme, host,
// port and path are kept as written. raw need not parse as a URL (a
// template with "{proxy}" in the host does not); a string that holds no
// "://" is read as starting with the host.
func URL(raw string) string {
	rest, fragment, hasFragment := strings.Cut(raw, "#")
	rest, query, hasQuery := strings.Cut(rest, "?")
	var b strings.Builder
	b.Grow(len(raw))
	b.WriteString(withoutUserinfo(rest))
	if hasQuery {
		b.WriteByte('?')
		for i, param := range strings.Split(query, "&") {
			if i > 0 {
				b.WriteByte('&')
			}
			if name, _, named := strings.Cut(param, "="); named {
				b.WriteString(name + "=" + redacted)
			} else if param != "" {
				b.WriteString(redacted)
			}
		}
	}
	if hasFragment && fragment != "" {
		b.WriteString("#" + redacted)
	}
	return b.String()
}

// redacted stands for a hidden value, as in url.URL.Redacted.
const redacted = "xxxxx"

// withoutUserinfo drops what precedes '@' in the authority of s (a URL
// without query or fragment). In a string that is no URL, an '@' past the
// first '/' may still end a password that holds a '/': it is taken as the
// end of the userinfo then, rather than show the password.
func withoutUserinfo(s string) string {
	start := 0
	if i := strings.Index(s, "://"); i >= 0 {
		start = i + len("://")
	}
	authority := s[start:]
	if i := strings.IndexByte(authority, '/'); i >= 0 {
		authority = authority[:i]
	}
	at := strings.LastIndexByte(authority, '@')
	if at < 0 {
		if _, err := url.Parse(s); err == nil {
			return s
		}
		if at = strings.LastIndexByte(s[start:], '@'); at < 0 {
			return s
		}
	}
	return s[:start] + s[start+at+1:]
}
