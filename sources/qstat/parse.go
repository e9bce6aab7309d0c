package qstat

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"time"
)

// How Parse reads: two readers hand tokens to one document (document.go),
// whose job_list rules live in one jobBuilder (job.go). The fast path
// recognises the shapes qstat prints (plain tags, plain text, the xml
// declaration) in a window over the input. Any other token (entities,
// CDATA, comments, \r, non-ASCII, prefixed names, every syntax error) is
// read by encoding/xml's Decoder from that same window, and the fast path
// goes on after it, so one odd job name does not slow the rest of the grid
// down. encoding/xml alone allocated about 59 times per job and ran at
// ~40 MB/s: three seconds for the 300,000 jobs of a 100,000-tool platform.
// FuzzParseMatchesReference holds Parse to one Decoder reading everything.

const (
	windowSize = 64 << 10 // bytes of input held at once
	lookahead  = 4 << 10  // a tag this short is always whole in the window
)

// Parse reads one `qstat -u '*' -xml` document from r and returns every job
// listed in it, running ones (under queue_info) and pending ones (under the
// nested job_info) alike, in document order. Times are read as wall-clock
// times in loc (time.Local when nil), since qstat prints them without a zone.
//
// It returns either all jobs or an error: empty input, text that is not XML,
// a truncated or malformed document, a root other than job_info, and a
// job_list without a job number, name, owner or state are all errors. A
// document with empty sections is a valid answer and yields an empty,
// non-nil slice.
//
// Parse bounds no single token: a token is as long as r lets it be.
// Source.Fetch bounds each by the output limit.
func Parse(r io.Reader, loc *time.Location) ([]Job, error) {
	return parse(r, loc, math.MaxInt64)
}

// parse is Parse with every token (a tag, a run of text, a comment) held
// to maxToken bytes, counting the byte that ends it; a longer one is an
// error, found without buffering it.
func parse(r io.Reader, loc *time.Location, maxToken int64) ([]Job, error) {
	return newParser(r, loc, maxToken, windowSize, lookahead).run()
}

type parser struct {
	in        input
	doc       document
	lookahead int
	inText    bool  // the last token was text: a slow one continues it
	textStart int64 // where that text began, for the token bound
	slow      int   // tokens encoding/xml read: none for what qstat prints
}

func newParser(r io.Reader, loc *time.Location, maxToken int64, window, ahead int) *parser {
	p := &parser{in: newInput(r, maxToken, window), lookahead: ahead}
	p.doc.init(&p.in, loc)
	return p
}

func (p *parser) run() ([]Job, error) {
	in := &p.in
	for {
		b := in.peek(p.lookahead)
		if len(b) == 0 {
			if in.err != io.EOF {
				return nil, fmt.Errorf("reading qstat XML: %w", in.err)
			}
			return p.doc.finish()
		}
		var err error
		if b[0] == '<' {
			p.inText = false
			err = p.tag(b)
		} else {
			if !p.inText {
				p.inText, p.textStart = true, in.offset()
			}
			err = p.text(b)
		}
		if err != nil {
			return nil, err
		}
	}
}

// tag handles the tag at the start of b, by the fast path if it can.
func (p *parser) tag(b []byte) error {
	if int64(len(b)) > p.in.maxToken {
		b = b[:p.in.maxToken] // a longer tag is the Decoder's to refuse
	}
	t, n := scanTag(b)
	if n == 0 {
		return p.slowToken(p.in.offset())
	}
	p.in.pos += n
	switch t.kind {
	case startTag:
		return p.doc.start(nil, t.name, t.running)
	case emptyTag:
		if err := p.doc.start(nil, t.name, t.running); err != nil {
			return err
		}
		return p.doc.end(nil, t.name)
	case endTag:
		return p.doc.end(nil, t.name)
	}
	return p.doc.other()
}

// text hands on the plain text at the start of b. It stops one byte short
// of the token bound, so that the Decoder, reading on, sees the bound
// exactly where reading the whole text at once would have.
func (p *parser) text(b []byte) error {
	room := p.textStart + min(p.in.maxToken, math.MaxInt64-p.textStart) - 1 - p.in.offset()
	if int64(len(b)) > room {
		b = b[:max(room, 0)]
	}
	n := plainText(b)
	if n == 0 {
		return p.slowToken(p.textStart)
	}
	p.in.pos += n
	return p.doc.chars(b[:n])
}

// slowToken has encoding/xml read one token from the window; start is where
// the token began, for the token bound (before the window when a text run
// began on the fast path).
func (p *parser) slowToken(start int64) error {
	in := &p.in
	p.slow++
	line, at := in.lineNow(), in.offset()
	in.beginToken(start)
	dec := xml.NewDecoder(in)
	tok, err := dec.RawToken()
	in.limit = math.MaxInt64
	if err != nil {
		return decodeError(err, line)
	}
	// A Decoder keeps the byte it read past a text ('<'); give it back.
	in.pos -= int(in.offset() - at - dec.InputOffset())
	if in.tooLong != nil { // it cut the text short; a Decoder says so only next time
		return decodeError(in.tooLong, line)
	}
	if err := p.doc.token(tok); err != nil {
		return err
	}
	if el, ok := tok.(xml.StartElement); ok && in.last == '/'<<8|'>' {
		return p.doc.token(xml.EndElement{Name: el.Name}) // <a x="&amp;"/>
	}
	return nil
}

// decodeError wraps a Decoder's error; a syntax error's line is counted
// from where that Decoder began, which is line.
func decodeError(err error, line int) error {
	var se *xml.SyntaxError
	if errors.As(err, &se) {
		err = &xml.SyntaxError{Msg: se.Msg, Line: line + se.Line - 1}
	}
	return fmt.Errorf("reading qstat XML: %w", err)
}

// tagKind is what scanTag recognised.
type tagKind uint8

const (
	startTag tagKind = iota
	emptyTag         // <name/>
	endTag
	declaration // <?xml version='1.0'?>
)

type tag struct {
	kind    tagKind
	name    []byte
	running bool // its first state attribute says "running"
}

// Byte classes of the fast path (a read-only table).
const (
	cPlain     uint8 = 1 << iota // text as is: printable ASCII and \t \n, but < & ]
	cValue                       // in a quoted attribute value: printable ASCII but < &
	cNameStart                   // may start an ASCII XML name
	cName                        // may continue one (the colon is not in it)
	cSpace                       // what encoding/xml skips inside tags
)

var byteClass = func() (c [256]uint8) {
	for b := 0x20; b < 0x7f; b++ {
		c[b] |= cPlain | cValue
	}
	c['\t'] |= cPlain
	c['\n'] |= cPlain
	c['<'] &^= cPlain | cValue
	c['&'] &^= cPlain | cValue
	c[']'] &^= cPlain // "]]>" must not be split between the two paths
	for b := 'a'; b <= 'z'; b++ {
		c[b] |= cNameStart | cName
		c[b-'a'+'A'] |= cNameStart | cName
	}
	c['_'] |= cNameStart | cName
	for _, b := range []byte("0123456789.-") {
		c[b] |= cName
	}
	for _, b := range []byte(" \t\r\n") {
		c[b] |= cSpace
	}
	return c
}()

// plainText is the length of the text at the start of b that reads the
// same raw as decoded.
func plainText(b []byte) int {
	for i, c := range b {
		if byteClass[c]&cPlain == 0 {
			return i
		}
	}
	return len(b)
}

var xmlDecls = [...]string{`<?xml version='1.0'?>`, `<?xml version="1.0"?>`}

// scanTag recognises a tag whole at the start of b in the shapes qstat
// prints: <name a="v" b:c='w'>, <name/>, </name>, and the declaration.
// n is 0 for anything else, including a tag that goes on past b.
func scanTag(b []byte) (t tag, n int) {
	if len(b) > 1 && b[1] == '/' {
		end := nameEnd(b, 2)
		i := skipSpace(b, end)
		if end == 2 || i >= len(b) || b[i] != '>' {
			return t, 0
		}
		return tag{kind: endTag, name: b[2:end]}, i + 1
	}
	if len(b) > 1 && b[1] == '?' {
		for _, d := range xmlDecls {
			if bytes.HasPrefix(b, []byte(d)) {
				return tag{kind: declaration}, len(d)
			}
		}
		return t, 0
	}
	end := nameEnd(b, 1)
	if end == 1 {
		return t, 0
	}
	t.name = b[1:end]
	stateSeen := false
	for i := end; ; {
		i = skipSpace(b, i)
		switch {
		case i >= len(b):
			return t, 0
		case b[i] == '>':
			return t, i + 1
		case b[i] == '/' && i+1 < len(b) && b[i+1] == '>':
			t.kind = emptyTag
			return t, i + 2
		}
		local, value, next := scanAttr(b, i)
		if next == 0 {
			return t, 0
		}
		if !stateSeen && string(local) == "state" {
			stateSeen, t.running = true, string(value) == "running"
		}
		i = next
	}
}

// scanAttr reads name="value" at b[i:]. The name may have one colon, as in
// xmlns:xsd; local is the part after it, as encoding/xml splits the name.
func scanAttr(b []byte, i int) (local, value []byte, next int) {
	end := nameEnd(b, i)
	if end == i {
		return nil, nil, 0
	}
	local = b[i:end]
	if end < len(b) && b[end] == ':' {
		colon := end
		if end = nameEnd(b, colon+1); end == colon+1 {
			return nil, nil, 0 // "a:" or "a::b": the Decoder's to judge
		}
		local = b[colon+1 : end]
	}
	j := skipSpace(b, end)
	if j >= len(b) || b[j] != '=' {
		return nil, nil, 0 // also "a:b:c"
	}
	if j = skipSpace(b, j+1); j >= len(b) || (b[j] != '"' && b[j] != '\'') {
		return nil, nil, 0
	}
	q, start := b[j], j+1
	for j = start; j < len(b) && b[j] != q; j++ {
		if byteClass[b[j]]&cValue == 0 {
			return nil, nil, 0
		}
	}
	if j >= len(b) {
		return nil, nil, 0
	}
	return local, b[start:j], j + 1
}

// nameEnd returns the end of the ASCII name without a colon at b[i:], or i
// when there is none. What follows a name is checked by its caller: a
// colon or a non-ASCII byte there leaves the tag to the Decoder.
func nameEnd(b []byte, i int) int {
	if i >= len(b) || byteClass[b[i]]&cNameStart == 0 {
		return i
	}
	for i++; i < len(b) && byteClass[b[i]]&cName != 0; i++ {
	}
	return i
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && byteClass[b[i]]&cSpace != 0 {
		i++
	}
	return i
}
