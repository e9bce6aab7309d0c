package manifest

import "bytes"

// parseSimple reads a manifest written the way webservice writes them —
// comment lines and flat `key: value` lines with plain lowercase values —
// without the YAML parser, which costs a hundred allocations per file and
// dominates the first scan of a large platform. It returns ok=false for
// anything outside that narrow shape (quotes, nesting, flow style, document
// markers, tabs, non-ASCII, empty or ambiguous values, a known key twice),
// and the caller falls back to the full parser, so both always agree
// (FuzzSimpleMatchesYAML holds it to that).
func parseSimple(data []byte) (f Fields, ok bool) {
	f = Fields{Backend: DefaultBackend}
	var seen [5]bool
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		if len(line) == 0 || line[0] == '#' {
			if !asciiPrintable(line) {
				return Fields{}, false
			}
			continue
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 || !isPlainWord(line[:colon]) || colon+1 >= len(line) || line[colon+1] != ' ' {
			return Fields{}, false
		}
		value := bytes.TrimLeft(line[colon+1:], " ")
		if i := bytes.IndexByte(value, ' '); i >= 0 {
			// Only a trailing comment may follow the value.
			rest := bytes.TrimLeft(value[i:], " ")
			if len(rest) == 0 || rest[0] != '#' || !asciiPrintable(rest) {
				return Fields{}, false
			}
			value = value[:i]
		}
		if !isPlainWord(value) {
			return Fields{}, false
		}
		slot := -1
		switch string(line[:colon]) {
		case "version":
			slot = 0
			n, isInt := smallInt(value)
			if !isInt {
				return Fields{}, false
			}
			f.Version = n
		case "web":
			slot, f.Web = 1, string(value)
		case "backend":
			slot, f.Backend = 2, string(value)
		case "release":
			slot, f.Release = 3, string(value)
		case "distribution":
			slot, f.Distribution = 4, string(value)
		}
		if slot >= 0 {
			if seen[slot] || (slot > 0 && !isString(value)) {
				return Fields{}, false
			}
			seen[slot] = true
		}
	}
	// Comments alone (or nothing at all) ask for no web service.
	return f, true
}

// maxPlainWord is the longest key or value the fast path reads; no word
// webservice writes comes near it, and anything longer takes the full parser.
const maxPlainWord = 64

// maxSmallInt is the most digits smallInt reads: 999,999,999 fits an int
// on every platform, so no overflow check is needed.
const maxSmallInt = 9

// isPlainWord is a word YAML reads as itself: it starts with a lowercase
// letter or a digit and holds only lowercase letters, digits, '.', '_', '-'.
func isPlainWord(b []byte) bool {
	if len(b) == 0 || len(b) > maxPlainWord || !(b[0] >= 'a' && b[0] <= 'z' || b[0] >= '0' && b[0] <= '9') {
		return false
	}
	for _, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// isString is a plain word YAML resolves to a string: one that starts with
// a letter and is none of the words some YAML readers take for a boolean
// or null.
func isString(b []byte) bool {
	if b[0] < 'a' || b[0] > 'z' {
		return false
	}
	switch string(b) {
	case "true", "false", "null", "yes", "no", "on", "off", "y", "n":
		return false
	}
	return true
}

// smallInt parses a plain decimal without a leading zero, small enough to
// need no overflow thought.
func smallInt(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > maxSmallInt || (b[0] == '0' && len(b) > 1) {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func asciiPrintable(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c >= 0x7f {
			return false
		}
	}
	return true
}
