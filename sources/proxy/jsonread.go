package proxy

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// This file is the JSON half of the /list decoder: reading values, strings,
// numbers and literals off the stream as encoding/json's scanner accepts
// them, keeping at most a bounded prefix of a string and nothing of what is
// read past. decode.go holds what a /list is made of.

var errUnexpectedEnd = errors.New("unexpected end of JSON input")

// skip reads past the value that starts with c, at nesting depth (the
// containers around it), keeping nothing of it.
func (d *listDecoder) skip(c byte, depth int) error {
	open := d.open[:0]
	defer func() { d.open = open[:0] }()
	for {
		var err error
		switch {
		case c == '{' || c == '[':
			if depth+len(open)+1 > maxNesting {
				return fmt.Errorf("exceeded max nesting depth of %d", maxNesting)
			}
			open = append(open, c)
			if c, err = d.next(); err != nil {
				return err
			}
			if c == closer(open[len(open)-1]) {
				open = open[:len(open)-1]
				break
			}
			if open[len(open)-1] == '{' {
				if c, err = d.member(c); err != nil {
					return err
				}
			}
			continue // c starts the container's first value
		case c == '"':
			_, _, err = d.text(0)
		case c == '-' || isDigit(c):
			err = d.number(c)
		case c == 'n' || c == 't' || c == 'f':
			err = d.literal(c)
		default:
			err = invalidChar(c, "looking for beginning of value")
		}
		if err != nil {
			return err
		}
		// A value ended: close what it ends, then find the next one.
		var more bool
		if open, c, more, err = d.afterValue(open); err != nil || !more {
			return err
		}
	}
}

// afterValue reads what follows a value inside the open containers:
// closers (popped), then a comma and the start of the next value (more),
// or the end of the outermost one.
func (d *listDecoder) afterValue(open []byte) (_ []byte, c byte, more bool, err error) {
	for len(open) > 0 {
		if c, err = d.next(); err != nil {
			return open, 0, false, err
		}
		top := open[len(open)-1]
		switch c {
		case closer(top):
			open = open[:len(open)-1]
			continue
		case ',':
			if c, err = d.next(); err == nil && top == '{' {
				c, err = d.member(c)
			}
			return open, c, err == nil, err
		}
		if top == '{' {
			return open, 0, false, invalidChar(c, "after object key:value pair")
		}
		return open, 0, false, invalidChar(c, "after array element")
	}
	return open, 0, false, nil
}

// member reads an object member's key and colon, given the key's first
// byte c, and returns the first byte of its value.
func (d *listDecoder) member(c byte) (byte, error) {
	if c != '"' {
		return 0, invalidChar(c, "looking for beginning of object key string")
	}
	if _, _, err := d.text(0); err != nil {
		return 0, err
	}
	if err := d.expect(':', "after object key"); err != nil {
		return 0, err
	}
	return d.next()
}

// text reads a string whose opening quote was read, decoding escapes and
// replacing invalid UTF-8 as encoding/json does. It returns at most max
// bytes of it, cut on a rune boundary, and whether the whole string fits
// in max. The returned bytes are valid until the next read.
func (d *listDecoder) text(max int) ([]byte, bool, error) {
	// Decoded bytes are kept up to max plus a rune: enough to know whether
	// the string fits, and where a rune at the cut begins.
	keep := max + utf8.UTFMax
	d.scratch = d.scratch[:0]
	longer := false
	add := func(b ...byte) {
		if longer || len(d.scratch)+len(b) > keep {
			longer = true // nothing after the first byte left out is kept
			return
		}
		d.scratch = append(d.scratch, b...)
	}
	for {
		c, err := d.r.ReadByte()
		switch {
		case err != nil:
			return nil, false, d.readError(err)
		case c == '"':
			return d.kept, d.fit(max, longer), nil
		case c < 0x20:
			return nil, false, invalidChar(c, "in string literal")
		case c != '\\':
			add(c)
			continue
		}
		r, err := d.escape()
		if err != nil {
			return nil, false, err
		}
		var enc [utf8.UTFMax]byte
		add(enc[:utf8.EncodeRune(enc[:], r)]...)
	}
}

// fit replaces invalid UTF-8 in scratch into kept, one U+FFFD per bad byte
// as encoding/json does, cuts it to max on a rune boundary, and says
// whether the whole string fit. Replacement only ever lengthens, so bytes
// past max+UTFMax in the input cannot land below max in the output.
func (d *listDecoder) fit(max int, longer bool) bool {
	d.kept = d.kept[:0]
	for s := d.scratch; len(s) > 0; {
		r, size := utf8.DecodeRune(s)
		if r == utf8.RuneError && size == 1 {
			d.kept = utf8.AppendRune(d.kept, utf8.RuneError)
		} else {
			d.kept = append(d.kept, s[:size]...)
		}
		s = s[size:]
	}
	if !longer && len(d.kept) <= max {
		return true
	}
	cut := min(max, len(d.kept))
	for cut > 0 && cut < len(d.kept) && !utf8.RuneStart(d.kept[cut]) {
		cut--
	}
	d.kept = d.kept[:cut]
	return false
}

// escape reads an escape sequence after its backslash and returns the rune
// it stands for; a surrogate that is not half of a pair is U+FFFD.
func (d *listDecoder) escape() (rune, error) {
	c, err := d.r.ReadByte()
	if err != nil {
		return 0, d.readError(err)
	}
	switch c {
	case '"', '\\', '/':
		return rune(c), nil
	case 'b':
		return '\b', nil
	case 'f':
		return '\f', nil
	case 'n':
		return '\n', nil
	case 'r':
		return '\r', nil
	case 't':
		return '\t', nil
	case 'u':
	default:
		return 0, invalidChar(c, "in string escape code")
	}
	r, err := d.hex4()
	if err != nil || !utf16.IsSurrogate(r) {
		return r, err
	}
	// Half a pair: the other half is taken only if it is the next escape.
	if next, _ := d.r.Peek(6); len(next) == 6 && next[0] == '\\' && next[1] == 'u' {
		if r2, ok := parseHex4(next[2:]); ok {
			if pair := utf16.DecodeRune(r, r2); pair != utf8.RuneError {
				_, _ = d.r.Discard(6)
				return pair, nil
			}
		}
	}
	return utf8.RuneError, nil
}

// hex4 reads the four hex digits of a \u escape.
func (d *listDecoder) hex4() (rune, error) {
	var digits [4]byte
	for i := range digits {
		c, err := d.r.ReadByte()
		if err != nil {
			return 0, d.readError(err)
		}
		if _, ok := hexValue(c); !ok {
			return 0, invalidChar(c, "in \\u hexadecimal character escape")
		}
		digits[i] = c
	}
	r, _ := parseHex4(digits[:])
	return r, nil
}

func parseHex4(b []byte) (rune, bool) {
	var r rune
	for _, c := range b[:4] {
		v, ok := hexValue(c)
		if !ok {
			return 0, false
		}
		r = r<<4 | v
	}
	return r, true
}

func hexValue(c byte) (rune, bool) {
	switch {
	case isDigit(c):
		return rune(c - '0'), true
	case 'a' <= c && c <= 'f':
		return rune(c - 'a' + 10), true
	case 'A' <= c && c <= 'F':
		return rune(c - 'A' + 10), true
	}
	return 0, false
}

// number reads a JSON number whose first byte is c, leaving the byte after
// it unread.
func (d *listDecoder) number(c byte) error {
	var err error
	if c == '-' {
		if c, err = d.r.ReadByte(); err != nil {
			return d.readError(err)
		}
		if !isDigit(c) {
			return invalidChar(c, "in numeric literal")
		}
	}
	if c != '0' {
		if c, err = d.digits(false); err != nil {
			return err
		}
	} else if c, err = d.r.ReadByte(); err != nil {
		return d.endOfNumber(err)
	}
	if c == '.' {
		if c, err = d.digits(true); err != nil {
			return err
		}
	}
	if c == 'e' || c == 'E' {
		if c, err = d.r.ReadByte(); err != nil {
			return d.readError(err)
		}
		if c == '+' || c == '-' {
			if c, err = d.r.ReadByte(); err != nil {
				return d.readError(err)
			}
		}
		if !isDigit(c) {
			return invalidChar(c, "in exponent of numeric literal")
		}
		if _, err = d.digits(false); err != nil {
			return err
		}
	}
	return d.r.UnreadByte()
}

// digits reads a run of digits (at least one when required) and returns
// the byte after it; after the last run of a number it is unread by the
// caller.
func (d *listDecoder) digits(required bool) (byte, error) {
	for n := 0; ; n++ {
		c, err := d.r.ReadByte()
		if err != nil {
			if required && n == 0 {
				return 0, d.readError(err)
			}
			return 0, d.endOfNumber(err)
		}
		if !isDigit(c) {
			if required && n == 0 {
				return 0, invalidChar(c, "after decimal point in numeric literal")
			}
			return c, nil
		}
	}
}

// endOfNumber: a number may end the input only as far as the number goes;
// what must follow it is the caller's to demand.
func (d *listDecoder) endOfNumber(err error) error {
	if errors.Is(err, io.EOF) {
		return errUnexpectedEnd // a value is always followed by more here
	}
	return err
}

// literal reads the rest of true, false or null, given its first byte.
func (d *listDecoder) literal(c byte) error {
	word := "null"
	switch c {
	case 't':
		word = "true"
	case 'f':
		word = "false"
	}
	for i := 1; i < len(word); i++ {
		got, err := d.r.ReadByte()
		if err != nil {
			return d.readError(err)
		}
		if got != word[i] {
			return invalidChar(got, "in literal "+word+" (expecting "+strconv.QuoteRune(rune(word[i]))+")")
		}
	}
	return nil
}

// next returns the next byte that is not white space.
func (d *listDecoder) next() (byte, error) {
	for {
		c, err := d.r.ReadByte()
		if err != nil {
			return 0, d.readError(err)
		}
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return c, nil
		}
	}
}

// expect reads the next byte that is not white space and refuses anything
// but want.
func (d *listDecoder) expect(want byte, context string) error {
	c, err := d.next()
	if err == nil && c != want {
		err = invalidChar(c, context)
	}
	return err
}

func (d *listDecoder) readError(err error) error {
	if errors.Is(err, io.EOF) {
		return errUnexpectedEnd
	}
	return err
}

func closer(open byte) byte {
	if open == '{' {
		return '}'
	}
	return ']'
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// valueKind names the kind of a valid value by its first byte.
func valueKind(c byte) string {
	switch c {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 'n':
		return "null"
	case 't', 'f':
		return "a boolean"
	}
	return "a number"
}

// invalidChar words a syntax error as encoding/json does.
func invalidChar(c byte, context string) error {
	var shown string
	switch c {
	case '\'':
		shown = `'\''`
	case '"':
		shown = `'"'`
	default:
		q := strconv.Quote(string(rune(c)))
		shown = "'" + q[1:len(q)-1] + "'"
	}
	return fmt.Errorf("invalid character %s %s", shown, context)
}
