package qstat

import (
	"bytes"
	"io"
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
// Parse reads the document with a scanner that keeps one token and the
// current job in progress, so its memory is the result plus a 64 KiB window,
// however large the grid (see fastparse.go).
func Parse(r io.Reader, loc *time.Location) ([]Job, error) {
	return newParser(r, loc, windowSize, lookahead).run()
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
	return string(appendUnescapedName(nil, b))
}

// appendUnescapedName appends the unescaped name b to dst.
func appendUnescapedName(dst, b []byte) []byte {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '%')
		if i < 0 {
			return append(dst, b...)
		}
		dst = append(dst, b[:i]...)
		b = b[i:]
		switch {
		case bytes.HasPrefix(b, []byte("%lt;")):
			dst = append(dst, '<')
			b = b[4:]
		case bytes.HasPrefix(b, []byte("%gt;")):
			dst = append(dst, '>')
			b = b[4:]
		case bytes.HasPrefix(b, []byte("%amp;")):
			dst = append(dst, '&')
			b = b[5:]
		default:
			dst = append(dst, '%')
			b = b[1:]
		}
	}
	return dst
}
