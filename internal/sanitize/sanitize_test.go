package sanitize

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestText(t *testing.T) {
	tests := []struct {
		name string
		in   string
		max  int
		want string
	}{
		{"clean text unchanged", "restart failed: exit status 1", 100, "restart failed: exit status 1"},
		{"empty", "", 10, ""},
		{"zero max is nothing", "abc", 0, ""},
		{"negative max is nothing", "abc", -1, ""},
		{"newlines become one space", "line one\nline two\r\nline three", 100, "line one line two line three"},
		{"forged log line", "ok\n{\"level\":\"error\",\"msg\":\"forged\"}", 100, `ok {"level":"error","msg":"forged"}`},
		{"tabs and runs of spaces collapse", "a\t\t b   c", 100, "a b c"},
		{"trimmed", "  \n padded \t ", 100, "padded"},
		{"only white space", " \n\t ", 100, ""},
		{"NUL and BEL removed", "a\x00b\x07c", 100, "abc"},
		{"DEL removed", "a\x7fb", 100, "ab"},
		{"C1 controls removed", "a\u0080b\u009bc\u009fd", 100, "abcd"},
		{"NEL is a line break", "a\u0085b", 100, "a b"},
		{"colour sequence removed whole", "\x1b[31;1mred\x1b[0m text", 100, "red text"},
		{"cursor movement removed", "safe\x1b[2K\x1b[1Afake", 100, "safefake"},
		{"title set (OSC, BEL) removed", "\x1b]0;owned\x07after", 100, "after"},
		{"hyperlink (OSC, ST) removed", "\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\", 100, "link"},
		{"two-byte sequence removed", "a\x1bcb", 100, "ab"},
		{"lone ESC at the end", "abc\x1b", 100, "abc"},
		{"ESC before a space", "a\x1b b", 100, "a b"},
		{"unfinished CSI", "a\x1b[12", 100, "a"},
		{"CSI cut by a newline", "a\x1b[12\nb", 100, "a b"},
		{"bidi override removed", "tool\u202egnp.exe", 100, "toolgnp.exe"},
		{"bidi isolates removed", "\u2066a\u2067b\u2068c\u2069", 100, "abc"},
		{"bidi marks removed", "a\u200eb\u200fc\u061cd", 100, "abcd"},
		{"embeddings removed", "\u202aa\u202bb\u202cc\u202dd", 100, "abcd"},
		{"line and paragraph separators", "a\u2028b\u2029c", 100, "a b c"},
		{"other Unicode spaces", "a\u00a0b\u3000c", 100, "a b c"},
		{"invalid UTF-8 replaced", "a\xffb", 100, "a\ufffdb"},
		{"non-ASCII kept", "héllo wörld ✓", 100, "héllo wörld ✓"},
		{"zero-width joiner kept", "👩\u200d💻", 100, "👩\u200d💻"},
		{"exactly max", "abcde", 5, "abcde"},
		{"cut with marker", "abcdef", 5, "ab…"},
		{"cut on a rune boundary", "ééééé", 8, "éé…"},
		{"cut drops the trailing space", "abc defgh", 7, "abc…"},
		{"trailing space does not count", "abcde   ", 5, "abcde"},
		{"removed bytes do not count", "ab\x1b[31mc", 3, "abc"},
		{"max too small for the marker", "abcdef", 2, "ab"},
		{"max too small, trailing space", "0 0", 2, "0"},
		{"replacement counted as written", "ab\xff", 4, "a…"},
		{"huge input", strings.Repeat("x\n", 1<<20), 12, "x x x x x…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Text(tt.in, tt.max); got != tt.want {
				t.Errorf("Text(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
			}
		})
	}
}

func TestURL(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "http://127.0.0.1:9093", "http://127.0.0.1:9093"},
		{"path kept", "https://am.example:9093/prefix/api/v2/alerts", "https://am.example:9093/prefix/api/v2/alerts"},
		{"password", "https://user:secret@am.example:9093/prefix", "https://am.example:9093/prefix"},
		{"password as net/http shows it", "https://user:***@am.example/", "https://am.example/"},
		{"user alone (a token)", "https://ghp_token@am.example/", "https://am.example/"},
		{"'@' in the password", "https://user:p@ss@am.example/", "https://am.example/"},
		{"'/' in the password", "https://user:pa/ss@am.example/", "https://am.example/"},
		{"'@' in a path", "https://am.example/@alerts", "https://am.example/@alerts"},
		{"query value", "http://am.example/?token=secret", "http://am.example/?token=xxxxx"},
		{"every query value", "http://h/list?token=secret&user=me&flag", "http://h/list?token=xxxxx&user=xxxxx&xxxxx"},
		{"empty query", "http://h/list?", "http://h/list?"},
		{"empty parameter", "http://h/?a=1&&b=", "http://h/?a=xxxxx&&b=xxxxx"},
		{"fragment", "http://h/p#secret", "http://h/p#xxxxx"},
		{"query and fragment", "http://u:p@h/p?k=v#f", "http://h/p?k=xxxxx#xxxxx"},
		{"template", "http://{proxy}:8081/list?token=secret", "http://{proxy}:8081/list?token=xxxxx"},
		{"template with credentials", "http://u:secret@{proxy}:8081/list", "http://{proxy}:8081/list"},
		{"no scheme", "user:secret@am.example:9093", "am.example:9093"},
		{"no scheme, no credentials", "alertmanager-2.example:9093", "alertmanager-2.example:9093"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := URL(tt.in)
			if got != tt.want {
				t.Errorf("URL(%q) = %q, want %q", tt.in, got, tt.want)
			}
			for _, secret := range []string{"secret", "ss@", "ghp_token", "***"} {
				if strings.Contains(got, secret) {
					t.Errorf("URL(%q) = %q shows %q", tt.in, got, secret)
				}
			}
		})
	}
}

// FuzzText: whatever the input, the result is at most max bytes of valid
// UTF-8 with nothing hidden in it, single-spaced and trimmed, and cleaning
// it again changes nothing.
func FuzzText(f *testing.F) {
	f.Add("a\x1b[31mb\nc\u202e", 8)
	f.Add(strings.Repeat("é ", 40), 17)
	f.Add("\x1b]0;x\x1b\\y", 3)
	f.Fuzz(func(t *testing.T, s string, max int) {
		max %= 1 << 12
		got := Text(s, max)
		if len(got) > max && max >= 0 || max <= 0 && got != "" {
			t.Fatalf("Text(%q, %d) = %q: %d bytes", s, max, got, len(got))
		}
		if !utf8.ValidString(got) {
			t.Fatalf("Text(%q, %d) = %q: invalid UTF-8", s, max, got)
		}
		if strings.HasPrefix(got, " ") || strings.HasSuffix(got, " ") || strings.Contains(got, "  ") {
			t.Fatalf("Text(%q, %d) = %q: spacing", s, max, got)
		}
		for _, r := range got {
			if r != ' ' && unicode.IsSpace(r) || isHidden(r) {
				t.Fatalf("Text(%q, %d) = %q holds %U", s, max, got, r)
			}
		}
		if again := Text(got, max); again != got {
			t.Fatalf("Text(Text(%q)) = %q, not %q", s, again, got)
		}
	})
}
