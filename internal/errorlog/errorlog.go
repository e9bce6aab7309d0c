// Package errorlog reads the last lines of a tool's <home>/error.log, where
// its web server says why it would not start (e.g. "ember: cannot load
// config"), so that a restart that did not bring the tool up can quote the
// cause.
//
// It owns the safe read: the daemon runs as root inside homes that their
// tools control, so it never follows a symlink (the home's last component
// or the log), never blocks on a FIFO, reads only a file the tool owns, and
// reads only the log's last bytes, never the whole file. A read stuck on a
// hung NFS server is abandoned when the caller's context ends. It never
// writes, and never decides what the lines mean.
package errorlog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"webservicemonitor/internal/safeopen"
	"webservicemonitor/internal/sanitize"
)

// FileName is the log's name inside a tool's home.
const FileName = "error.log"

// MaxText caps the text Tail returns, in bytes: it goes into a not-up
// detail, a service.log line and an alert, and the tool writes it.
const MaxText = 600

// Separator joins the lines Tail returns into one.
const Separator = " | "

// maxInFlight bounds reads running at once: each one blocked on a hung
// NFS server holds an OS thread until the server answers.
const maxInFlight = 16

// Tailer reads the end of tools' error.log files within the caller's
// deadline. Safe for concurrent use.
type Tailer struct {
	maxBytes int64
	maxLines int
	slots    chan struct{}
}

// NewTailer returns a Tailer that reads at most maxBytes from the end of a
// log and keeps its last maxLines lines. Both must be positive: zero is
// refused, never read as a default.
func NewTailer(maxBytes int64, maxLines int) (*Tailer, error) {
	if maxBytes <= 0 || maxLines <= 0 {
		return nil, fmt.Errorf("reading %s: %d bytes and %d lines; both must be positive", FileName, maxBytes, maxLines)
	}
	return &Tailer{maxBytes: maxBytes, maxLines: maxLines, slots: make(chan struct{}, maxInFlight)}, nil
}

// Tail is Read with the Tailer's bounds, giving up when ctx ends. A read
// stuck in the kernel when ctx ends completes (or fails) in the
// background; its result is dropped.
func (t *Tailer) Tail(ctx context.Context, home string, uid int) (string, error) {
	path := filepath.Join(home, FileName)
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("reading %s: %w", path, err)
	}
	select {
	case t.slots <- struct{}{}:
	case <-ctx.Done():
		return "", fmt.Errorf("reading %s: %w", path, ctx.Err())
	}
	type result struct {
		text string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		defer func() { <-t.slots }()
		text, err := Read(home, uid, t.maxBytes, t.maxLines)
		done <- result{text, err}
	}()
	select {
	case r := <-done:
		return r.text, r.err
	case <-ctx.Done():
		return "", fmt.Errorf("reading %s: %w", path, ctx.Err())
	}
}

// Read returns the last maxLines non-blank lines among the last maxBytes
// of <home>/error.log, joined with Separator, sanitised to one line of at
// most MaxText bytes. A missing log is "" and no error: a tool need not
// have one. A home or log that is a symbolic link, a log that is not a
// regular file or not owned by uid, is refused with an error naming the
// path and why. Read blocks as long as the file system does; Tailer.Tail
// bounds it.
func Read(home string, uid int, maxBytes int64, maxLines int) (string, error) {
	path := filepath.Join(home, FileName)
	if maxBytes <= 0 || maxLines <= 0 {
		return "", fmt.Errorf("reading %s: %d bytes and %d lines; both must be positive", path, maxBytes, maxLines)
	}
	if uid < 0 {
		return "", fmt.Errorf("reading %s: invalid owner %d", path, uid)
	}
	dirfd, err := safeopen.OpenHome(home)
	if err != nil {
		if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) {
			return "", fmt.Errorf("reading %s: refusing, the home is not a directory (or is a symbolic link)", path)
		}
		return "", fmt.Errorf("reading %s: opening the home: %w", path, err)
	}
	defer unix.Close(dirfd)

	fd, size, err := openLog(dirfd, path, uid)
	if errors.Is(err, unix.ENOENT) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	defer unix.Close(fd)

	window, err := readEnd(fd, size, maxBytes)
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", path, err)
	}
	return lastLines(window, size > maxBytes, maxLines), nil
}

// openLog opens the log for reading and checks that it is the tool's own
// regular file, returning its size. It returns ENOENT (unwrapped) when there
// is no log.
func openLog(dirfd int, path string, uid int) (int, int64, error) {
	fd, err := safeopen.OpenAt(dirfd, FileName, unix.O_RDONLY, 0)
	switch {
	case errors.Is(err, unix.ENOENT):
		return -1, 0, unix.ENOENT
	case errors.Is(err, unix.ELOOP):
		return -1, 0, fmt.Errorf("reading %s: refusing, it is a symbolic link", path)
	case errors.Is(err, unix.ENXIO):
		return -1, 0, fmt.Errorf("reading %s: refusing, it is a socket", path)
	case err != nil:
		return -1, 0, fmt.Errorf("reading %s: %w", path, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, 0, fmt.Errorf("reading %s: %w", path, err)
	}
	var why string
	switch {
	case st.Mode&unix.S_IFMT != unix.S_IFREG:
		why = fmt.Sprintf("it is a %s, not a regular file", safeopen.FileKind(st.Mode))
	case int64(st.Uid) != int64(uid):
		why = fmt.Sprintf("it is owned by uid %d, not by the tool (uid %d)", st.Uid, uid)
	}
	if why != "" {
		unix.Close(fd)
		return -1, 0, fmt.Errorf("reading %s: refusing, %s", path, why)
	}
	return fd, st.Size, nil
}

// readEnd reads the last maxBytes of a file of the given size with pread,
// never more, even if the file grows meanwhile.
func readEnd(fd int, size, maxBytes int64) ([]byte, error) {
	start := max(size-maxBytes, 0)
	buf := make([]byte, size-start)
	n := 0
	for n < len(buf) {
		m, err := safeopen.RetryEINTR(func() (int, error) { return unix.Pread(fd, buf[n:], start+int64(n)) })
		if err != nil {
			return nil, err
		}
		if m == 0 { // truncated meanwhile
			break
		}
		n += m
	}
	return buf[:n], nil
}

// lastLines keeps the last maxLines lines of window that have something
// visible in them, as one sanitised line. When the window starts inside
// the file (cut), its first line is a fragment and is dropped, unless it
// is all there is.
func lastLines(window []byte, cut bool, maxLines int) string {
	if i := bytes.IndexByte(window, '\n'); cut && i >= 0 && i < len(window)-1 {
		window = window[i+1:]
	}
	var kept []string // newest first
	for rest := window; len(rest) > 0 && len(kept) < maxLines; {
		i := bytes.LastIndexByte(rest, '\n')
		if line := sanitize.Text(string(rest[i+1:]), MaxText); line != "" {
			kept = append(kept, line)
		}
		rest = rest[:max(i, 0)]
	}
	slices.Reverse(kept)
	return sanitize.Text(strings.Join(kept, Separator), MaxText)
}
