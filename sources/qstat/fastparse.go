package qstat

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Parse reads qstat's document with the hand-written scanner below rather
// than encoding/xml, whose token API allocated about 59 times per job and ran
// at ~40 MB/s: three seconds for the 300,000 jobs of a 100,000-tool platform,
// most of a cycle's budget. The scanner accepts and refuses exactly the
// documents encoding/xml's Decoder.RawToken (Strict) does, then applies the
// same job_info rules; reference_test.go keeps the encoding/xml version and
// FuzzParseMatchesReference holds the two to the same answers.
//
// Shape: a window over the input (scanner); fast paths for the tokens qstat
// prints (start tags with plain attribute values, end tags, plain text) that
// run only when the whole token is already in the window; and a slow path
// that is a byte-at-a-time port of encoding/xml's tokenizer, taken for
// everything else: entities, CDATA, comments, declarations, \r, non-ASCII
// names, tokens longer than the window, and every syntax error. The slow
// path consumes as it goes and passes text on in pieces, so memory is the
// result, the window, and names as long as the longest one, however large
// the grid or any single token.

const (
	windowSize = 64 << 10 // bytes of input held at once
	lookahead  = 4 << 10  // a token this short is always whole in the window
	textPiece  = 4 << 10  // slow-path text is passed on in pieces of this size
	arenaBlock = 32 << 10 // job strings are carved out of blocks of this size
	jobChunk   = 8 << 10  // jobs per chunk of the result while it grows
	// maxInterned bounds the map that shares repeated owners, states and
	// queue names, so a grid of distinct owners cannot grow it without end.
	maxInterned = 1 << 14
	// maxEmptyReads is how many (0, nil) reads mean a broken reader, as in bufio.
	maxEmptyReads = 100
)

// Byte classes for the fast paths (a read-only table).
const (
	cText      uint8 = 1 << iota // raw in text: \t, \n, printable ASCII but < & ]
	cAttr                        // raw in a quoted attribute value: as cText, and ]
	cNameStart                   // ASCII byte that may start an XML name
	cName                        // ASCII byte that may continue one
	cSpace                       // what encoding/xml skips inside tags
)

var byteClass = func() (c [256]uint8) {
	for b := 0x20; b < 0x80; b++ {
		c[b] |= cText | cAttr
	}
	for _, b := range []byte("\t\n") {
		c[b] |= cText | cAttr
	}
	c['<'] &^= cText | cAttr
	c['&'] &^= cText | cAttr
	c[']'] &^= cText
	for b := 'a'; b <= 'z'; b++ {
		c[b] |= cNameStart | cName
		c[b-'a'+'A'] |= cNameStart | cName
	}
	for _, b := range []byte("_:") {
		c[b] |= cNameStart | cName
	}
	for _, b := range []byte("0123456789.-") {
		c[b] |= cName
	}
	for _, b := range []byte(" \t\r\n") {
		c[b] |= cSpace
	}
	return c
}()

// scanner is a window buf[pos:end] over the input that also counts lines,
// lazily: newlines before lineAt are in line, the rest are counted on demand.
type scanner struct {
	r          io.Reader
	buf        []byte
	pos, end   int
	rerr       error // what the reader returned last; io.EOF at the end
	emptyReads int
	line       int
	lineAt     int
}

// lineNow is the 1-based line of the current position.
func (s *scanner) lineNow() int {
	s.line += bytes.Count(s.buf[s.lineAt:s.pos], []byte{'\n'})
	s.lineAt = s.pos
	return s.line
}

// compact moves the unread bytes to the front of the window.
func (s *scanner) compact() {
	s.lineNow()
	n := copy(s.buf, s.buf[s.pos:s.end])
	s.pos, s.end, s.lineAt = 0, n, 0
}

func (s *scanner) read() {
	n, err := s.r.Read(s.buf[s.end:])
	if n < 0 || n > len(s.buf)-s.end {
		n, err = 0, fmt.Errorf("reader returned an impossible count %d", n)
	}
	s.end += n
	switch {
	case err != nil:
		s.rerr = err
	case n > 0:
		s.emptyReads = 0
	default:
		if s.emptyReads++; s.emptyReads >= maxEmptyReads {
			s.rerr = io.ErrNoProgress
		}
	}
}

// ahead reads until want bytes are unread, the window is full or the
// input ends.
func (s *scanner) ahead(want int) {
	if s.end-s.pos >= want || s.rerr != nil {
		return
	}
	if s.pos > 0 {
		s.compact()
	}
	for s.end-s.pos < want && s.end < len(s.buf) && s.rerr == nil {
		s.read()
	}
}

// getc is the slow path's next byte; ok is false at the end of the input
// or on a read error (see rerr).
func (s *scanner) getc() (b byte, ok bool) {
	if s.pos == s.end {
		if s.rerr != nil {
			return 0, false
		}
		s.compact()
		for s.pos == s.end && s.rerr == nil {
			s.read()
		}
		if s.pos == s.end {
			return 0, false
		}
	}
	b = s.buf[s.pos]
	s.pos++
	return b, true
}

// ungetc gives back the byte getc just returned.
func (s *scanner) ungetc() { s.pos-- }

// stringArena makes the job strings that are not interned. It carves them
// out of shared blocks: a strings.Builder never changes bytes it has
// handed out in a String, and a block is dropped, not grown, when full.
// That turns two allocations per job into one per block.
type stringArena struct{ b strings.Builder }

func (a *stringArena) make(v []byte) string {
	if len(v) > arenaBlock/4 {
		return string(v)
	}
	if a.b.Cap()-a.b.Len() < len(v) {
		a.b = strings.Builder{}
		a.b.Grow(arenaBlock)
	}
	at := a.b.Len()
	a.b.Write(v)
	return a.b.String()[at:]
}

// attrState is what a start tag's first "state" attribute said.
type attrState uint8

const (
	stateNone attrState = iota
	stateOther
	stateRunning
)

// elementKind classifies an open element by its local name, for deciding
// whether a job_list is in the running or the pending section.
type elementKind uint8

const (
	kindOther elementKind = iota
	kindQueueInfo
	kindJobInfo
)

type openElement struct {
	start, end int // its raw name is names[start:end]
	kind       elementKind
}

// textSink says where slow-path text goes: into the document (character
// data) or into the attribute value being read.
type textSink uint8

const (
	toChars textSink = iota
	toAttr
)

// parser turns the token stream into jobs, with the rules of the encoding/xml
// version (refParser in reference_test.go): same checks, same order.
type parser struct {
	s         scanner
	lookahead int
	loc       *time.Location

	names    []byte        // raw names of the open elements, concatenated
	stack    []openElement // open elements, root first
	sawToken bool          // anything other than whitespace was read
	rootDone bool          // </job_info> of the root has been read

	// jobs fills chunk by chunk and is joined once at the end: growing
	// one slice of 300,000 jobs by append moved and cleared it about five
	// times over, a quarter of the parse.
	jobs    []Job   // the chunk being filled
	full    [][]Job // chunks already filled
	nJobs   int     // jobs in full
	job     Job     // the job_list being read
	jobAt   int     // len(stack) when inside that job_list, 0 outside one
	jobSeq  int     // 1-based position of that job_list in the document
	jobLine int     // line of its start tag, for error messages
	have    uint16  // bit per field seen with non-empty text
	cur     field   // field whose text is being collected
	text    []byte  // that text, reused across fields

	// Character data outside the root: its first bytes, for the error
	// message, and whether it holds anything but white space.
	outText     []byte
	outNonSpace bool

	strs     stringArena
	interned map[string]string

	// Slow-path scratch space, reused.
	nameBuf, attrBuf, tbuf, ent, aval, scratch []byte
	avalLen                                    int
}

func newParser(r io.Reader, loc *time.Location, window, ahead int) *parser {
	if loc == nil {
		loc = time.Local
	}
	return &parser{
		s:         scanner{r: r, buf: make([]byte, window), line: 1},
		lookahead: ahead,
		loc:       loc,
		jobs:      make([]Job, 0, 64),
		stack:     make([]openElement, 0, 8),
		interned:  make(map[string]string),
	}
}

func (p *parser) run() ([]Job, error) {
	s := &p.s
	for {
		if s.end-s.pos < p.lookahead {
			s.ahead(p.lookahead)
		}
		if s.pos == s.end {
			if s.rerr != io.EOF {
				return nil, p.readError()
			}
			return p.finish()
		}
		b := s.buf[s.pos:s.end]
		var handled bool
		var err error
		switch {
		case b[0] != '<':
			handled, err = p.fastText(b)
		case len(b) > 1 && b[1] == '/':
			handled, err = p.fastEnd(b)
		default:
			handled, err = p.fastStart(b)
		}
		if !handled {
			err = p.slowToken()
		}
		if err != nil {
			return nil, err
		}
	}
}

// --- Fast paths: each either handles a whole token in the window or
// consumes nothing and leaves it to slowToken.

// scanName reads an ASCII name at b[i:]. split is the colon's offset in the
// name when it has a namespace prefix, -1 otherwise (encoding/xml's nsname).
func scanName(b []byte, i int) (end, split int, ok bool) {
	if i >= len(b) || byteClass[b[i]]&cNameStart == 0 {
		return 0, 0, false
	}
	colons, at := 0, -1
	j := i
	for j < len(b) && byteClass[b[j]]&cName != 0 {
		if b[j] == ':' {
			colons++
			at = j - i
		}
		j++
	}
	if j >= len(b) || b[j] >= utf8.RuneSelf || colons > 1 {
		return 0, 0, false
	}
	split = -1
	if colons == 1 && at > 0 && at < j-i-1 {
		split = at
	}
	return j, split, true
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && byteClass[b[i]]&cSpace != 0 {
		i++
	}
	return i
}

func (p *parser) fastStart(b []byte) (bool, error) {
	nameEnd, split, ok := scanName(b, 1)
	if !ok {
		return false, nil
	}
	raw := b[1:nameEnd]
	state := stateNone
	i := nameEnd
	for {
		if i = skipSpace(b, i); i >= len(b) {
			return false, nil
		}
		switch b[i] {
		case '>':
			p.s.pos += i + 1
			return true, p.start(raw, split, state)
		case '/':
			if i+1 >= len(b) || b[i+1] != '>' {
				return false, nil
			}
			p.s.pos += i + 2
			if err := p.start(raw, split, state); err != nil {
				return true, err
			}
			return true, p.end(raw)
		}
		attrEnd, attrSplit, ok := scanName(b, i)
		if !ok {
			return false, nil
		}
		local := b[i+attrSplit+1 : attrEnd]
		if i = skipSpace(b, attrEnd); i >= len(b) || b[i] != '=' {
			return false, nil
		}
		if i = skipSpace(b, i+1); i >= len(b) || (b[i] != '"' && b[i] != '\'') {
			return false, nil
		}
		q := b[i]
		i++
		valStart := i
		for i < len(b) && b[i] != q {
			if byteClass[b[i]]&cAttr == 0 {
				return false, nil
			}
			i++
		}
		if i >= len(b) {
			return false, nil
		}
		if state == stateNone && string(local) == "state" {
			state = stateOther
			if string(b[valStart:i]) == "running" {
				state = stateRunning
			}
		}
		i++
	}
}

func (p *parser) fastEnd(b []byte) (bool, error) {
	nameEnd, _, ok := scanName(b, 2)
	if !ok {
		return false, nil
	}
	i := skipSpace(b, nameEnd)
	if i >= len(b) || b[i] != '>' {
		return false, nil
	}
	p.s.pos += i + 1
	return true, p.end(b[2:nameEnd])
}

// fastText takes text up to the next '<' when it needs no decoding: no
// entity, no \r, no "]]>", only valid characters.
func (p *parser) fastText(b []byte) (bool, error) {
	i := 0
	for i < len(b) {
		c := b[i]
		if byteClass[c]&cText != 0 {
			i++
			continue
		}
		switch {
		case c == '<':
			return true, p.wholeText(b[:i])
		case c == ']' && i+2 < len(b) && (b[i+1] != ']' || b[i+2] != '>'):
			i++
			continue
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(b[i:])
			if (r == utf8.RuneError && size == 1) || !isInCharacterRange(r) {
				return false, nil
			}
			i += size
			continue
		}
		return false, nil
	}
	if p.s.rerr == nil {
		return false, nil // the text may go on past the window
	}
	return true, p.wholeText(b)
}

func (p *parser) wholeText(t []byte) error {
	p.s.pos += len(t)
	p.chars(t)
	return p.endChars()
}

// --- Slow path: a port of encoding/xml's Decoder.rawToken (Strict, no
// Entity map, no CharsetReader), reading with getc and ungetc.

func (p *parser) slowToken() error {
	b, err := p.mustgetc()
	if err != nil {
		return err
	}
	if b != '<' {
		p.s.ungetc()
		if err := p.slowText(-1, false, toChars); err != nil {
			return err
		}
		return p.endChars()
	}
	if b, err = p.mustgetc(); err != nil {
		return err
	}
	switch b {
	case '/':
		raw, _, ok, err := p.nsname(&p.nameBuf)
		if err != nil {
			return err
		}
		if !ok {
			return p.syntaxError("expected element name after </")
		}
		p.space()
		if b, err = p.mustgetc(); err != nil {
			return err
		}
		if b != '>' {
			return p.syntaxError("invalid characters between </" + string(raw) + " and >")
		}
		return p.end(raw)
	case '?':
		return p.procInst()
	case '!':
		return p.bang()
	}
	p.s.ungetc()
	return p.slowStart()
}

func (p *parser) slowStart() error {
	raw, split, ok, err := p.nsname(&p.nameBuf)
	if err != nil {
		return err
	}
	if !ok {
		return p.syntaxError("expected element name after <")
	}
	state := stateNone
	empty := false
	for {
		p.space()
		b, err := p.mustgetc()
		if err != nil {
			return err
		}
		if b == '/' {
			if b, err = p.mustgetc(); err != nil {
				return err
			}
			if b != '>' {
				return p.syntaxError("expected /> in element")
			}
			empty = true
			break
		}
		if b == '>' {
			break
		}
		p.s.ungetc()
		attr, attrSplit, ok, err := p.nsname(&p.attrBuf)
		if err != nil {
			return err
		}
		if !ok {
			return p.syntaxError("expected attribute name in element")
		}
		p.space()
		if b, err = p.mustgetc(); err != nil {
			return err
		}
		if b != '=' {
			return p.syntaxError("attribute name without = in element")
		}
		p.space()
		if b, err = p.mustgetc(); err != nil {
			return err
		}
		if b != '"' && b != '\'' {
			return p.syntaxError("unquoted or missing attribute value in element")
		}
		p.aval, p.avalLen = p.aval[:0], 0
		if err := p.slowText(int(b), false, toAttr); err != nil {
			return err
		}
		if state == stateNone && string(attr[attrSplit+1:]) == "state" {
			state = stateOther
			if p.avalLen == len("running") && string(p.aval) == "running" {
				state = stateRunning
			}
		}
	}
	if err := p.start(raw, split, state); err != nil {
		return err
	}
	if empty {
		return p.end(raw)
	}
	return nil
}

// procInst reads <?target ...?>; only the xml declaration is checked.
func (p *parser) procInst() error {
	target, ok, err := p.name(p.nameBuf[:0])
	p.nameBuf = target
	if err != nil {
		return err
	}
	if !ok {
		return p.syntaxError("expected target name after <?")
	}
	isDecl := string(target) == "xml"
	p.space()
	content := p.tbuf[:0]
	var b0 byte
	for {
		b, err := p.mustgetc()
		if err != nil {
			return err
		}
		if isDecl {
			content = append(content, b)
		}
		if b0 == '?' && b == '>' {
			break
		}
		b0 = b
	}
	p.tbuf = content[:0]
	p.sawToken = true
	if !isDecl {
		return nil
	}
	decl := string(content[:len(content)-2])
	if ver := procInstParam("version", decl); ver != "" && ver != "1.0" {
		return fmt.Errorf("reading qstat XML: unsupported XML version %q; only version 1.0 is supported", ver)
	}
	if enc := procInstParam("encoding", decl); enc != "" && !strings.EqualFold(enc, "utf-8") {
		return fmt.Errorf("reading qstat XML: encoding %q declared; only UTF-8 is read", enc)
	}
	return nil
}

// bang reads what follows "<!": a comment, a CDATA section or a directive.
func (p *parser) bang() error {
	b, err := p.mustgetc()
	if err != nil {
		return err
	}
	switch b {
	case '-':
		if b, err = p.mustgetc(); err != nil {
			return err
		}
		if b != '-' {
			return p.syntaxError("invalid sequence <!- not part of <!--")
		}
		var b0, b1 byte
		for {
			if b, err = p.mustgetc(); err != nil {
				return err
			}
			if b0 == '-' && b1 == '-' {
				if b != '>' {
					return p.syntaxError(`invalid sequence "--" not allowed in comments`)
				}
				break
			}
			b0, b1 = b1, b
		}
		p.sawToken = true
		return nil
	case '[':
		for i := 0; i < len("CDATA["); i++ {
			if b, err = p.mustgetc(); err != nil {
				return err
			}
			if b != "CDATA["[i] {
				return p.syntaxError("invalid <![ sequence")
			}
		}
		if err := p.slowText(-1, true, toChars); err != nil {
			return err
		}
		return p.endChars()
	}
	// A directive such as <!DOCTYPE ...>: skipped, but its end is found
	// exactly as encoding/xml finds it (quotes, nesting, comments).
	var inquote byte
	depth := 0
	for {
		if b, err = p.mustgetc(); err != nil {
			return err
		}
		if inquote == 0 && b == '>' && depth == 0 {
			break
		}
	handle:
		switch {
		case b == inquote:
			inquote = 0
		case inquote != 0:
		case b == '\'' || b == '"':
			inquote = b
		case b == '>':
			depth--
		case b == '<':
			for i := 0; i < len("!--"); i++ {
				if b, err = p.mustgetc(); err != nil {
					return err
				}
				if b != "!--"[i] {
					depth++
					goto handle
				}
			}
			var b0, b1 byte
			for {
				if b, err = p.mustgetc(); err != nil {
					return err
				}
				if b0 == '-' && b1 == '-' && b == '>' {
					break
				}
				b0, b1 = b1, b
			}
		}
	}
	p.sawToken = true
	return nil
}

// slowText reads character data (quote < 0), a quoted attribute value
// (quote is the quote byte) or a CDATA section, decoding as encoding/xml's
// Decoder.text does, and passes it on in rune-aligned pieces.
func (p *parser) slowText(quote int, cdata bool, to textSink) error {
	var b0, b1 byte
	tb := p.tbuf[:0]
	for {
		b, ok := p.s.getc()
		if !ok {
			switch {
			case p.s.rerr != io.EOF:
				return p.readError()
			case cdata:
				return p.syntaxError("unexpected EOF in CDATA section")
			case quote >= 0:
				return p.syntaxError("unexpected EOF")
			}
			break
		}
		if quote < 0 && b0 == ']' && b1 == ']' && b == '>' {
			if cdata {
				tb = tb[:len(tb)-2] // flushPiece always keeps the "]]"
				break
			}
			return p.syntaxError("unescaped ]]> not in CDATA section")
		}
		if b == '<' && !cdata {
			if quote >= 0 {
				return p.syntaxError("unescaped < inside quoted string")
			}
			p.s.ungetc()
			break
		}
		if quote >= 0 && b == byte(quote) {
			break
		}
		if b == '&' && !cdata {
			var err error
			if tb, err = p.entity(tb); err != nil {
				return err
			}
			b0, b1 = 0, 0
			continue
		}
		switch {
		case b == '\r':
			tb = append(tb, '\n')
		case b1 == '\r' && b == '\n':
		default:
			tb = append(tb, b)
		}
		b0, b1 = b1, b
		if len(tb) >= textPiece {
			var err error
			if tb, err = p.flushPiece(tb, to, false); err != nil {
				return err
			}
		}
	}
	tb, err := p.flushPiece(tb, to, true)
	p.tbuf = tb[:0]
	return err
}

// flushPiece checks and passes on decoded text. Unless final, it keeps the
// last two bytes (a "]]" may be the end of a CDATA section) and any
// incomplete rune.
func (p *parser) flushPiece(tb []byte, to textSink, final bool) ([]byte, error) {
	cut := len(tb)
	if !final {
		for cut -= 2; cut > 0 && !utf8.RuneStart(tb[cut]); cut-- {
		}
	}
	if err := p.checkChars(tb[:cut]); err != nil {
		return tb, err
	}
	if to == toAttr {
		p.avalLen += cut
		if keep := min(cut, len("running")+1-len(p.aval)); keep > 0 {
			p.aval = append(p.aval, tb[:keep]...)
		}
	} else {
		p.chars(tb[:cut])
	}
	return tb[:copy(tb, tb[cut:])], nil
}

// checkChars refuses what encoding/xml refuses in decoded text.
func (p *parser) checkChars(b []byte) error {
	for i := 0; i < len(b); {
		if c := b[i]; c < utf8.RuneSelf {
			if c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
				return p.syntaxError(fmt.Sprintf("illegal character code %U", rune(c)))
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			return p.syntaxError("invalid UTF-8")
		}
		if !isInCharacterRange(r) {
			return p.syntaxError(fmt.Sprintf("illegal character code %U", r))
		}
		i += size
	}
	return nil
}

// entity decodes the reference after '&' and appends it to tb. Only the
// five predefined names and numeric references exist without a DTD.
func (p *parser) entity(tb []byte) ([]byte, error) {
	b, err := p.mustgetc()
	if err != nil {
		return tb, err
	}
	if b == '#' {
		if b, err = p.mustgetc(); err != nil {
			return tb, err
		}
		base, prefix := 10, "&#"
		if b == 'x' {
			base, prefix = 16, "&#x"
			if b, err = p.mustgetc(); err != nil {
				return tb, err
			}
		}
		digits := p.ent[:0]
		for '0' <= b && b <= '9' || base == 16 && ('a' <= b && b <= 'f' || 'A' <= b && b <= 'F') {
			digits = append(digits, b)
			if b, err = p.mustgetc(); err != nil {
				return tb, err
			}
		}
		p.ent = digits
		if b != ';' {
			p.s.ungetc()
			return tb, p.syntaxError("invalid character entity " + prefix + string(digits) + " (no semicolon)")
		}
		n, perr := strconv.ParseUint(string(digits), base, 64)
		if perr != nil || n > unicode.MaxRune {
			return tb, p.syntaxError("invalid character entity " + prefix + string(digits) + ";")
		}
		return utf8.AppendRune(tb, rune(n)), nil // a surrogate becomes U+FFFD, as string(rune(n)) does
	}
	p.s.ungetc()
	name, _, err := p.readName(p.ent[:0])
	p.ent = name
	if err != nil {
		return tb, err
	}
	if b, err = p.mustgetc(); err != nil {
		return tb, err
	}
	if b != ';' {
		p.s.ungetc()
		return tb, p.syntaxError("invalid character entity &" + string(name) + " (no semicolon)")
	}
	switch string(name) {
	case "lt":
		return append(tb, '<'), nil
	case "gt":
		return append(tb, '>'), nil
	case "amp":
		return append(tb, '&'), nil
	case "apos":
		return append(tb, '\''), nil
	case "quot":
		return append(tb, '"'), nil
	}
	return tb, p.syntaxError("invalid character entity &" + string(name) + ";")
}

// readName appends the bytes of a name to dst: name bytes and any byte of
// a multi-byte character, whose validity name checks. ok is false, and
// nothing is consumed, when the next byte cannot be part of a name.
func (p *parser) readName(dst []byte) (_ []byte, ok bool, err error) {
	b, err := p.mustgetc()
	if err != nil {
		return dst, false, err
	}
	if b < utf8.RuneSelf && byteClass[b]&cName == 0 {
		p.s.ungetc()
		return dst, false, nil
	}
	dst = append(dst, b)
	for {
		if b, err = p.mustgetc(); err != nil {
			return dst, false, err
		}
		if b < utf8.RuneSelf && byteClass[b]&cName == 0 {
			p.s.ungetc()
			return dst, true, nil
		}
		dst = append(dst, b)
	}
}

func (p *parser) name(dst []byte) (_ []byte, ok bool, err error) {
	dst, ok, err = p.readName(dst)
	if err != nil || !ok {
		return dst, false, err
	}
	if !isXMLName(dst) {
		return dst, false, p.syntaxError("invalid XML name: " + string(dst))
	}
	return dst, true, nil
}

// nsname reads a name into *buf and finds its namespace prefix, if any.
// ok is false when there is no name or it has more than one colon.
func (p *parser) nsname(buf *[]byte) (raw []byte, split int, ok bool, err error) {
	raw, ok, err = p.name((*buf)[:0])
	*buf = raw
	if err != nil || !ok {
		return raw, -1, false, err
	}
	switch bytes.Count(raw, []byte{':'}) {
	case 0:
		return raw, -1, true, nil
	case 1:
		if i := bytes.IndexByte(raw, ':'); i > 0 && i < len(raw)-1 {
			return raw, i, true, nil
		}
		return raw, -1, true, nil
	}
	return raw, -1, false, nil
}

// isXMLName is encoding/xml's name rule. ASCII names are checked here;
// the rare name with other letters is put to encoding/xml itself, so the
// Unicode tables cannot drift from the reference.
func isXMLName(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	ascii := true
	for _, c := range b {
		if c >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return byteClass[b[0]]&cNameStart != 0 // the rest are name bytes: readName took them
	}
	doc := append(append([]byte("<?"), b...), "?>"...)
	_, err := xml.NewDecoder(bytes.NewReader(doc)).RawToken()
	return err == nil
}

// space skips what encoding/xml skips inside tags.
func (p *parser) space() {
	for {
		b, ok := p.s.getc()
		if !ok {
			return
		}
		if byteClass[b]&cSpace == 0 {
			p.s.ungetc()
			return
		}
	}
}

func (p *parser) mustgetc() (byte, error) {
	if b, ok := p.s.getc(); ok {
		return b, nil
	}
	if p.s.rerr == io.EOF {
		return 0, p.syntaxError("unexpected EOF")
	}
	return 0, p.readError()
}

func (p *parser) syntaxError(msg string) error {
	return fmt.Errorf("reading qstat XML: %w", &xml.SyntaxError{Msg: msg, Line: p.s.lineNow()})
}

func (p *parser) readError() error {
	return fmt.Errorf("reading qstat XML: %w", p.s.rerr)
}

func isInCharacterRange(r rune) bool {
	return r == 0x09 ||
		r == 0x0A ||
		r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}

// procInstParam is encoding/xml's procInst (BSD-licensed, Go authors):
// the param="..." or param='...' value in s, "" if not found. Copied so
// the declaration is judged exactly as the reference judges it.
func procInstParam(param, s string) string {
	param = param + "="
	lenp := len(param)
	i := 0
	var sep byte
	for i < len(s) {
		sub := s[i:]
		k := strings.Index(sub, param)
		if k < 0 || lenp+k >= len(sub) {
			return ""
		}
		i += lenp + k + 1
		if c := sub[lenp+k]; c == '\'' || c == '"' {
			sep = c
			break
		}
	}
	if sep == 0 {
		return ""
	}
	j := strings.IndexByte(s[i:], sep)
	if j < 0 {
		return ""
	}
	return s[i : i+j]
}

// --- Document rules, the same as refParser's.

func (p *parser) finish() ([]Job, error) {
	switch {
	case !p.sawToken:
		return nil, errors.New("qstat printed nothing")
	case len(p.stack) > 0:
		top := p.stack[len(p.stack)-1]
		return nil, fmt.Errorf("qstat XML ends at line %d inside <%s>: output is truncated", p.s.lineNow(), localName(p.names[top.start:top.end]))
	case !p.rootDone:
		return nil, errors.New("qstat printed no <job_info> element")
	}
	if len(p.full) == 0 {
		return p.jobs, nil
	}
	all := make([]Job, 0, p.nJobs+len(p.jobs))
	for i, c := range p.full {
		all = append(all, c...)
		p.full[i] = nil // the collector may take it back already
	}
	return append(all, p.jobs...), nil
}

// localName is the part of a raw element name after its namespace prefix.
func localName(raw []byte) []byte {
	if i := bytes.IndexByte(raw, ':'); i > 0 && i < len(raw)-1 && bytes.Count(raw, []byte{':'}) == 1 {
		return raw[i+1:]
	}
	return raw
}

// start handles a start tag; split is the colon's offset in raw, or -1.
func (p *parser) start(raw []byte, split int, state attrState) error {
	p.sawToken = true
	local := raw[split+1:]
	if len(p.stack) == 0 {
		if p.rootDone {
			return p.errorf("second root element <%s> after </job_info>", local)
		}
		if split >= 0 || string(local) != "job_info" {
			return p.errorf("root element is <%s>, want <job_info> (was qstat run with -xml and without -j?)", raw)
		}
	}
	kind := kindOther
	switch string(local) {
	case "queue_info":
		kind = kindQueueInfo
	case "job_info":
		kind = kindJobInfo
	}
	at := len(p.names)
	p.names = append(p.names, raw...)
	p.stack = append(p.stack, openElement{start: at, end: len(p.names), kind: kind})
	switch {
	case p.jobAt > 0:
		if len(p.stack) == p.jobAt+1 {
			p.cur = fieldOf(string(local))
			p.text = p.text[:0]
		}
	case string(local) == "job_list":
		p.beginJob(state)
	}
	return nil
}

func (p *parser) end(raw []byte) error {
	p.sawToken = true
	n := len(p.stack)
	if n == 0 {
		return p.errorf("unexpected </%s>", raw)
	}
	top := p.stack[n-1]
	if open := p.names[top.start:top.end]; !bytes.Equal(open, raw) {
		return p.errorf("<%s> closed by </%s>", open, raw)
	}
	p.stack = p.stack[:n-1]
	p.names = p.names[:top.start]
	switch {
	case p.jobAt > 0 && n == p.jobAt+1:
		err := p.setField()
		p.cur = fieldNone
		return err
	case p.jobAt > 0 && n == p.jobAt:
		p.jobAt = 0
		return p.endJob()
	case n == 1:
		p.rootDone = true
	}
	return nil
}

// chars takes a rune-aligned piece of one run of character data.
func (p *parser) chars(t []byte) {
	if len(p.stack) == 0 {
		if keep := min(len(t), 81-len(p.outText)); keep > 0 {
			p.outText = append(p.outText, t[:keep]...)
		}
		if !p.outNonSpace && len(bytes.TrimSpace(t)) > 0 {
			p.outNonSpace = true
		}
		return
	}
	if p.cur != fieldNone && len(p.stack) == p.jobAt+1 {
		p.text = append(p.text, t...)
	}
}

// endChars ends a run of character data: outside the root it must be
// white space.
func (p *parser) endChars() error {
	if !p.outNonSpace {
		p.outText = p.outText[:0]
		return nil
	}
	p.sawToken = true
	if p.rootDone {
		return p.errorf("text after </job_info>: %q", clip(p.outText))
	}
	return fmt.Errorf("qstat printed text that is not XML: %q", clip(p.outText))
}

func (p *parser) beginJob(state attrState) {
	p.jobAt = len(p.stack)
	p.jobSeq++
	p.jobLine = p.s.lineNow()
	p.have = 0
	p.cur = fieldNone
	p.job = Job{Running: p.runningSection(state)}
}

// runningSection says whether the job_list just opened sits in the running
// part of the document (queue_info) or the pending part (the nested
// job_info). Only if it sits in neither does the state attribute decide.
func (p *parser) runningSection(state attrState) bool {
	for i := len(p.stack) - 2; i >= 1; i-- {
		switch p.stack[i].kind {
		case kindQueueInfo:
			return true
		case kindJobInfo:
			return false
		}
	}
	return state == stateRunning
}

func (p *parser) setField() error {
	v := bytes.TrimSpace(p.text)
	if len(v) == 0 || p.cur == fieldNone {
		return nil
	}
	switch p.cur {
	case fieldNumber:
		n, ok := parseCount(v)
		if !ok {
			return p.jobErrorf("JB_job_number %q is not a whole number", clip(v))
		}
		p.job.Number = n
	case fieldName:
		if bytes.IndexByte(v, '%') >= 0 {
			p.scratch = appendUnescapedName(p.scratch[:0], v)
			v = p.scratch
		}
		p.job.Name = p.strs.make(v)
	case fieldOwner:
		p.job.Owner = p.intern(v)
	case fieldState:
		p.job.State = p.intern(v)
	case fieldQueue:
		p.job.Queue = p.intern(v)
	case fieldTasks:
		p.job.Tasks = p.strs.make(v)
	case fieldSlots:
		n, ok := parseCount(v)
		if !ok {
			return p.jobErrorf("slots %q is not a whole number", clip(v))
		}
		p.job.Slots = n
	case fieldStarted, fieldSubmitted:
		at, ok := parseLocalTime(v, p.loc)
		if !ok {
			name := "JAT_start_time"
			if p.cur == fieldSubmitted {
				name = "JB_submission_time"
			}
			return p.jobErrorf("%s %q is not a time like %s", name, clip(v), timeLayout)
		}
		if p.cur == fieldStarted {
			p.job.Started = at
		} else {
			p.job.Submitted = at
		}
	}
	p.have |= 1 << p.cur
	return nil
}

func (p *parser) endJob() error {
	for _, req := range [...]struct {
		f    field
		elem string
	}{
		{fieldNumber, "JB_job_number"},
		{fieldName, "JB_name"},
		{fieldOwner, "JB_owner"},
		{fieldState, "state"},
	} {
		if p.have&(1<<req.f) == 0 {
			return p.jobErrorf("missing or empty <%s>", req.elem)
		}
	}
	if len(p.jobs) == cap(p.jobs) {
		p.full = append(p.full, p.jobs)
		p.nJobs += len(p.jobs)
		p.jobs = make([]Job, 0, min(2*cap(p.jobs), jobChunk))
	}
	p.jobs = append(p.jobs, p.job)
	return nil
}

// intern shares the strings that repeat across jobs (states, queues, the
// owners of many jobs), up to maxInterned distinct ones.
func (p *parser) intern(v []byte) string {
	if s, ok := p.interned[string(v)]; ok {
		return s
	}
	s := p.strs.make(v)
	if len(p.interned) < maxInterned {
		p.interned[s] = s
	}
	return s
}

func (p *parser) errorf(format string, args ...any) error {
	return fmt.Errorf("qstat XML line %d: "+format, append([]any{p.s.lineNow()}, args...)...)
}

// jobErrorf names the job_list by position and start line, and by number
// and name when those were already read, so the capture can be found.
func (p *parser) jobErrorf(format string, args ...any) error {
	var who strings.Builder
	fmt.Fprintf(&who, "job_list #%d at line %d", p.jobSeq, p.jobLine)
	if p.have&(1<<fieldNumber) != 0 {
		fmt.Fprintf(&who, " (job %d", p.job.Number)
		if p.job.Name != "" {
			fmt.Fprintf(&who, " %q", p.job.Name)
		}
		who.WriteString(")")
	}
	return fmt.Errorf("qstat XML %s: "+format, append([]any{who.String()}, args...)...)
}
