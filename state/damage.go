package state

// A damaged state file. bbolt trusts its file: a page of random bytes makes
// it panic, a file shorter than its meta page says makes its mapped reads
// fault (SIGBUS), and a bad newest meta page makes it fall back to the other
// one, silently rolling the history back a transaction. Each of these is
// turned here into an error naming the file, so that no mode crashes and an
// acting cycle restarts nothing on a history it cannot trust.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	bolt "go.etcd.io/bbolt"
)

// ErrDamaged matches (errors.Is) the error for a state file that is not
// consistent: truncated, overwritten, or with an invalid meta page.
var ErrDamaged = errors.New("state file is damaged")

// resetAdvice is what every unusable-history error tells the admin to do.
const resetAdvice = "nothing is restarted until an admin sets it aside with webservicemonitor --reset-history (the file is renamed, never deleted)"

// damagedError names the damaged file and what is wrong with it.
type damagedError struct {
	path   string
	detail string
}

func (e *damagedError) Error() string {
	return fmt.Sprintf("state file %s is damaged: %s; %s", e.path, e.detail, resetAdvice)
}

func (e *damagedError) Is(target error) bool { return target == ErrDamaged }

// The parts of bbolt's on-disk format (go.etcd.io/bbolt/internal/common)
// that the meta check reads. They are fixed by the file format, version 2.
const (
	boltMagic        = 0xED0CDAED
	boltVersion      = 2
	pageHeaderSize   = 16 // id u64, flags u16, count u16, overflow u32
	metaPageFlag     = 0x04
	freelistPageFlag = 0x10
	noFreelist       = ^uint64(0) // a NoFreelistSync writer's freelist pgid
	// Offsets inside the meta struct, which follows the page header.
	metaPageSize = 8
	metaFreelist = 32
	metaPgid     = 40
	metaTxid     = 48
	metaChecksum = 56 // the FNV-64a of everything before it
	metaSize     = 64
)

// metaPage is what one of the file's two meta pages says.
type metaPage struct {
	pageSize uint32
	freelist uint64
	pgid     uint64 // the high-water mark: pages [0, pgid) are in use
	txid     uint64
	err      error // why it is invalid; nil when valid
}

// readMeta decodes the meta page at off, validating it as bbolt does.
func readMeta(f io.ReaderAt, off int64) metaPage {
	buf := make([]byte, pageHeaderSize+metaSize)
	if _, err := f.ReadAt(buf, off); err != nil {
		return metaPage{err: fmt.Errorf("cannot be read: %w", err)}
	}
	hdr, m := buf[:pageHeaderSize], buf[pageHeaderSize:]
	le := binary.NativeEndian
	meta := metaPage{
		pageSize: le.Uint32(m[metaPageSize:]),
		freelist: le.Uint64(m[metaFreelist:]),
		pgid:     le.Uint64(m[metaPgid:]),
		txid:     le.Uint64(m[metaTxid:]),
	}
	h := fnv.New64a()
	h.Write(m[:metaChecksum])
	switch {
	case le.Uint16(hdr[8:]) != metaPageFlag:
		meta.err = errors.New("is not a meta page")
	case le.Uint32(m) != boltMagic:
		meta.err = errors.New("has no bbolt magic number")
	case le.Uint32(m[4:]) != boltVersion:
		meta.err = fmt.Errorf("has format version %d, not %d", le.Uint32(m[4:]), boltVersion)
	case le.Uint64(m[metaChecksum:]) != h.Sum64():
		meta.err = errors.New("fails its checksum")
	case meta.pageSize < pageHeaderSize+metaSize:
		meta.err = fmt.Errorf("gives a page size of %d bytes", meta.pageSize)
	}
	return meta
}

// checkMetaPages is the cheap consistency check every Open makes before
// bbolt maps the file: both meta pages valid, the freelist page where they
// say, and the file at least as long as its pages in use. It reads a few
// hundred bytes, whatever the file's size.
func checkMetaPages(path string, deadline time.Time) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("checking state file %s: %w", path, err)
	}
	defer f.Close()
	// Under a shared lock, so that a writer's commit is never seen half
	// written; released before bbolt takes its own on another descriptor.
	if err := sharedLock(f, path, deadline); err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("checking state file %s: %w", path, err)
	}
	m0 := readMeta(f, 0)
	pageSize := int64(os.Getpagesize()) // bbolt's guess when meta page 0 is bad
	if m0.err == nil {
		pageSize = int64(m0.pageSize)
	}
	m1 := readMeta(f, pageSize)
	if err := bothMetasValid(m0, m1); err != nil {
		return &damagedError{path: path, detail: err.Error()}
	}
	newest := m0
	if m1.txid > m0.txid {
		newest = m1
	}
	if used := int64(newest.pgid) * pageSize; fi.Size() < used {
		return &damagedError{path: path, detail: fmt.Sprintf(
			"it is %d bytes long but its meta page says %d pages of %d bytes (%d bytes) are in use: it was truncated",
			fi.Size(), newest.pgid, pageSize, used)}
	}
	if err := checkFreelistPage(f, newest, pageSize); err != nil {
		return &damagedError{path: path, detail: err.Error()}
	}
	return nil
}

// bothMetasValid fails when either meta page is invalid: bbolt would use
// the other one, quietly losing the newest transaction.
func bothMetasValid(m0, m1 metaPage) error {
	switch {
	case m0.err != nil && m1.err != nil:
		return fmt.Errorf("both meta pages are invalid (page 0 %v, page 1 %v): it is not a usable bbolt file", m0.err, m1.err)
	case m0.err != nil:
		return fmt.Errorf("meta page 0 %v; bbolt would silently roll the history back to transaction %d of meta page 1", m0.err, m1.txid)
	case m1.err != nil:
		return fmt.Errorf("meta page 1 %v; bbolt would silently roll the history back to transaction %d of meta page 0", m1.err, m0.txid)
	}
	return nil
}

// checkFreelistPage checks that the page the meta page names as the
// freelist is one: bbolt reads it at open, trusting its header.
func checkFreelistPage(f io.ReaderAt, m metaPage, pageSize int64) error {
	if m.freelist == noFreelist {
		return nil
	}
	if m.freelist >= m.pgid {
		return fmt.Errorf("its freelist page %d is beyond its last page %d", m.freelist, m.pgid-1)
	}
	hdr := make([]byte, pageHeaderSize)
	if _, err := f.ReadAt(hdr, int64(m.freelist)*pageSize); err != nil {
		return fmt.Errorf("its freelist page %d cannot be read: %w", m.freelist, err)
	}
	le := binary.NativeEndian
	if le.Uint64(hdr) != m.freelist || le.Uint16(hdr[8:]) != freelistPageFlag {
		return fmt.Errorf("its freelist page %d has been overwritten", m.freelist)
	}
	return nil
}

// guard runs f, which reads the mapped file, turning bbolt's panics on a
// damaged page and the fault of a read past the end of a file truncated
// while open into an error naming the file. SetPanicOnFault is per
// goroutine, and bbolt reads the map in the caller's.
func guard(path string, f func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = &damagedError{path: path, detail: fmt.Sprintf("reading it failed (%v)", r)}
		}
	}()
	return f()
}

// Check runs bbolt's own consistency check over the whole file (every page
// reachable once, none both free and in use), after the cheap meta check of
// Open. It reads the whole file: --check-config and the daemon's start run
// it, not every cycle.
func (s *Store) Check() error {
	var problems []string
	err := s.view(func(tx *bolt.Tx) error {
		for e := range tx.Check() {
			problems = append(problems, e.Error())
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(problems) > 0 {
		const shown = 3
		more := ""
		if len(problems) > shown {
			more = fmt.Sprintf(" and %d more", len(problems)-shown)
			problems = problems[:shown]
		}
		return &damagedError{path: s.path, detail: "bbolt's check found " + strings.Join(problems, "; ") + more}
	}
	return nil
}

// view and update are bbolt's, guarded against a damaged file. A file
// shorter than the pages in use is refused before bbolt starts the
// transaction: a fault there, with bbolt's locks held, would leave the
// handle unusable (even for Close).
func (s *Store) view(f func(*bolt.Tx) error) error {
	if err := s.checkLength(); err != nil {
		return err
	}
	return s.guarded(func() error { return s.db.View(f) })
}

func (s *Store) update(f func(*bolt.Tx) error) error {
	if err := s.checkLength(); err != nil {
		return err
	}
	return s.guarded(func() error {
		return s.db.Update(func(tx *bolt.Tx) error {
			if err := f(tx); err != nil {
				return err
			}
			s.inUse = max(s.inUse, tx.Size())
			return nil
		})
	})
}

// guarded is guard, remembering a fault so that Close does not wait for
// locks the faulting transaction may have kept.
func (s *Store) guarded(f func() error) error {
	err := guard(s.path, f)
	if errors.Is(err, ErrDamaged) {
		s.faulted = true
	}
	return err
}

// checkLength fails when the file is now shorter than the bytes its pages
// in use take: it was truncated while open.
func (s *Store) checkLength() error {
	fi, err := os.Stat(s.path)
	if err != nil || fi.Size() >= s.inUse {
		return nil // gone from its directory: the open handle still maps it whole
	}
	return &damagedError{path: s.path, detail: fmt.Sprintf(
		"it was truncated while open, to %d bytes, below the %d bytes of its pages in use", fi.Size(), s.inUse)}
}

// closeFaulted closes a handle whose transaction faulted, without waiting
// for ever: bbolt may have kept a lock, and then the handle (and its file
// lock) stays with this process.
func (s *Store) closeFaulted() error {
	done := make(chan error, 1)
	go func() { done <- s.db.Close() }()
	select {
	case err := <-done:
		return err
	case <-time.After(faultedCloseWait):
		return &damagedError{path: s.path, detail: "its handle could not be closed after a failed read; this process keeps it"}
	}
}

// faultedCloseWait bounds the wait to close a handle that faulted.
const faultedCloseWait = time.Second

// sharedLock takes a shared flock on f, trying until deadline and at least
// once; it ends when f is closed.
func sharedLock(f *os.File, path string, deadline time.Time) error {
	wait := max(time.Until(deadline), 0)
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB)
		switch {
		case err == nil:
			return nil
		case !errors.Is(err, unix.EWOULDBLOCK):
			return fmt.Errorf("locking state file %s: %w", path, err)
		case !time.Now().Before(deadline):
			return &lockedError{what: "state file", path: path, pids: lockHolders(path), waited: wait}
		}
		time.Sleep(min(bboltLockRetry, time.Until(deadline)))
	}
}
