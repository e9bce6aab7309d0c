package state

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// appendRecord appends r as the same JSON document encoding/json writes for
// it (field names, omitempty and omitzero rules alike), without reflection:
// the first cycle of a 100,000-tool platform writes every record, and
// reflection-based encoding was most of that write's time. Records are read
// back with encoding/json; the round trip is tested.
func appendRecord(b []byte, r ToolRecord) []byte {
	b = append(b, '{')
	first := true
	field := func(name string) {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(append(append(b, '"'), name...), '"', ':')
	}
	if len(r.Attempts) > 0 {
		field("attempts")
		b = append(b, '[')
		for i, a := range r.Attempts {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"at":`...)
			b = appendTime(b, a.At)
			b = append(b, `,"outcome":`...)
			b = appendString(b, string(a.Outcome))
			if a.Reason != "" {
				b = append(b, `,"reason":`...)
				b = appendString(b, a.Reason)
			}
			if a.Duration != 0 {
				b = append(b, `,"duration":`...)
				b = strconv.AppendInt(b, int64(a.Duration), 10)
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if r.BackoffStep != 0 {
		field("backoff_step")
		b = strconv.AppendInt(b, int64(r.BackoffStep), 10)
	}
	for _, t := range [...]struct {
		name string
		t    time.Time
	}{{"down_since", r.DownSince}, {"up_since", r.UpSince}, {"last_seen_up", r.LastSeenUp}, {"given_up_at", r.GivenUpAt}} {
		if !t.t.IsZero() {
			field(t.name)
			b = appendTime(b, t.t)
		}
	}
	if r.Notice != "" {
		field("notice")
		b = appendString(b, r.Notice)
	}
	return append(b, '}')
}

func appendTime(b []byte, t time.Time) []byte {
	return append(t.AppendFormat(append(b, '"'), time.RFC3339Nano), '"')
}

// appendString appends s as a JSON string: quotes, backslashes and control
// characters escaped, invalid UTF-8 replaced, as encoding/json does.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
