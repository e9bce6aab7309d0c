package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// What one /list body may cost is bounded by what the plan needs of it: a
// tool name and a status per registration. Everything else is read past as
// it streams by, so neither a huge field, nor a huge key or status, nor a
// deep nesting costs more than the decoder's buffer.
const (
	// maxToolKey is the longest key kept, in bytes: no directory name, so
	// no tool's, is longer (NAME_MAX). A longer key cannot be a tool's; its
	// registration is counted in Dropped and left out.
	maxToolKey = 255
	// maxStatus is the longest status kept whole, in bytes; a longer one
	// is cut on a rune boundary and marked with statusCut. No status the
	// planner knows ("active", "") is near it.
	maxStatus = 64
	// statusCut marks a status that was cut.
	statusCut = "…"
	// maxStatusKey is the longest key compared with "status": the longest
	// spelling that folds to it ("ſtatuſ") is 8 bytes.
	maxStatusKey = 16
	// maxNesting is how deeply values may nest, the list's own object
	// included: encoding/json's limit, so that what is accepted here is
	// valid JSON there.
	maxNesting = 10000
	// maxInterned bounds the distinct statuses whose one copy all
	// registrations share: the proxy uses two or three.
	maxInterned = 16
	// readBuffer is how much of the body is read at once.
	readBuffer = 32 << 10
)

// list is a decoded /list body.
type list struct {
	regs    map[string]Registration
	dropped int // registrations whose key no tool name can be
}

// decodeList parses a /list body: one JSON object mapping tool names to
// objects with at least a "status". It reads at most maxBody bytes and
// refuses everything else (empty body, a non-object, a non-object value,
// invalid JSON anywhere, trailing data) rather than guess.
//
// It reads the body as a stream and keeps, of each registration, only its
// key and its status, both bounded (maxToolKey, maxStatus): the memory it
// takes is the result's, whatever the body holds. It accepts exactly what
// encoding/json would (FuzzDecodeListMatchesEncodingJSON), and reads the
// status as encoding/json's Unmarshal into Registration would: any key
// that folds to "status", the last one winning, null leaving it as it was.
func decodeList(r io.Reader, maxBody int64) (list, error) {
	counted := &countingReader{r: io.LimitReader(r, maxBody+1)}
	d := &listDecoder{r: bufio.NewReaderSize(counted, readBuffer)}
	l, err := d.list()
	if counted.n > maxBody {
		// Checked first: a body cut at the cap also fails to parse, and the
		// size is the real reason.
		return list{}, fmt.Errorf("body larger than %d bytes", maxBody)
	}
	if err != nil {
		return list{}, err
	}
	return l, nil
}

// listDecoder reads one /list body.
type listDecoder struct {
	r        *bufio.Reader
	scratch  []byte            // the string being read, up to its bound
	kept     []byte            // scratch with invalid UTF-8 replaced
	open     []byte            // the containers open while a value is read past
	statuses map[string]string // one copy of each status seen
}

// list reads the body's one object, then makes sure nothing follows it.
func (d *listDecoder) list() (list, error) {
	c, err := d.next()
	if errors.Is(err, errUnexpectedEnd) {
		return list{}, errors.New("empty body, expected a JSON object")
	}
	if err != nil {
		return list{}, fmt.Errorf("decoding JSON: %w", err)
	}
	if c != '{' {
		return list{}, d.notAnObject(c)
	}
	l := list{regs: make(map[string]Registration)}
	if err := d.registrations(&l); err != nil {
		return list{}, err
	}
	switch _, err := d.next(); {
	case errors.Is(err, errUnexpectedEnd):
		return l, nil
	case err != nil:
		return list{}, fmt.Errorf("decoding JSON after the object: %w", err)
	}
	return list{}, errors.New("decoding JSON: trailing data after the object")
}

// notAnObject says what the body is instead of an object.
func (d *listDecoder) notAnObject(c byte) error {
	what := ""
	switch {
	case c == '[':
		what = "a JSON array"
	case c == '"':
		what = "a JSON string"
	case c == '-' || isDigit(c):
		what = "a JSON number"
	case c == 'n' || c == 't' || c == 'f':
		if err := d.literal(c); err != nil {
			return fmt.Errorf("decoding JSON: %w", err)
		}
		what = "a JSON boolean"
		if c == 'n' {
			what = "JSON null"
		}
	default:
		return fmt.Errorf("decoding JSON: %w", invalidChar(c, "looking for beginning of value"))
	}
	return fmt.Errorf("body is %s, expected a JSON object keyed by tool name", what)
}

// registrations reads the list's members, up to its closing brace.
func (d *listDecoder) registrations(l *list) error {
	c, err := d.next()
	if err == nil && c == '}' {
		return nil
	}
	for err == nil {
		if c != '"' {
			err = invalidChar(c, "looking for beginning of object key string")
			break
		}
		var key []byte
		var fits bool
		if key, fits, err = d.text(maxToolKey); err != nil {
			break
		}
		if err = d.expect(':', "after object key"); err != nil {
			break
		}
		tool := string(key) // kept, or named in an error
		reg, regErr := d.registration(tool, fits)
		if regErr != nil {
			return regErr
		}
		if fits {
			l.regs[tool] = reg
		} else {
			l.dropped++
		}
		if c, err = d.next(); err != nil {
			break
		}
		switch c {
		case '}':
			return nil
		case ',':
			c, err = d.next()
		default:
			err = invalidChar(c, "after object key:value pair")
		}
	}
	return fmt.Errorf("decoding JSON: %w", err)
}

// registration reads one tool's value: an object whose status is kept.
// Errors name the tool by its key (cut when it does not fit).
func (d *listDecoder) registration(key string, fits bool) (Registration, error) {
	named := func() string {
		if !fits {
			return strconv.Quote(key + "…")
		}
		return strconv.Quote(key)
	}
	c, err := d.next()
	if err == nil && c != '{' {
		if err = d.skip(c, 1); err == nil {
			return Registration{}, fmt.Errorf("value of tool %s is %s, expected an object like {\"status\": \"active\"}", named(), valueKind(c))
		}
	}
	var reg Registration
	var wrongType error
	if err == nil {
		err = d.fields(&reg, &wrongType)
	}
	if err != nil {
		return Registration{}, fmt.Errorf("decoding JSON value of tool %s: %w", named(), err)
	}
	if wrongType != nil {
		return Registration{}, fmt.Errorf("decoding value of tool %s: %w", named(), wrongType)
	}
	return reg, nil
}

// fields reads a registration's members up to its closing brace, keeping
// the status and reading past the rest. A status of the wrong type is set
// in wrongType, and refuses the registration only once the whole value is
// known to be valid JSON.
func (d *listDecoder) fields(reg *Registration, wrongType *error) error {
	c, err := d.next()
	if err != nil || c == '}' {
		return err
	}
	for {
		if c != '"' {
			return invalidChar(c, "looking for beginning of object key string")
		}
		if err := d.field(reg, wrongType); err != nil {
			return err
		}
		if c, err = d.next(); err != nil {
			return err
		}
		switch c {
		case '}':
			return nil
		case ',':
			if c, err = d.next(); err != nil {
				return err
			}
		default:
			return invalidChar(c, "after object key:value pair")
		}
	}
}

// field reads one member of a registration, its key's opening quote read.
func (d *listDecoder) field(reg *Registration, wrongType *error) error {
	name, fits, err := d.text(maxStatusKey)
	if err != nil {
		return err
	}
	isStatus := fits && bytes.EqualFold(name, []byte("status"))
	if err := d.expect(':', "after object key"); err != nil {
		return err
	}
	c, err := d.next()
	if err != nil {
		return err
	}
	switch {
	case isStatus && c == '"':
		return d.status(reg)
	case isStatus && c != 'n' && *wrongType == nil: // a null status leaves it as it was
		*wrongType = fmt.Errorf("\"status\" is %s, expected a string", valueKind(c))
	}
	return d.skip(c, 2)
}

// status reads a status string into reg: one shared copy of each of the
// first few distinct ones, a cut and marked copy of an overlong one.
func (d *listDecoder) status(reg *Registration) error {
	s, fits, err := d.text(maxStatus)
	if err != nil {
		return err
	}
	if !fits {
		reg.Status = string(s) + statusCut
		return nil
	}
	if shared, ok := d.statuses[string(s)]; ok {
		reg.Status = shared
		return nil
	}
	reg.Status = string(s)
	if d.statuses == nil {
		d.statuses = make(map[string]string, maxInterned)
	}
	if len(d.statuses) < maxInterned {
		d.statuses[reg.Status] = reg.Status
	}
	return nil
}

// countingReader counts the bytes read through it, so that a body cut at
// the cap can be told from one that ends there.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
