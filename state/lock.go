package state

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ErrLocked matches (errors.Is) the error for a file whose lock another
// process (or another handle in this one) holds.
var ErrLocked = errors.New("locked by another process")

// procLocks is where Linux lists every file lock with its holder's PID.
const procLocks = "/proc/locks"

// Fields of a /proc/locks line (see parseLockHolders).
const (
	locksFieldWaiter = 1 // "->" on a waiter's line
	locksFieldPID    = 4
	locksFieldDevIno = 5
	locksFields      = 6 // at least, on a holder's line
)

// maxPIDFile bounds what is read from a daemon lock file: a PID and a newline.
const maxPIDFile = 32

// lockedError names the locked file and, when found, who holds it.
type lockedError struct {
	what   string // "state file", "daemon lock"
	path   string
	pids   []int
	waited time.Duration // zero for a non-blocking attempt
}

func (e *lockedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s is locked by ", e.what, e.path)
	switch len(e.pids) {
	case 0:
		b.WriteString("another process (PID unknown)")
	case 1:
		fmt.Fprintf(&b, "PID %d", e.pids[0])
	default:
		strs := make([]string, len(e.pids))
		for i, p := range e.pids {
			strs[i] = strconv.Itoa(p)
		}
		fmt.Fprintf(&b, "PIDs %s", strings.Join(strs, ", "))
	}
	if slices.Contains(e.pids, os.Getpid()) {
		b.WriteString(" (this process)")
	}
	if e.waited > 0 {
		fmt.Fprintf(&b, ", gave up after %s", e.waited)
	}
	return b.String()
}

func (e *lockedError) Is(target error) bool { return target == ErrLocked }

// lockHolders returns the PIDs that /proc/locks says hold a lock on path,
// or nil when that cannot be told (no /proc, file gone, PID namespaces).
func lockHolders(path string) []int {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return nil
	}
	f, err := os.Open(procLocks)
	if err != nil {
		return nil
	}
	defer f.Close()
	return parseLockHolders(f, unix.Major(st.Dev), unix.Minor(st.Dev), st.Ino)
}

// parseLockHolders reads the /proc/locks format,
//
//	1: FLOCK  ADVISORY  WRITE 12345 fd:01:1234567 0 EOF
//	1: -> FLOCK  ADVISORY  WRITE 12346 fd:01:1234567 0 EOF
//
// (device major:minor in hex, inode in decimal; "->" marks a waiter, not a
// holder) and returns the sorted, distinct positive PIDs holding a lock on
// the given inode.
func parseLockHolders(r io.Reader, major, minor uint32, ino uint64) []int {
	var pids []int
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < locksFields || fields[locksFieldWaiter] == "->" {
			continue
		}
		pid, err := strconv.Atoi(fields[locksFieldPID])
		if err != nil || pid <= 0 { // OFD locks show -1: no owning process
			continue
		}
		devIno := strings.Split(fields[locksFieldDevIno], ":")
		if len(devIno) != 3 {
			continue
		}
		maj, err1 := strconv.ParseUint(devIno[0], 16, 32)
		mnr, err2 := strconv.ParseUint(devIno[1], 16, 32)
		in, err3 := strconv.ParseUint(devIno[2], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil {
			continue
		}
		if uint32(maj) == major && uint32(mnr) == minor && in == ino && !slices.Contains(pids, pid) {
			pids = append(pids, pid)
		}
	}
	slices.Sort(pids)
	return pids
}

// AcquireDaemonLock makes this process the only supervisor daemon using
// path (e.g. the state file's path + ".lock"): it takes a non-blocking
// exclusive flock and writes its PID into the file. If another process holds
// it, the error matches ErrLocked and names that PID. The lock ends when
// release is called or the process dies, whichever comes first; the file is
// left in place (removing it would let two daemons lock two different inodes).
// The descriptor is close-on-exec, so restart commands do not inherit it.
func AcquireDaemonLock(path string) (release func() error, err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, fileMode)
	if err != nil {
		return nil, fmt.Errorf("opening daemon lock %s: %w", path, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, &lockedError{what: "daemon lock", path: path, pids: daemonLockHolder(f, path)}
		}
		return nil, fmt.Errorf("locking daemon lock %s: %w", path, err)
	}
	pid := []byte(strconv.Itoa(os.Getpid()) + "\n")
	if err := f.Truncate(0); err != nil {
		f.Close()
		return nil, fmt.Errorf("writing PID to daemon lock %s: %w", path, err)
	}
	if _, err := f.WriteAt(pid, 0); err != nil {
		f.Close()
		return nil, fmt.Errorf("writing PID to daemon lock %s: %w", path, err)
	}
	var once sync.Once
	release = func() error {
		var err error
		once.Do(func() {
			// Emptied while still held, so a stale PID is never reported.
			truncErr := f.Truncate(0)
			closeErr := f.Close()
			if err = errors.Join(truncErr, closeErr); err != nil {
				err = fmt.Errorf("releasing daemon lock %s: %w", path, err)
			}
		})
		return err
	}
	return release, nil
}

// daemonLockHolder reads the holder's PID from the lock file, falling back to
// /proc/locks when the holder has not written it yet.
func daemonLockHolder(f *os.File, path string) []int {
	buf := make([]byte, maxPIDFile)
	n, _ := f.ReadAt(buf, 0)
	if pid, err := strconv.Atoi(strings.TrimSpace(string(buf[:n]))); err == nil && pid > 0 {
		return []int{pid}
	}
	return lockHolders(path)
}
