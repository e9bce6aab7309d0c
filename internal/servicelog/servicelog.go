// Package servicelog tells a tool what the supervisor did or refused on its
// behalf, one timestamped line at a time, in <home>/service.log.
//
// It owns the safe append: the daemon runs as root inside homes that their
// tools control, so it never follows a symlink, never writes through a hard
// link or into a file the tool does not own, never blocks on a FIFO, and
// never switches the process's user id. It never decides what to say; the
// caller composes the line.
package servicelog

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/sys/unix"

	"webservicemonitor/internal/safeopen"
)

// FileName is the log's name inside a tool's home.
const FileName = "service.log"

// MaxLine bounds one written line, timestamp and newline included, so a
// long reason cannot fill a tool's quota.
const MaxLine = 1024

// maxInFlight bounds appends running at once: each one blocked on a hung
// NFS server holds an OS thread until the server answers.
const maxInFlight = 16

// logMode is a new log's mode: the tool reads its log whatever the daemon's
// umask is, and only the tool (its owner) writes to it.
const logMode = 0o644

// noOwner is the id that fchown(2) reads as "leave this id alone" (-1 as an
// unsigned 32-bit id): never a tool's, and never to be passed on.
const noOwner = 1<<32 - 1

// Writer appends lines to tools' service.log files with its own clock and
// deadlines. Safe for concurrent use.
type Writer struct {
	now   func() time.Time
	slots chan struct{}
}

// NewWriter returns a Writer that stamps lines with now().
func NewWriter(now func() time.Time) *Writer {
	return &Writer{now: now, slots: make(chan struct{}, maxInFlight)}
}

// Append writes line to <home>/service.log as Append does, giving up when
// ctx ends. A write that is stuck in the kernel when ctx ends completes (or
// fails) in the background; its result is dropped.
func (w *Writer) Append(ctx context.Context, home string, uid, gid int, line string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("appending to %s: %w", filepath.Join(home, FileName), err)
	}
	select {
	case w.slots <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("appending to %s: %w", filepath.Join(home, FileName), ctx.Err())
	}
	now := w.now()
	done := make(chan error, 1)
	go func() {
		defer func() { <-w.slots }()
		done <- Append(home, uid, gid, line, now)
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("appending to %s: %w", filepath.Join(home, FileName), ctx.Err())
	}
}

// Append writes one line, "<RFC 3339 UTC time> webservicemonitor: <line>",
// to <home>/service.log in a single write. Control characters in line
// (newlines included) become spaces, so a tool name or reason cannot forge
// extra lines, and the line is cut to MaxLine bytes.
//
// A missing log is created with mode 0644 and owned by uid:gid. An existing
// one is used only when it is a regular file owned by uid with a single
// link; anything else (symlink, hard link, FIFO, directory, someone else's
// file) is refused with an error naming the path and why, and left as it is.
func Append(home string, uid, gid int, line string, now time.Time) error {
	path := filepath.Join(home, FileName)
	if uid < 0 || gid < 0 || uid >= noOwner || gid >= noOwner {
		// -1 would mean "leave the owner alone": a root-owned file.
		return fmt.Errorf("appending to %s: invalid owner %d:%d", path, uid, gid)
	}
	dirfd, err := safeopen.OpenHome(home)
	if err != nil {
		if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) {
			return fmt.Errorf("appending to %s: refusing, the home is not a directory (or is a symbolic link)", path)
		}
		return fmt.Errorf("appending to %s: opening the home: %w", path, err)
	}
	defer unix.Close(dirfd)

	fd, err := openExisting(dirfd, path, uid)
	if errors.Is(err, unix.ENOENT) {
		fd, err = create(dirfd, path, uid, gid)
		if errors.Is(err, unix.EEXIST) {
			// Created by someone else between our two opens: judge theirs.
			fd, err = openExisting(dirfd, path, uid)
		}
	}
	if err != nil {
		return err
	}
	defer unix.Close(fd)

	record := []byte(Format(line, now))
	n, err := safeopen.RetryEINTR(func() (int, error) { return unix.Write(fd, record) })
	if err != nil {
		return fmt.Errorf("appending to %s: %w", path, err)
	}
	if n != len(record) {
		return fmt.Errorf("appending to %s: short write (%d of %d bytes)", path, n, len(record))
	}
	return nil
}

// openExisting opens an existing log for appending and checks that it is
// safe to write to. It returns ENOENT (wrapped) when there is no log.
func openExisting(dirfd int, path string, uid int) (int, error) {
	fd, err := safeopen.OpenAt(dirfd, FileName, unix.O_WRONLY|unix.O_APPEND, 0)
	switch {
	case errors.Is(err, unix.ENOENT):
		return -1, fmt.Errorf("appending to %s: %w", path, err)
	case errors.Is(err, unix.ELOOP):
		return -1, fmt.Errorf("appending to %s: refusing, it is a symbolic link", path)
	case errors.Is(err, unix.EISDIR):
		return -1, fmt.Errorf("appending to %s: refusing, it is a directory", path)
	case errors.Is(err, unix.ENXIO):
		// What opening a FIFO without a reader, or a socket, for writing
		// without blocking gives.
		return -1, fmt.Errorf("appending to %s: refusing, it is a FIFO or socket", path)
	case err != nil:
		return -1, fmt.Errorf("appending to %s: %w", path, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("appending to %s: %w", path, err)
	}
	var why string
	switch {
	case st.Mode&unix.S_IFMT != unix.S_IFREG:
		why = fmt.Sprintf("it is a %s, not a regular file", safeopen.FileKind(st.Mode))
	case int(st.Uid) != uid:
		why = fmt.Sprintf("it is owned by uid %d, not by the tool (uid %d)", st.Uid, uid)
	case st.Nlink != 1:
		why = fmt.Sprintf("it has %d hard links", st.Nlink)
	}
	if why != "" {
		unix.Close(fd)
		return -1, fmt.Errorf("appending to %s: refusing, %s", path, why)
	}
	return fd, nil
}

// create makes a new log owned by uid:gid. A log that cannot be given to
// the tool is removed again rather than left behind owned by root.
func create(dirfd int, path string, uid, gid int) (int, error) {
	fd, err := safeopen.OpenAt(dirfd, FileName, unix.O_WRONLY|unix.O_APPEND|unix.O_CREAT|unix.O_EXCL, logMode)
	if err != nil {
		return -1, fmt.Errorf("creating %s: %w", path, err)
	}
	fail := func(err error) (int, error) {
		unix.Close(fd)
		_ = unix.Unlinkat(dirfd, FileName, 0)
		return -1, err
	}
	// The umask may have narrowed the mode; the tool must be able to read
	// its log whatever the daemon's umask is.
	if err := unix.Fchmod(fd, logMode); err != nil {
		return fail(fmt.Errorf("creating %s: setting mode: %w", path, err))
	}
	if err := unix.Fchown(fd, uid, gid); err != nil {
		// Running unprivileged (tests, demos) for a tool that is us: the
		// file already has the right owner.
		var st unix.Stat_t
		if !errors.Is(err, unix.EPERM) || os.Geteuid() == 0 || unix.Fstat(fd, &st) != nil || int(st.Uid) != uid {
			return fail(fmt.Errorf("creating %s: giving it to %d:%d: %w", path, uid, gid, err))
		}
	}
	return fd, nil
}

// Format renders one log line: timestamp, program name, the sanitised
// message and a newline, at most MaxLine bytes in all. Control characters,
// line and paragraph separators and bidi overrides become spaces (so a line
// reads in a terminal as it was written); invalid UTF-8 becomes U+FFFD.
func Format(line string, now time.Time) string {
	prefix := now.UTC().Format(time.RFC3339) + " webservicemonitor: "
	msg := strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.In(r, unicode.Zl, unicode.Zp, unicode.Bidi_Control) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(line, "\uFFFD"))
	if budget := MaxLine - len(prefix) - 1; len(msg) > budget {
		const cut = " [...]"
		n := budget - len(cut)
		for n > 0 && !utf8.RuneStart(msg[n]) {
			n--
		}
		msg = msg[:n] + cut
	}
	return prefix + msg + "\n"
}
