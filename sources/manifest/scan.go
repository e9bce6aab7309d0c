package manifest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"webservicemonitor/internal/accounts"
)

// FileName is the manifest's name inside a tool's home.
const FileName = "service.manifest"

// Scanner defaults, used when the corresponding field is zero.
const (
	DefaultMaxSize     = 64 << 10
	DefaultConcurrency = 32
	DefaultTimeout     = 30 * time.Second
)

// toolNamePattern keeps a tool name safe to use in account names, paths, job
// names and log lines.
var toolNamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// Scanner reads every tool's manifest under a homes root. It runs as root in
// homes its tools control, so it never follows a symlink, never opens a file
// in a way that could block (a FIFO), and trusts a file only when the tool's
// own account owns it.
type Scanner struct {
	Root        string            // homes root, e.g. /data/project
	Project     string            // tool account = <Project>.<tool>
	MinUID      int               // accounts below this uid are refused
	Accounts    accounts.Resolver // resolves <Project>.<tool>
	WebTypes    []string          // known web types; nil means DefaultWebTypes()
	MaxSize     int64             // largest manifest read; 0 means DefaultMaxSize
	Concurrency int               // homes checked at once; 0 means DefaultConcurrency
	Timeout     time.Duration     // for the whole scan; 0 means DefaultTimeout

	// parsed remembers each manifest's parse by file identity, so that a
	// daemon re-scanning thousands of unchanged files every minute only
	// stats them. Rebuilt on every scan: entries of vanished homes go.
	mu     sync.Mutex
	parsed map[string]parsedManifest
	fresh  map[string]parsedManifest
	// opened, when set, is called while a manifest is open (tests and
	// benchmarks inject NFS latency and count open files with it).
	opened func()
}

// parsedManifest is a cached parse, valid while the file's identity is
// unchanged. ctime is part of it because a tool can reset mtime with touch,
// but not ctime.
type parsedManifest struct {
	dev, ino     uint64
	size         int64
	mtime, ctime unix.Timespec
	fields       Fields
	err          error
}

func (s *Scanner) cachedParse(tool string, st *unix.Stat_t) (parsedManifest, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.parsed[tool]
	if !ok || p.dev != uint64(st.Dev) || p.ino != st.Ino || p.size != st.Size || p.mtime != st.Mtim || p.ctime != st.Ctim {
		return parsedManifest{}, false
	}
	s.fresh[tool] = p
	return p, true
}

func (s *Scanner) rememberParse(tool string, st *unix.Stat_t, f Fields, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fresh[tool] = parsedManifest{dev: uint64(st.Dev), ino: st.Ino, size: st.Size, mtime: st.Mtim, ctime: st.Ctim, fields: f, err: err}
}

// Scan checks every home under Root and returns the manifests that passed
// and the ones refused, both sorted by tool name. Homes without a manifest
// are not reported. The only error is failing to list Root (or a Scanner
// without Project or Accounts): one bad home never fails the scan.
//
// When the scan deadline passes, every home not yet checked is reported as
// Skipped with ReasonTimeout — including homes that may turn out to have no
// manifest — so the result is always complete: a tool is in exactly one
// list or known to have no manifest, never silently missing. A check stuck
// in a system call on a hung NFS server cannot be interrupted; its goroutine
// finishes (and closes its files) whenever the call returns, and at most
// Concurrency of them exist per scan.
func (s *Scanner) Scan(ctx context.Context) (Scan, error) {
	if s.Project == "" {
		return Scan{}, errors.New("scanning manifests: no project name configured")
	}
	if s.Accounts == nil {
		return Scan{}, errors.New("scanning manifests: no account resolver configured")
	}
	timeout := orDefault(s.Timeout, DefaultTimeout)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	names, err := s.listHomes(ctx)
	if err != nil {
		return Scan{}, err
	}
	s.mu.Lock()
	s.fresh = make(map[string]parsedManifest, len(s.parsed))
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.parsed, s.fresh = s.fresh, nil
		s.mu.Unlock()
	}()

	type outcome struct {
		i        int
		manifest *Manifest
		skipped  *Skipped
	}
	jobs := make(chan int, len(names))
	for i := range names {
		jobs <- i
	}
	close(jobs)
	// Buffered for every home, so workers still running after the deadline
	// never block on a send nobody receives.
	results := make(chan outcome, len(names))
	for range min(orDefault(s.Concurrency, DefaultConcurrency), len(names)) {
		go func() {
			for i := range jobs {
				if ctx.Err() != nil {
					results <- outcome{i: i, skipped: s.timedOut(names[i], timeout)}
					continue
				}
				m, sk := s.checkHome(ctx, names[i], timeout)
				results <- outcome{i: i, manifest: m, skipped: sk}
			}
		}()
	}

	var out Scan
	done := make([]bool, len(names))
	for remaining := len(names); remaining > 0; remaining-- {
		select {
		case r := <-results:
			done[r.i] = true
			if r.manifest != nil {
				out.Manifests = append(out.Manifests, *r.manifest)
			}
			if r.skipped != nil {
				out.Skipped = append(out.Skipped, *r.skipped)
			}
		case <-ctx.Done():
			for i, ok := range done {
				if !ok {
					out.Skipped = append(out.Skipped, *s.timedOut(names[i], timeout))
				}
			}
			remaining = 0
		}
	}
	slices.SortFunc(out.Manifests, func(a, b Manifest) int { return strings.Compare(a.Tool, b.Tool) })
	slices.SortFunc(out.Skipped, func(a, b Skipped) int { return strings.Compare(a.Tool, b.Tool) })
	return out, nil
}

// listHomes returns the names of the directories under Root, leaving out
// dot entries and anything that is not a directory (symlinks included).
func (s *Scanner) listHomes(ctx context.Context) ([]string, error) {
	type listing struct {
		entries []os.DirEntry
		err     error
	}
	// Listing a hung NFS directory cannot be interrupted; run it aside so
	// the deadline still holds.
	ch := make(chan listing, 1)
	go func() {
		entries, err := os.ReadDir(s.Root)
		ch <- listing{entries, err}
	}()
	var l listing
	select {
	case l = <-ch:
	case <-ctx.Done():
		return nil, fmt.Errorf("listing homes root %s: %w", s.Root, ctx.Err())
	}
	if l.err != nil {
		return nil, fmt.Errorf("listing homes root %s: %w", s.Root, l.err)
	}
	var names []string
	for _, e := range l.entries {
		if strings.HasPrefix(e.Name(), ".") || !e.IsDir() {
			continue
		}
		names = append(names, e.Name())
	}
	return names, nil
}

// checkHome looks for the manifest in one home and checks it. It returns
// (nil, nil) when the home has no manifest.
func (s *Scanner) checkHome(ctx context.Context, tool string, timeout time.Duration) (*Manifest, *Skipped) {
	home := filepath.Join(s.Root, tool)
	path := filepath.Join(home, FileName)
	skip := func(code, format string, args ...any) *Skipped {
		return &Skipped{Tool: tool, Home: home, Path: path, Code: code,
			Reason: displayPath(path) + ": " + fmt.Sprintf(format, args...)}
	}

	dirfd, err := openRetry(func() (int, error) {
		return unix.Open(home, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	})
	switch {
	case errors.Is(err, unix.ENOENT), errors.Is(err, unix.ELOOP), errors.Is(err, unix.ENOTDIR):
		// Removed or replaced by a non-directory since Root was listed:
		// not a home any more.
		return nil, nil
	case err != nil:
		return nil, skip(ReasonReadError, "the home %s could not be opened, so whether it has a manifest is unknown: %v", displayPath(home), err)
	}
	fd, openErr := openRetry(func() (int, error) {
		return unix.Openat(dirfd, FileName, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	})
	if errors.Is(openErr, unix.ENOENT) {
		unix.Close(dirfd)
		return nil, nil // no web service here; not our business
	}
	if openErr == nil {
		defer unix.Close(fd)
	}
	var homeStat unix.Stat_t
	homeStatErr := unix.Fstat(dirfd, &homeStat)
	unix.Close(dirfd)

	if !toolNamePattern.MatchString(tool) {
		return nil, skip(ReasonBadName, "tool name %q is not a safe name (1 to 64 lowercase letters, digits, '-', '_' or '.', not starting with '.')", tool)
	}

	accountName := s.Project + "." + tool
	acct, err := s.Accounts.Lookup(ctx, accountName)
	switch {
	case ctx.Err() != nil:
		return nil, s.timedOut(tool, timeout)
	case errors.Is(err, accounts.ErrUnknownAccount):
		return nil, skip(ReasonNoAccount, "the tool account %q does not exist", accountName)
	case err != nil:
		return nil, skip(ReasonLookupFailed, "looking up the tool account %q failed: %v", accountName, err)
	case acct.UID < s.MinUID:
		return nil, skip(ReasonLowUID, "the tool account %q has uid %d, below the lowest tool uid %d", accountName, acct.UID, s.MinUID)
	}
	// From here on a refusal can be told in the tool's service.log, as long
	// as the home is the tool's own.
	skip = func(code, format string, args ...any) *Skipped {
		sk := &Skipped{Tool: tool, Home: home, Path: path, Code: code,
			Reason: path + ": " + fmt.Sprintf(format, args...)}
		if homeStatErr == nil && int(homeStat.Uid) == acct.UID {
			sk.Account = &Owner{Name: accountName, UID: acct.UID, GID: acct.GID}
		}
		return sk
	}

	switch {
	case errors.Is(openErr, unix.ELOOP):
		return nil, skip(ReasonSymlink, "is a symbolic link; manifests are never followed")
	case errors.Is(openErr, unix.ENXIO):
		return nil, skip(ReasonNotRegular, "is a socket or device, not a regular file")
	case openErr != nil:
		return nil, skip(ReasonReadError, "opening failed: %v", openErr)
	}

	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, skip(ReasonReadError, "reading its file status failed: %v", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, skip(ReasonNotRegular, "is a %s, not a regular file", fileKind(st.Mode))
	}
	if int(st.Uid) != acct.UID {
		return nil, skip(ReasonWrongOwner, "is owned by uid %d, not by the tool account %q (uid %d)", st.Uid, accountName, acct.UID)
	}
	maxSize := orDefault(s.MaxSize, DefaultMaxSize)
	if st.Size > maxSize {
		return nil, skip(ReasonTooLarge, "is %d bytes, larger than the %d byte limit", st.Size, maxSize)
	}

	if s.opened != nil {
		s.opened()
	}
	var f Fields
	if p, ok := s.cachedParse(tool, &st); ok {
		f, err = p.fields, p.err
	} else {
		data, readErr := readAtMost(fd, min(st.Size, maxSize)+1)
		if ctx.Err() != nil {
			return nil, s.timedOut(tool, timeout)
		}
		if readErr != nil {
			return nil, skip(ReasonReadError, "reading failed: %v", readErr)
		}
		if int64(len(data)) > maxSize {
			return nil, skip(ReasonTooLarge, "grew beyond the %d byte limit while being read", maxSize)
		}
		f, err = Parse(path, data, s.WebTypes)
		s.rememberParse(tool, &st, f, err)
	}
	if err != nil {
		var pe *ParseError
		if !errors.As(err, &pe) {
			return nil, skip(ReasonInvalidYAML, "%v", err)
		}
		sk := skip(pe.Code, "")
		sk.Reason = pe.Reason
		return nil, sk
	}
	return &Manifest{
		Tool:         tool,
		Account:      accountName,
		UID:          acct.UID,
		GID:          acct.GID,
		Home:         home,
		Version:      f.Version,
		Web:          f.Web,
		Backend:      f.Backend,
		Release:      f.Release,
		Distribution: f.Distribution,
	}, nil
}

func (s *Scanner) timedOut(tool string, timeout time.Duration) *Skipped {
	home := filepath.Join(s.Root, tool)
	path := filepath.Join(home, FileName)
	return &Skipped{Tool: tool, Home: home, Path: path, Code: ReasonTimeout,
		Reason: fmt.Sprintf("%s: not checked before the manifest scan's deadline (%v) passed", displayPath(path), timeout)}
}

// readAtMost reads from fd until EOF or limit bytes.
func readAtMost(fd int, limit int64) ([]byte, error) {
	buf := make([]byte, limit)
	n := 0
	for n < len(buf) {
		m, err := unix.Read(fd, buf[n:])
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if m == 0 {
			break
		}
		n += m
	}
	return buf[:n], nil
}

// openRetry retries an open interrupted by a signal, as os.Open does.
func openRetry(open func() (int, error)) (int, error) {
	for {
		fd, err := open()
		if !errors.Is(err, unix.EINTR) {
			return fd, err
		}
	}
}

func fileKind(mode uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return "directory"
	case unix.S_IFIFO:
		return "FIFO"
	case unix.S_IFSOCK:
		return "socket"
	case unix.S_IFCHR:
		return "character device"
	case unix.S_IFBLK:
		return "block device"
	case unix.S_IFLNK:
		return "symbolic link"
	}
	return fmt.Sprintf("file of type %#o", mode&unix.S_IFMT)
}

// displayPath quotes a path that holds characters a log line should not
// carry raw (an unsafe tool name may contain control characters).
func displayPath(p string) string {
	if q := strconv.Quote(p); q[1:len(q)-1] != p || strings.ContainsRune(p, ' ') {
		return q
	}
	return p
}

// orDefault returns v, or def when v is zero or negative.
func orDefault[T int | int64 | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}
