package qstat

import (
	"bytes"
	"fmt"
	"io"
	"math"
)

// maxEmptyReads is how many (0, nil) reads mean a broken reader, as in bufio.
const maxEmptyReads = 100

// input is a window buf[pos:end] over qstat's output. The fast path looks
// into the window; encoding/xml reads from it byte by byte (ReadByte), so
// that both see one stream and the fast path can take over again after
// the Decoder's token.
//
// It also enforces the token bound: while a token is being decoded, the
// Decoder may read at most maxToken bytes from the token's first byte,
// counting the byte that ends it. encoding/xml keeps a whole token in
// memory, so this is what keeps one endless text or name from being
// buffered whole.
type input struct {
	r        io.Reader
	buf      []byte
	pos, end int
	base     int64 // offset of buf[0] in the whole input
	err      error // what the reader returned last; io.EOF at the end
	empty    int   // (0, nil) reads in a row

	maxToken int64
	limit    int64  // ReadByte refuses the byte at this offset
	tooLong  error  // set once ReadByte refused a byte; sticky
	last     uint16 // the last two bytes ReadByte handed out

	line, lineAt int // newlines before buf[lineAt] are counted in line
}

func newInput(r io.Reader, maxToken int64, window int) input {
	return input{r: r, buf: make([]byte, window), maxToken: maxToken, limit: math.MaxInt64, line: 1}
}

// offset is the input offset of the next unread byte.
func (in *input) offset() int64 { return in.base + int64(in.pos) }

// lineNow is the 1-based line of the next unread byte.
func (in *input) lineNow() int {
	in.line += bytes.Count(in.buf[in.lineAt:in.pos], []byte{'\n'})
	in.lineAt = in.pos
	return in.line
}

// peek returns the unread bytes after reading until there are at least
// want of them, the window is full or the input has ended.
func (in *input) peek(want int) []byte {
	if in.end-in.pos < want {
		in.more(want)
	}
	return in.buf[in.pos:in.end]
}

func (in *input) more(want int) {
	if in.err != nil {
		return
	}
	in.compact()
	for in.end-in.pos < want && in.end < len(in.buf) && in.err == nil {
		in.fill()
	}
}

// compact moves the unread bytes to the front of the window.
func (in *input) compact() {
	in.lineNow()
	n := copy(in.buf, in.buf[in.pos:in.end])
	in.base += int64(in.pos)
	in.pos, in.end, in.lineAt = 0, n, 0
}

func (in *input) fill() {
	n, err := in.r.Read(in.buf[in.end:])
	if n < 0 || n > len(in.buf)-in.end {
		n, err = 0, fmt.Errorf("reader returned an impossible count %d", n)
	}
	in.end += n
	switch {
	case err != nil:
		in.err = err
	case n > 0:
		in.empty = 0
	default:
		if in.empty++; in.empty >= maxEmptyReads {
			in.err = io.ErrNoProgress
		}
	}
}

// beginToken bounds what ReadByte hands out for a token starting at start.
func (in *input) beginToken(start int64) {
	in.limit = start + min(in.maxToken, math.MaxInt64-start)
}

// ReadByte is how encoding/xml reads: the Decoder uses it instead of
// buffering ahead, so the bytes it did not take stay in the window.
func (in *input) ReadByte() (byte, error) {
	if in.tooLong != nil {
		return 0, in.tooLong
	}
	if in.pos == in.end {
		if len(in.peek(1)) == 0 {
			return 0, in.err
		}
	}
	if in.offset() >= in.limit {
		in.tooLong = fmt.Errorf("line %d: a single tag or text is longer than the %d-byte limit", in.lineNow(), in.maxToken)
		return 0, in.tooLong
	}
	b := in.buf[in.pos]
	in.pos++
	in.last = in.last<<8 | uint16(b)
	return b, nil
}

// Read makes input the io.Reader that xml.NewDecoder takes; being an
// io.ByteReader too, it is only ever read with ReadByte.
func (in *input) Read(p []byte) (int, error) {
	for i := range p {
		b, err := in.ReadByte()
		if err != nil {
			return i, err
		}
		p[i] = b
	}
	return len(p), nil
}
