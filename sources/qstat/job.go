package qstat

import (
	"bytes"
	"fmt"
	"strings"
	"time"
)

// Job is one grid job as qstat reports it. State holds the raw SGE letters of
// the <state> element (e.g. "r", "Eqw", "dr", "hqw"); classifying them is the
// planner's business, not the parser's.
type Job struct {
	Number    int       // JB_job_number
	Name      string    // JB_name, unescaped where SGE escaped it (%lt; -> <)
	Owner     string    // JB_owner
	State     string    // raw letters from <state>
	Queue     string    // queue_name, e.g. "webgrid-lighttpd@host"; empty while pending
	Slots     int       // slots
	Tasks     string    // array job task range, empty for plain jobs
	Started   time.Time // JAT_start_time (running side), zero when absent
	Submitted time.Time // JB_submission_time (pending side), zero when absent
	Running   bool      // listed under queue_info (job_list state="running")
}

// timeLayout is how SGE 8.1.9 prints JAT_start_time and JB_submission_time:
// local wall-clock time of the qmaster host, without a zone.
const timeLayout = "2006-01-02T15:04:05"

// field is a job_list child that fills a Job field.
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
	numFields
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

// jobBuilder turns the raw text of one job_list's fields into a Job: it is
// where every rule about a job lives.
type jobBuilder struct {
	loc     *time.Location
	seq     int  // 1-based position of the job_list in the document
	line    int  // line of its start tag, for error messages
	running bool // its section
	raw     []byte
	value   [numFields][2]int // each field's trimmed text is raw[v[0]:v[1]]; empty when absent

	strs     stringArena
	interned map[string]string
	unescape []byte
}

const (
	// maxInterned bounds the map that shares repeated owners, states and
	// queue names, so a grid of distinct owners cannot grow it without end.
	maxInterned = 1 << 14
	// arenaBlock is the size of the blocks job strings are carved out of.
	arenaBlock = 32 << 10
)

func (b *jobBuilder) init(loc *time.Location) {
	b.loc = loc
	b.interned = make(map[string]string)
}

func (b *jobBuilder) begin(line int, running bool) {
	b.seq++
	b.line, b.running = line, running
	b.raw = b.raw[:0]
	b.value = [numFields][2]int{}
}

// set ends the text of field f that began at raw[from:]. Text that is
// empty once trimmed does not count: the field stays as it was.
func (b *jobBuilder) set(f field, from int) {
	v := b.raw[from:]
	trimmed := bytes.TrimSpace(v)
	if f == fieldNone || len(trimmed) == 0 {
		b.raw = b.raw[:from]
		return
	}
	at := from + cap(v) - cap(trimmed) // trimmed is a part of v
	b.value[f] = [2]int{at, at + len(trimmed)}
}

func (b *jobBuilder) text(f field) []byte { return b.raw[b.value[f][0]:b.value[f][1]] }

// build applies the job rules: number, name, owner and state are required,
// numbers are whole, times are timeLayout in the qmaster's zone.
func (b *jobBuilder) build() (Job, error) {
	v := b.text(fieldNumber)
	if len(v) == 0 {
		return Job{}, b.errorf(nil, "missing or empty <JB_job_number>")
	}
	n, ok := parseCount(v)
	if !ok {
		return Job{}, b.errorf(nil, "JB_job_number %q is not a whole number", clip(v))
	}
	j := Job{Number: n, Name: b.name(b.text(fieldName)), Running: b.running}
	for _, req := range [...]struct {
		f    field
		elem string
	}{{fieldName, "JB_name"}, {fieldOwner, "JB_owner"}, {fieldState, "state"}} {
		if len(b.text(req.f)) == 0 {
			return Job{}, b.errorf(&j, "missing or empty <%s>", req.elem)
		}
	}
	j.Owner, j.State, j.Queue = b.intern(b.text(fieldOwner)), b.intern(b.text(fieldState)), b.intern(b.text(fieldQueue))
	if v := b.text(fieldTasks); len(v) > 0 {
		j.Tasks = b.strs.make(v)
	}
	if v := b.text(fieldSlots); len(v) > 0 {
		if j.Slots, ok = parseCount(v); !ok {
			return Job{}, b.errorf(&j, "slots %q is not a whole number", clip(v))
		}
	}
	var err error
	if j.Started, err = b.time(fieldStarted, "JAT_start_time", &j); err != nil {
		return Job{}, err
	}
	if j.Submitted, err = b.time(fieldSubmitted, "JB_submission_time", &j); err != nil {
		return Job{}, err
	}
	return j, nil
}

func (b *jobBuilder) time(f field, elem string, j *Job) (time.Time, error) {
	v := b.text(f)
	if len(v) == 0 {
		return time.Time{}, nil
	}
	t, ok := parseLocalTime(v, b.loc)
	if !ok {
		return t, b.errorf(j, "%s %q is not a time like %s", elem, clip(v), timeLayout)
	}
	return t, nil
}

// name undoes SGE's home-made escaping of job names.
func (b *jobBuilder) name(v []byte) string {
	if bytes.IndexByte(v, '%') >= 0 {
		b.unescape = appendUnescapedName(b.unescape[:0], v)
		v = b.unescape
	}
	return b.strs.make(v)
}

// intern shares the strings that repeat across jobs (states, queues, the
// owners of many jobs), up to maxInterned distinct ones.
func (b *jobBuilder) intern(v []byte) string {
	if len(v) == 0 {
		return ""
	}
	if s, ok := b.interned[string(v)]; ok {
		return s
	}
	s := b.strs.make(v)
	if len(b.interned) < maxInterned {
		b.interned[s] = s
	}
	return s
}

// errorf names the job_list by position and start line, and by number and
// name when those were already read (j is nil before the number), so the
// job can be found in a capture.
func (b *jobBuilder) errorf(j *Job, format string, args ...any) error {
	who := fmt.Sprintf("job_list #%d at line %d", b.seq, b.line)
	switch {
	case j != nil && j.Name != "":
		who += fmt.Sprintf(" (job %d %q)", j.Number, j.Name)
	case j != nil:
		who += fmt.Sprintf(" (job %d)", j.Number)
	}
	return fmt.Errorf("qstat XML %s: "+format, append([]any{who}, args...)...)
}

// unescapeName undoes SGE's home-made escaping of job names, which writes
// "<" as "%lt;" (and likewise ">" and "&") instead of an XML entity.
func unescapeName(b []byte) string { return string(appendUnescapedName(nil, b)) }

func appendUnescapedName(dst, b []byte) []byte {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '%')
		if i < 0 {
			return append(dst, b...)
		}
		dst, b = append(dst, b[:i]...), b[i:]
		switch {
		case bytes.HasPrefix(b, []byte("%lt;")):
			dst, b = append(dst, '<'), b[4:]
		case bytes.HasPrefix(b, []byte("%gt;")):
			dst, b = append(dst, '>'), b[4:]
		case bytes.HasPrefix(b, []byte("%amp;")):
			dst, b = append(dst, '&'), b[5:]
		default:
			dst, b = append(dst, '%'), b[1:]
		}
	}
	return dst
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
		// A DST gap can move the hour but never the date, unless the gap
		// starts at midnight; the slow path judges that case too.
		if ty, tm, td := t.Date(); ty == y && int(tm) == mo && td == d {
			return t, true
		}
	}
	t, err := time.ParseInLocation(timeLayout, string(b), loc)
	return t, err == nil
}

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

// jobList fills chunk by chunk and is joined once at the end: growing one
// slice of 300,000 jobs by append moved and cleared it about five times
// over, a quarter of the parse.
type jobList struct {
	chunk []Job   // the chunk being filled
	full  [][]Job // chunks already filled
	n     int     // jobs in full
}

const jobChunk = 8 << 10 // jobs per chunk at most

func (l *jobList) init() { l.chunk = make([]Job, 0, 64) }

func (l *jobList) add(j Job) {
	if len(l.chunk) == cap(l.chunk) {
		l.full = append(l.full, l.chunk)
		l.n += len(l.chunk)
		l.chunk = make([]Job, 0, min(2*cap(l.chunk), jobChunk))
	}
	l.chunk = append(l.chunk, j)
}

// all is every job, non-nil even when there are none.
func (l *jobList) all() []Job {
	if len(l.full) == 0 {
		return l.chunk
	}
	all := make([]Job, 0, l.n+len(l.chunk))
	for i, c := range l.full {
		all = append(all, c...)
		l.full[i] = nil // the collector may take it back already
	}
	return append(all, l.chunk...)
}
