package manifest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"webservicemonitor/internal/accounts"
	"webservicemonitor/internal/safeopen"
	"webservicemonitor/internal/toolname"
)

// FileName is the manifest's name inside a tool's home.
const FileName = "service.manifest"

// MaxSize is the largest manifest read, in bytes. webservice writes a few
// hundred; anything near this is not a manifest, and a tool must not make
// the root daemon read gigabytes.
const MaxSize = 64 << 10

// SafeToolName reports whether name is a tool name safe to use in account
// names, paths, job names and command lines, and to show as it is.
func SafeToolName(name string) bool { return toolname.Safe(name) }

// Scanner reads every tool's manifest under a homes root. It runs as root in
// homes its tools control, so it never follows a symlink, never opens a file
// in a way that could block (a FIFO), and trusts a file only when the tool's
// own account owns it.
//
// Its settings have no defaults here (the daemon's configuration holds
// them): an empty WebTypes or Releases, a DefaultRelease that is not one of
// Releases, or a zero Concurrency or Timeout, is refused. They must not
// change while a scan runs; the parse cache holds parses only, never their
// judgement against these settings, so it is right whatever they are.
type Scanner struct {
	Root        string            // homes root, e.g. /data/project
	Project     string            // tool account = <Project>.<tool>
	MinUID      int               // accounts below this uid are refused
	Accounts    accounts.Resolver // resolves <Project>.<tool>
	WebTypes    []string          // known web types
	Concurrency int               // homes checked at once
	Timeout     time.Duration     // for the whole scan

	// Releases are the releases the grid offers: a gridengine manifest
	// asking for a web service on any other is Skipped with
	// ReasonReleaseNotOffered, since webservice would refuse it.
	Releases []string
	// DefaultRelease is the release of a gridengine manifest without one;
	// it must be one of Releases.
	DefaultRelease string

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
// are not reported; a hidden directory or a symbolic link under Root that
// holds one is reported as Skipped (never read), so that every manifest is
// accounted for. The only error is failing to list Root (or a Scanner
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
	if err := s.check(); err != nil {
		return Scan{}, fmt.Errorf("scanning manifests: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.Timeout)
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

	out := s.checkHomes(ctx, names)
	slices.SortFunc(out.Manifests, func(a, b Manifest) int { return strings.Compare(a.Tool, b.Tool) })
	slices.SortFunc(out.Skipped, func(a, b Skipped) int { return strings.Compare(a.Tool, b.Tool) })
	return out, nil
}

// check refuses a Scanner that is missing a part or a setting: without web
// types or releases every manifest would be refused, a default release the
// grid does not offer would refuse every manifest without one, and a zero
// deadline or worker count would report every home as timed out.
func (s *Scanner) check() error {
	switch {
	case s.Project == "":
		return errors.New("no project name configured")
	case s.Accounts == nil:
		return errors.New("no account resolver configured")
	case len(s.WebTypes) == 0:
		return errors.New("no web types configured (WebTypes)")
	case s.Timeout <= 0:
		return fmt.Errorf("the scan's deadline (Timeout) must be greater than 0, got %s", s.Timeout)
	case s.Concurrency <= 0:
		return fmt.Errorf("the homes checked at once (Concurrency) must be greater than 0, got %d", s.Concurrency)
	}
	return s.checkReleases()
}

// checkReleases refuses release settings a manifest could not be judged
// by. A release that is no release name is refused here too, so that the
// release of a manifest the scan passes is always safe on a command line,
// whether the tool or the configuration named it.
func (s *Scanner) checkReleases() error {
	if len(s.Releases) == 0 {
		return errors.New("no releases configured (Releases)")
	}
	for _, r := range s.Releases {
		if !SafeReleaseName(r) {
			return fmt.Errorf("the offered release %q (Releases) is not a release name (a lowercase letter, then 1 to 31 lowercase letters or digits)", r)
		}
	}
	if !slices.Contains(s.Releases, s.DefaultRelease) {
		return fmt.Errorf("the default release %q (DefaultRelease) is not one of the offered releases (Releases: %s)", s.DefaultRelease, strings.Join(s.Releases, ", "))
	}
	return nil
}

// checkHomes checks the named homes, Concurrency at a time, until ctx's
// deadline; the homes not checked by then are reported as timed out.
func (s *Scanner) checkHomes(ctx context.Context, names []string) Scan {
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
	for range min(s.Concurrency, len(names)) {
		go func() {
			for i := range jobs {
				if ctx.Err() != nil {
					results <- outcome{i: i, skipped: s.timedOut(names[i])}
					continue
				}
				m, sk := s.checkHome(ctx, names[i])
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
					out.Skipped = append(out.Skipped, *s.timedOut(names[i]))
				}
			}
			remaining = 0
		}
	}
	return out
}

// listHomes returns the names of the directories and symbolic links under
// Root — hidden ones (a name starting with '.') included, so that a
// manifest in one is accounted for — leaving out plain files and the like,
// which are no homes.
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
		if e.IsDir() || e.Type()&os.ModeSymlink != 0 {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

// checkHome looks for the manifest in one home and checks it. It returns
// (nil, nil) when the home has no manifest.
func (s *Scanner) checkHome(ctx context.Context, tool string) (*Manifest, *Skipped) {
	home := filepath.Join(s.Root, tool)
	path := filepath.Join(home, FileName)
	skip := func(code, format string, args ...any) *Skipped {
		return &Skipped{Tool: tool, Home: home, Path: path, Code: code,
			Reason: displayPath(path) + ": " + fmt.Sprintf(format, args...)}
	}

	dirfd, err := safeopen.OpenHome(home)
	switch {
	case errors.Is(err, unix.ENOENT):
		return nil, nil // removed since Root was listed
	case errors.Is(err, unix.ELOOP), errors.Is(err, unix.ENOTDIR):
		return nil, linkedHome(tool, home, path)
	case err != nil:
		return nil, skip(ReasonReadError, "the home %s could not be opened, so whether it has a manifest is unknown: %v", displayPath(home), err)
	}
	fd, openErr := safeopen.OpenAt(dirfd, FileName, unix.O_RDONLY, 0)
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

	if strings.HasPrefix(tool, ".") {
		return nil, skip(ReasonBadName, "the directory %s is hidden (its name starts with '.'), so it is no tool's home and its manifest is not read", displayPath(home))
	}
	if !toolname.Safe(tool) {
		return nil, skip(ReasonBadName, "tool name %q is not a safe name (1 to 64 lowercase letters, digits, '-', '_' or '.', not starting with '.')", tool)
	}

	accountName := s.Project + "." + tool
	acct, err := s.Accounts.Lookup(ctx, accountName)
	switch {
	case ctx.Err() != nil:
		return nil, s.timedOut(tool)
	case errors.Is(err, accounts.ErrUnknownAccount):
		return nil, skip(ReasonNoAccount, "the tool account %q does not exist", accountName)
	case err != nil:
		return nil, skip(ReasonLookupFailed, "looking up the tool account %q failed: %v", accountName, err)
	case acct.UID < s.MinUID:
		return nil, skip(ReasonLowUID, "the tool account %q has uid %d, below the lowest tool uid %d", accountName, acct.UID, s.MinUID)
	}
	m := &toolManifest{tool: tool, home: home, path: path, account: accountName, uid: acct.UID, gid: acct.GID,
		ownsHome: homeStatErr == nil && int(homeStat.Uid) == acct.UID}
	if openErr != nil {
		return nil, m.openRefusal(openErr)
	}
	return s.checkManifest(ctx, m, fd)
}

// linkedHome accounts for a home that is a symbolic link, when it holds a
// manifest or points at one: the link is never followed to read it, but the
// tool it may stand for is reported rather than silently left out. Nothing
// is opened: the manifest's presence is all that is looked at. A home
// replaced by a file since Root was listed, or a link to a directory
// without a manifest (or to nothing), is no home with a manifest: nil.
func linkedHome(tool, home, path string) *Skipped {
	target, err := os.Readlink(home)
	if err != nil {
		return nil // not a symbolic link: replaced by a file since Root was listed
	}
	var st unix.Stat_t
	holds := unix.Fstatat(unix.AT_FDCWD, path, &st, unix.AT_SYMLINK_NOFOLLOW) == nil
	if !holds && filepath.Base(target) != FileName {
		return nil
	}
	// No Account: whose link this is, is not known.
	return &Skipped{Tool: tool, Home: home, Path: path, Code: ReasonSymlinkedHome,
		Reason: displayPath(path) + ": " + fmt.Sprintf("the home %s is a symbolic link (to %s); homes are never followed, so its manifest is not read",
			displayPath(home), strconv.Quote(target))}
}

// toolManifest is a manifest whose tool account is known, so a refusal of
// it can be told in the tool's service.log, as long as the home is the
// tool's own.
type toolManifest struct {
	tool, home, path, account string
	uid, gid                  int
	ownsHome                  bool
}

func (m *toolManifest) skip(code, format string, args ...any) *Skipped {
	sk := &Skipped{Tool: m.tool, Home: m.home, Path: m.path, Code: code,
		Reason: m.path + ": " + fmt.Sprintf(format, args...)}
	if m.ownsHome {
		sk.Account = &Owner{Name: m.account, UID: m.uid, GID: m.gid}
	}
	return sk
}

// openRefusal says why the manifest could not be opened.
func (m *toolManifest) openRefusal(err error) *Skipped {
	switch {
	case errors.Is(err, unix.ELOOP):
		return m.skip(ReasonSymlink, "is a symbolic link; manifests are never followed")
	case errors.Is(err, unix.ENXIO):
		return m.skip(ReasonNotRegular, "is a socket or device, not a regular file")
	}
	return m.skip(ReasonReadError, "opening failed: %v", err)
}

// checkManifest checks the open manifest fd: a regular file the tool owns,
// no larger than MaxSize, that parses.
func (s *Scanner) checkManifest(ctx context.Context, m *toolManifest, fd int) (*Manifest, *Skipped) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, m.skip(ReasonReadError, "reading its file status failed: %v", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, m.skip(ReasonNotRegular, "is a %s, not a regular file", safeopen.FileKind(st.Mode))
	}
	if int(st.Uid) != m.uid {
		return nil, m.skip(ReasonWrongOwner, "is owned by uid %d, not by the tool account %q (uid %d)", st.Uid, m.account, m.uid)
	}
	if st.Size > MaxSize {
		return nil, m.skip(ReasonTooLarge, "is %d bytes, larger than the %d byte limit", st.Size, MaxSize)
	}

	if s.opened != nil {
		s.opened()
	}
	f, sk := s.fields(ctx, m, fd, &st)
	if sk != nil {
		return nil, sk
	}
	if sk := s.judgeRelease(m, &f); sk != nil {
		return nil, sk
	}
	return &Manifest{
		Tool:         m.tool,
		Account:      m.account,
		UID:          m.uid,
		GID:          m.gid,
		Home:         m.home,
		Version:      f.Version,
		Web:          f.Web,
		Backend:      f.Backend,
		Release:      f.Release,
		Distribution: f.Distribution,
	}, nil
}

// fields parses the manifest, or takes the last parse while the file st
// describes is unchanged.
func (s *Scanner) fields(ctx context.Context, m *toolManifest, fd int, st *unix.Stat_t) (Fields, *Skipped) {
	var f Fields
	var err error
	if p, ok := s.cachedParse(m.tool, st); ok {
		f, err = p.fields, p.err
	} else {
		data, readErr := readAtMost(fd, min(st.Size, MaxSize)+1)
		if ctx.Err() != nil {
			return Fields{}, s.timedOut(m.tool)
		}
		if readErr != nil {
			return Fields{}, m.skip(ReasonReadError, "reading failed: %v", readErr)
		}
		if int64(len(data)) > MaxSize {
			return Fields{}, m.skip(ReasonTooLarge, "grew beyond the %d byte limit while being read", MaxSize)
		}
		f, err = Parse(m.path, data, s.WebTypes)
		s.rememberParse(m.tool, st, f, err)
	}
	if err == nil {
		return f, nil
	}
	var pe *ParseError
	if !errors.As(err, &pe) {
		return Fields{}, m.skip(ReasonInvalidYAML, "%v", err)
	}
	sk := m.skip(pe.Code, "")
	sk.Reason = pe.Reason
	return Fields{}, sk
}

// judgeRelease gives a gridengine manifest without a release the default
// one, and refuses one asking for a web service on a release the grid does
// not offer. It runs on every scan, after the parse cache, so a cached parse
// is judged by the scanner's settings like a fresh one.
//
// A gridengine manifest without a web service is not refused for its
// release (it still gets the default when it names none): nothing would be
// started with it, and such a manifest may still name the release the tool
// last ran on, so a refusal would only tell a tool that stopped its service
// about a release it no longer uses. Another backend's release is not ours
// to judge: it stays as written.
func (s *Scanner) judgeRelease(m *toolManifest, f *Fields) *Skipped {
	if f.Backend != BackendGridEngine {
		return nil
	}
	if f.Release == "" {
		f.Release = s.DefaultRelease
	}
	if f.Web == "" || slices.Contains(s.Releases, f.Release) {
		return nil
	}
	return m.skip(ReasonReleaseNotOffered, "release %q is not offered by the grid (offered: %s)", f.Release, strings.Join(s.Releases, ", "))
}

func (s *Scanner) timedOut(tool string) *Skipped {
	home := filepath.Join(s.Root, tool)
	path := filepath.Join(home, FileName)
	return &Skipped{Tool: tool, Home: home, Path: path, Code: ReasonTimeout,
		Reason: fmt.Sprintf("%s: not checked before the manifest scan's deadline (%v) passed", displayPath(path), s.Timeout)}
}

// readAtMost reads from fd until EOF or limit bytes.
func readAtMost(fd int, limit int64) ([]byte, error) {
	buf := make([]byte, limit)
	n := 0
	for n < len(buf) {
		m, err := safeopen.RetryEINTR(func() (int, error) { return unix.Read(fd, buf[n:]) })
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

// displayPath quotes a path that holds characters a log line should not
// carry raw (an unsafe tool name may contain control characters).
func displayPath(p string) string {
	if q := strconv.Quote(p); q[1:len(q)-1] != p || strings.ContainsRune(p, ' ') {
		return q
	}
	return p
}
