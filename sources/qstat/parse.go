package qstat

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// timeLayout is how SGE 8.1.9 prints JAT_start_time and JB_submission_time:
// local wall-clock time of the qmaster host, without a zone.
const timeLayout = "2006-01-02T15:04:05"

// field is the job_list child whose text the parser is collecting.
type field uint8

const (
	fieldNone field = iota
	fieldNumber
	fieldName
	fieldOwner
	fieldState
	fieldStarted
	fieldSubmitted
	fieldQueue
	fieldSlots
	fieldTasks
)

// fieldOf maps a job_list child element to the field it fills; everything
// else (JAT_prio, master, hard_request, whatever a later SGE adds) is skipped.
func fieldOf(local string) field {
	switch local {
	case "JB_job_number":
		return fieldNumber
	case "JB_name":
		return fieldName
	case "JB_owner":
		return fieldOwner
	case "state":
		return fieldState
	case "JAT_start_time":
		return fieldStarted
	case "JB_submission_time":
		return fieldSubmitted
	case "queue_name":
		return fieldQueue
	case "slots":
		return fieldSlots
	case "tasks":
		return fieldTasks
	}
	return fieldNone
}

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
// Parse streams tokens and keeps only the current job in progress, so its
// memory is the result plus a few small buffers, however large the grid.
func Parse(r io.Reader, loc *time.Location) ([]Job, error) {
	if loc == nil {
		loc = time.Local
	}
	p := parser{
		dec:      xml.NewDecoder(bufio.NewReaderSize(r, 64<<10)),
		loc:      loc,
		jobs:     make([]Job, 0, 64),
		stack:    make([]xml.Name, 0, 8),
		interned: make(map[string]string),
	}
	return p.run()
}

// parser is the state machine behind Parse. It tracks the open elements
// itself because RawToken (used to skip namespace bookkeeping) does not
// check that end tags match.
type parser struct {
	dec *xml.Decoder
	loc *time.Location

	stack    []xml.Name // open elements, root first
	sawToken bool       // anything other than whitespace was read
	rootDone bool       // </job_info> of the root has been read

	jobs    []Job
	job     Job    // the job_list being read
	jobAt   int    // len(stack) when inside that job_list, 0 outside one
	jobSeq  int    // 1-based position of that job_list in the document
	jobLine int    // line of its start tag, for error messages
	have    uint16 // bit per field seen with non-empty text
	cur     field  // field whose text is being collected
	text    []byte // that text, reused across fields

	// interned shares the few distinct state and queue strings among
	// thousands of jobs instead of allocating one per job.
	interned map[string]string
}

func (p *parser) run() ([]Job, error) {
	for {
		tok, err := p.dec.RawToken()
		if err == io.EOF {
			return p.finish()
		}
		if err != nil {
			return nil, fmt.Errorf("reading qstat XML: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			p.sawToken = true
			err = p.start(t)
		case xml.EndElement:
			p.sawToken = true
			err = p.end(t)
		case xml.CharData:
			err = p.charData(t)
		default: // declaration, comments, directives carry nothing we need
			p.sawToken = true
		}
		if err != nil {
			return nil, err
		}
	}
}

func (p *parser) finish() ([]Job, error) {
	switch {
	case !p.sawToken:
		return nil, errors.New("qstat printed nothing")
	case len(p.stack) > 0:
		line, _ := p.dec.InputPos()
		return nil, fmt.Errorf("qstat XML ends at line %d inside <%s>: output is truncated", line, p.stack[len(p.stack)-1].Local)
	case !p.rootDone:
		return nil, errors.New("qstat printed no <job_info> element")
	}
	return p.jobs, nil
}

func (p *parser) start(t xml.StartElement) error {
	if len(p.stack) == 0 {
		if p.rootDone {
			return p.errorf("second root element <%s> after </job_info>", t.Name.Local)
		}
		if t.Name.Local != "job_info" || t.Name.Space != "" {
			return p.errorf("root element is <%s>, want <job_info> (was qstat run with -xml and without -j?)", qualified(t.Name))
		}
	}
	p.stack = append(p.stack, t.Name)
	switch {
	case p.jobAt > 0:
		if len(p.stack) == p.jobAt+1 {
			p.cur = fieldOf(t.Name.Local)
			p.text = p.text[:0]
		}
	case t.Name.Local == "job_list":
		p.beginJob(t)
	}
	return nil
}

func (p *parser) end(t xml.EndElement) error {
	n := len(p.stack)
	if n == 0 {
		return p.errorf("unexpected </%s>", qualified(t.Name))
	}
	if open := p.stack[n-1]; open != t.Name {
		return p.errorf("<%s> closed by </%s>", qualified(open), qualified(t.Name))
	}
	p.stack = p.stack[:n-1]
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

func (p *parser) charData(t xml.CharData) error {
	if len(p.stack) == 0 {
		if len(bytes.TrimSpace(t)) == 0 {
			return nil
		}
		p.sawToken = true
		if p.rootDone {
			return p.errorf("text after </job_info>: %q", clip(t))
		}
		return fmt.Errorf("qstat printed text that is not XML: %q", clip(t))
	}
	if p.cur != fieldNone && len(p.stack) == p.jobAt+1 {
		p.text = append(p.text, t...)
	}
	return nil
}

func (p *parser) beginJob(t xml.StartElement) {
	p.jobAt = len(p.stack)
	p.jobSeq++
	p.jobLine, _ = p.dec.InputPos()
	p.have = 0
	p.cur = fieldNone
	p.job = Job{Running: p.runningSection(t)}
}

// runningSection says whether the job_list being opened sits in the running
// part of the document (queue_info) or the pending part (the nested
// job_info). Only if it sits in neither does the state attribute decide.
func (p *parser) runningSection(t xml.StartElement) bool {
	for i := len(p.stack) - 2; i >= 1; i-- {
		switch p.stack[i].Local {
		case "queue_info":
			return true
		case "job_info":
			return false
		}
	}
	for _, a := range t.Attr {
		if a.Name.Local == "state" {
			return a.Value == "running"
		}
	}
	return false
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
		p.job.Name = unescapeName(v)
	case fieldOwner:
		p.job.Owner = string(v)
	case fieldState:
		p.job.State = p.intern(v)
	case fieldQueue:
		p.job.Queue = p.intern(v)
	case fieldTasks:
		p.job.Tasks = string(v)
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
	p.jobs = append(p.jobs, p.job)
	return nil
}

func (p *parser) intern(b []byte) string {
	if s, ok := p.interned[string(b)]; ok {
		return s
	}
	s := string(b)
	p.interned[s] = s
	return s
}

func (p *parser) errorf(format string, args ...any) error {
	line, _ := p.dec.InputPos()
	return fmt.Errorf("qstat XML line %d: "+format, append([]any{line}, args...)...)
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

func qualified(n xml.Name) string {
	if n.Space == "" {
		return n.Local
	}
	return n.Space + ":" + n.Local
}

// clip keeps error messages short when qstat printed something huge.
func clip(b []byte) string {
	const max = 80
	if len(b) > max {
		return string(b[:max]) + "..."
	}
	return string(b)
}

// parseCount reads a non-negative decimal integer without allocating.
func parseCount(b []byte) (int, bool) {
	const maxInt = int(^uint(0) >> 1)
	if len(b) == 0 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := int(c - '0')
		if n > (maxInt-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

// parseLocalTime reads timeLayout in loc. The fixed-width fast path avoids
// allocating a string per job; anything else (e.g. fractional seconds, which
// time.Parse accepts after the seconds field) goes through time.ParseInLocation.
func parseLocalTime(b []byte, loc *time.Location) (time.Time, bool) {
	if len(b) == len(timeLayout) && b[4] == '-' && b[7] == '-' && b[10] == 'T' && b[13] == ':' && b[16] == ':' {
		y, ok1 := parseCount(b[0:4])
		mo, ok2 := parseCount(b[5:7])
		d, ok3 := parseCount(b[8:10])
		h, ok4 := parseCount(b[11:13])
		mi, ok5 := parseCount(b[14:16])
		s, ok6 := parseCount(b[17:19])
		if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 59 {
			return time.Time{}, false
		}
		t := time.Date(y, time.Month(mo), d, h, mi, s, 0, loc)
		// time.Date normalizes 2017-02-30 to March; time.Parse refuses it.
		if ty, tm, td := t.Date(); ty != y || int(tm) != mo || td != d {
			// A DST gap can move the hour but never the date, unless the
			// gap starts at midnight; let the slow path judge that case.
			return slowLocalTime(b, loc)
		}
		return t, true
	}
	return slowLocalTime(b, loc)
}

func slowLocalTime(b []byte, loc *time.Location) (time.Time, bool) {
	t, err := time.ParseInLocation(timeLayout, string(b), loc)
	return t, err == nil
}

// unescapeName undoes SGE's home-made escaping of job names, which writes
// "<" as "%lt;" (and likewise ">" and "&") instead of an XML entity.
func unescapeName(b []byte) string {
	if bytes.IndexByte(b, '%') < 0 {
		return string(b)
	}
	var sb strings.Builder
	sb.Grow(len(b))
	for len(b) > 0 {
		i := bytes.IndexByte(b, '%')
		if i < 0 {
			sb.Write(b)
			break
		}
		sb.Write(b[:i])
		b = b[i:]
		switch {
		case bytes.HasPrefix(b, []byte("%lt;")):
			sb.WriteByte('<')
			b = b[4:]
		case bytes.HasPrefix(b, []byte("%gt;")):
			sb.WriteByte('>')
			b = b[4:]
		case bytes.HasPrefix(b, []byte("%amp;")):
			sb.WriteByte('&')
			b = b[5:]
		default:
			sb.WriteByte('%')
			b = b[1:]
		}
	}
	return sb.String()
}
