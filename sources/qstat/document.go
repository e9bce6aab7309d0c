package qstat

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"time"
)

// document holds the rules of a qstat document, whichever reader found its
// tokens: one job_info root; jobs in job_list elements, running under
// queue_info and pending under the nested job_info; no text outside the
// root. Names and text arrive as bytes that are only valid during the call.
type document struct {
	in *input // for line numbers

	names    []byte        // raw names of the open elements, concatenated
	open     []openElement // root first
	sawToken bool          // anything other than white space was read
	rootDone bool          // </job_info> of the root has been read

	// Text outside the root: its first bytes, whether it holds anything
	// but white space, and the line where it ends.
	outText     []byte
	outNonSpace bool
	outLine     int

	job     jobBuilder
	jobAt   int   // len(open) inside a job_list, 0 outside one
	field   field // the job_list child being read, at depth jobAt+1
	fieldAt int   // where its text begins in job.raw

	jobs jobList
}

// openElement is an open element: its raw name is names[start:end].
type openElement struct {
	start, end int
	kind       elementKind
}

// elementKind tells the elements that decide a job_list's section.
type elementKind uint8

const (
	kindOther elementKind = iota
	kindQueueInfo
	kindJobInfo
)

func (d *document) init(in *input, loc *time.Location) {
	if loc == nil {
		loc = time.Local
	}
	d.in = in
	d.open = make([]openElement, 0, 8)
	d.job.init(loc)
	d.jobs.init()
}

// token takes a token of encoding/xml's RawToken.
func (d *document) token(tok xml.Token) error {
	switch t := tok.(type) {
	case xml.StartElement:
		running := false
		for _, a := range t.Attr {
			if a.Name.Local == "state" {
				running = a.Value == "running"
				break
			}
		}
		return d.start([]byte(t.Name.Space), []byte(t.Name.Local), running)
	case xml.EndElement:
		return d.end([]byte(t.Name.Space), []byte(t.Name.Local))
	case xml.CharData:
		return d.chars(t)
	}
	return d.other() // declaration, comment, directive: nothing we need
}

// other takes a token that carries nothing for the jobs.
func (d *document) other() error {
	d.sawToken = true
	return d.endOutsideText()
}

// start takes a start tag named space:local (space is empty without a
// prefix); running is what its first state attribute said.
func (d *document) start(space, local []byte, running bool) error {
	d.sawToken = true
	if err := d.endOutsideText(); err != nil {
		return err
	}
	at := len(d.names)
	d.names = appendRawName(d.names, space, local)
	if len(d.open) == 0 {
		if d.rootDone {
			return d.errorf("second root element <%s> after </job_info>", local)
		}
		if len(space) > 0 || string(local) != "job_info" {
			return d.errorf("root element is <%s>, want <job_info> (was qstat run with -xml and without -j?)", d.names[at:])
		}
	}
	kind := kindOther
	switch string(local) {
	case "queue_info":
		kind = kindQueueInfo
	case "job_info":
		kind = kindJobInfo
	}
	d.open = append(d.open, openElement{start: at, end: len(d.names), kind: kind})
	switch {
	case d.jobAt > 0 && len(d.open) == d.jobAt+1:
		d.field, d.fieldAt = fieldOf(string(local)), len(d.job.raw)
	case d.jobAt == 0 && string(local) == "job_list":
		d.jobAt = len(d.open)
		d.job.begin(d.in.lineNow(), d.runningSection(running))
	}
	return nil
}

// runningSection says whether the job_list just opened sits in the running
// part of the document (queue_info) or the pending part (the nested
// job_info). Only if it sits in neither does the state attribute decide.
func (d *document) runningSection(running bool) bool {
	for i := len(d.open) - 2; i >= 1; i-- {
		switch d.open[i].kind {
		case kindQueueInfo:
			return true
		case kindJobInfo:
			return false
		}
	}
	return running
}

func (d *document) end(space, local []byte) error {
	d.sawToken = true
	if err := d.endOutsideText(); err != nil {
		return err
	}
	n := len(d.open)
	if n == 0 {
		return d.errorf("unexpected </%s>", appendRawName(nil, space, local))
	}
	top := d.open[n-1]
	if open := d.names[top.start:top.end]; !isRawName(open, space, local) {
		return d.errorf("<%s> closed by </%s>", open, appendRawName(nil, space, local))
	}
	d.open, d.names = d.open[:n-1], d.names[:top.start]
	switch {
	case d.jobAt > 0 && n == d.jobAt+1:
		d.job.set(d.field, d.fieldAt)
		d.field = fieldNone
	case d.jobAt > 0 && n == d.jobAt:
		d.jobAt = 0
		j, err := d.job.build()
		if err != nil {
			return err
		}
		d.jobs.add(j)
	case n == 1:
		d.rootDone = true
	}
	return nil
}

// chars takes a piece of text; consecutive pieces are one text.
func (d *document) chars(t []byte) error {
	switch {
	case len(d.open) == 0:
		if keep := min(len(t), 81-len(d.outText)); keep > 0 {
			d.outText = append(d.outText, t[:keep]...)
		}
		d.outNonSpace = d.outNonSpace || len(bytes.TrimSpace(t)) > 0
		d.outLine = d.in.lineNow()
	case d.field != fieldNone && len(d.open) == d.jobAt+1:
		d.job.raw = append(d.job.raw, t...)
	}
	return nil
}

// endOutsideText ends a text outside the root, which must be white space.
func (d *document) endOutsideText() error {
	if !d.outNonSpace {
		d.outText = d.outText[:0]
		return nil
	}
	d.sawToken = true
	if d.rootDone {
		return fmt.Errorf("qstat XML line %d: text after </job_info>: %q", d.outLine, clip(d.outText))
	}
	return fmt.Errorf("qstat printed text that is not XML: %q", clip(d.outText))
}

func (d *document) finish() ([]Job, error) {
	if err := d.endOutsideText(); err != nil {
		return nil, err
	}
	switch {
	case !d.sawToken:
		return nil, errors.New("qstat printed nothing")
	case len(d.open) > 0:
		top := d.open[len(d.open)-1]
		return nil, fmt.Errorf("qstat XML ends at line %d inside <%s>: output is truncated", d.in.lineNow(), localName(d.names[top.start:top.end]))
	case !d.rootDone:
		return nil, errors.New("qstat printed no <job_info> element")
	}
	return d.jobs.all(), nil
}

func (d *document) errorf(format string, args ...any) error {
	return fmt.Errorf("qstat XML line %d: "+format, append([]any{d.in.lineNow()}, args...)...)
}

// appendRawName appends the name as the document spelled it.
func appendRawName(dst, space, local []byte) []byte {
	if len(space) > 0 {
		dst = append(append(dst, space...), ':')
	}
	return append(dst, local...)
}

func isRawName(raw, space, local []byte) bool {
	if len(space) == 0 {
		return bytes.Equal(raw, local)
	}
	return len(raw) == len(space)+1+len(local) && bytes.HasPrefix(raw, space) &&
		raw[len(space)] == ':' && bytes.HasSuffix(raw, local)
}

// localName is the part of a raw name after its prefix, as encoding/xml
// splits it: at the only colon, when there is a name on both sides.
func localName(raw []byte) []byte {
	if i := bytes.IndexByte(raw, ':'); i > 0 && i < len(raw)-1 && bytes.Count(raw, []byte{':'}) == 1 {
		return raw[i+1:]
	}
	return raw
}

// clip keeps error messages short when qstat printed something huge.
func clip(b []byte) string {
	const max = 80
	if len(b) > max {
		return string(b[:max]) + "..."
	}
	return string(b)
}
