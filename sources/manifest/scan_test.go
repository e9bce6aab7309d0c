package manifest

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"webservicemonitor/internal/accounts"
	"webservicemonitor/internal/config"
)

// homes builds a homes root in a temp dir and a passwd file that maps
// tools.<name> to the test's own uid and gid.
type homes struct {
	t      *testing.T
	root   string
	passwd []string
}

func newHomes(t *testing.T) *homes {
	return &homes{t: t, root: t.TempDir()}
}

// home creates the directory of tool name and gives it an account.
func (h *homes) home(name string) string {
	h.t.Helper()
	dir := filepath.Join(h.root, name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		h.t.Fatal(err)
	}
	h.account(name)
	return dir
}

func (h *homes) account(name string) {
	if !SafeToolName(name) {
		return // such names never reach the account lookup, and would break the file
	}
	h.passwd = append(h.passwd, fmt.Sprintf("tools.%s:x:%d:%d::%s:/bin/bash", name, os.Getuid(), os.Getgid(), filepath.Join(h.root, name)))
}

// manifest creates a tool whose service.manifest holds data.
func (h *homes) manifest(name string, data []byte) string {
	h.t.Helper()
	path := filepath.Join(h.home(name), FileName)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		h.t.Fatal(err)
	}
	return path
}

func (h *homes) scanner() *Scanner {
	h.t.Helper()
	path := filepath.Join(h.t.TempDir(), "passwd")
	if err := os.WriteFile(path, []byte(strings.Join(h.passwd, "\n")+"\n"), 0o644); err != nil {
		h.t.Fatal(err)
	}
	return asDaemon(&Scanner{Root: h.root, Project: "tools", MinUID: 0, Accounts: accounts.NewPasswdFile(path)})
}

// asDaemon gives s the settings the daemon runs it with by default. The
// releases are those issue 11 gives the configuration (releases: [buster],
// default-release: buster), written here since the package holds no default.
func asDaemon(s *Scanner) *Scanner {
	d := config.Defaults()
	s.WebTypes, s.Concurrency, s.Timeout = d.WebTypes, d.ManifestWorkers, d.ManifestTimeout
	s.Releases, s.DefaultRelease = []string{"buster"}, "buster"
	return s
}

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func mustDo(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestScan(t *testing.T) {
	h := newHomes(t)
	valid := fixture(t, "valid-lighttpd-buster.yaml")

	// want maps each tool to the Reason code it must be skipped with, or
	// "ok" for a manifest; tools not listed must not be reported at all.
	want := map[string]string{}

	// Every fixture, as the manifest of a tool named after it.
	for name, fx := range fixtures {
		tool := strings.TrimSuffix(name, ".yaml")
		h.manifest(tool, fixture(t, name))
		want[tool] = fx.code
		if fx.scan != "" {
			want[tool] = fx.scan
		} else if fx.code == "" {
			want[tool] = "ok"
		}
	}

	link := func(tool, target string) {
		mustDo(t, os.Symlink(target, filepath.Join(h.home(tool), FileName)))
		want[tool] = ReasonSymlink
	}
	link("link-to-other-tool", "../valid-lighttpd-buster/"+FileName)
	link("link-to-root-file", "/etc/passwd")
	link("link-dangling", "does-not-exist")
	link("link-looping", FileName)

	mustDo(t, os.Mkdir(filepath.Join(h.home("manifest-is-directory"), FileName), 0o755))
	want["manifest-is-directory"] = ReasonNotRegular

	mustDo(t, syscall.Mkfifo(filepath.Join(h.home("manifest-is-fifo"), FileName), 0o644))
	want["manifest-is-fifo"] = ReasonNotRegular

	sock, err := net.Listen("unix", filepath.Join(h.home("manifest-is-socket"), FileName))
	mustDo(t, err)
	defer sock.Close()
	want["manifest-is-socket"] = ReasonNotRegular

	h.manifest("oversize", append(valid, []byte("#"+strings.Repeat("x", MaxSize)+"\n")...))
	want["oversize"] = ReasonTooLarge
	h.manifest("exactly-max-size", append(valid, []byte("#"+strings.Repeat("x", MaxSize-len(valid)-2)+"\n")...))
	want["exactly-max-size"] = "ok"

	for _, bad := range []string{"UPPER", "a b", "c++", "x+y", "-dash", "_under", "new\nline", "tab\tname", "ünicode", strings.Repeat("a", 65)} {
		h.manifest(bad, valid)
		want[bad] = ReasonBadName
	}
	h.manifest(strings.Repeat("a", 64), valid)
	want[strings.Repeat("a", 64)] = "ok"

	h.home("no-manifest")
	h.manifest(".hidden", valid)
	want[".hidden"] = ReasonBadName
	mustDo(t, os.WriteFile(filepath.Join(h.root, "plain-file"), valid, 0o644))
	mustDo(t, os.Symlink("valid-lighttpd-buster", filepath.Join(h.root, "symlinked-home")))
	want["symlinked-home"] = ReasonSymlinkedHome

	mustDo(t, os.Mkdir(filepath.Join(h.root, "no-account-tool"), 0o755))
	mustDo(t, os.WriteFile(filepath.Join(h.root, "no-account-tool", FileName), valid, 0o644))
	want["no-account-tool"] = ReasonNoAccount

	if os.Getuid() == 0 {
		p := h.manifest("wrong-owner", valid)
		mustDo(t, os.Chown(p, 54321, 54321))
		want["wrong-owner"] = ReasonWrongOwner

		// A home owned by someone else: the refusal is not reported to
		// the tool account, since its service.log would not be its own.
		dir := h.home("home-not-owned")
		mustDo(t, os.Symlink("/etc/passwd", filepath.Join(dir, FileName)))
		mustDo(t, os.Chown(dir, 54321, 54321))
		want["home-not-owned"] = ReasonSymlink
	}

	s := h.scanner()
	start := time.Now()
	got, err := s.Scan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Scan took %v; something blocked", d)
	}

	seen := map[string]string{}
	for i, m := range got.Manifests {
		if i > 0 && got.Manifests[i-1].Tool >= m.Tool {
			t.Errorf("manifests not sorted: %q before %q", got.Manifests[i-1].Tool, m.Tool)
		}
		seen[m.Tool] = "ok"
	}
	for i, sk := range got.Skipped {
		if i > 0 && got.Skipped[i-1].Tool >= sk.Tool {
			t.Errorf("skipped not sorted: %q before %q", got.Skipped[i-1].Tool, sk.Tool)
		}
		if _, dup := seen[sk.Tool]; dup {
			t.Errorf("tool %q reported twice", sk.Tool)
		}
		seen[sk.Tool] = sk.Code
		if !strings.HasPrefix(sk.Reason, displayPath(sk.Path)+": ") {
			t.Errorf("%q: reason %q does not start with the manifest path", sk.Tool, sk.Reason)
		}
		if sk.Path != filepath.Join(h.root, sk.Tool, FileName) || sk.Home != filepath.Join(h.root, sk.Tool) {
			t.Errorf("%q: path %q, home %q", sk.Tool, sk.Path, sk.Home)
		}
		if strings.ContainsAny(sk.Reason, "\n\t") {
			t.Errorf("%q: reason %q carries control characters raw", sk.Tool, sk.Reason)
		}
		wantAccount := sk.Code != ReasonBadName && sk.Code != ReasonNoAccount && sk.Code != ReasonSymlinkedHome && sk.Tool != "home-not-owned"
		if (sk.Account != nil) != wantAccount {
			t.Errorf("%q (%s): Account = %+v, want set: %v", sk.Tool, sk.Code, sk.Account, wantAccount)
		}
	}
	for tool, code := range want {
		if seen[tool] != code {
			t.Errorf("tool %q: got %q, want %q", tool, seen[tool], code)
		}
	}
	for tool, code := range seen {
		if _, ok := want[tool]; !ok {
			t.Errorf("tool %q reported (%s) but should be ignored", tool, code)
		}
	}

	for _, m := range got.Manifests {
		if m.Tool != "valid-lighttpd-buster" {
			continue
		}
		wantM := Manifest{
			Tool: "valid-lighttpd-buster", Account: "tools.valid-lighttpd-buster",
			UID: os.Getuid(), GID: os.Getgid(), Home: filepath.Join(h.root, "valid-lighttpd-buster"),
			Version: 4, Web: "lighttpd", Backend: "gridengine", Release: "buster", Distribution: "debian",
		}
		if m != wantM {
			t.Errorf("got %+v, want %+v", m, wantM)
		}
	}
	for _, sk := range got.Skipped {
		switch sk.Tool {
		case "new\nline":
			if !strings.Contains(sk.Reason, `tool name "new\nline" is not a safe name`) {
				t.Errorf("bad name reason %q does not quote the name", sk.Reason)
			}
		case "unknown-web-quote":
			if wantR := filepath.Join(h.root, "unknown-web-quote", FileName) + `: web type "lighttpd'" is not a known web type`; sk.Reason != wantR {
				t.Errorf("reason = %q, want %q", sk.Reason, wantR)
			}
		case "manifest-is-fifo":
			if !strings.Contains(sk.Reason, "is a FIFO, not a regular file") {
				t.Errorf("fifo reason = %q", sk.Reason)
			}
		}
	}
}

// TestScanOtherBackendIsNeverSkipped: a manifest exactly as webservice
// writes it for Kubernetes is reported as that backend's manifest (the
// planner skips it without a word to the tool), never as a Skipped one.
func TestScanOtherBackendIsNeverSkipped(t *testing.T) {
	h := newHomes(t)
	h.manifest("amber", fixture(t, "valid-kubernetes-as-webservice-writes-it.yaml"))
	h.manifest("bramble", fixture(t, "valid-kubernetes-values-not-judged.yaml"))
	got, err := h.scanner().Scan(context.Background())
	mustDo(t, err)
	if len(got.Skipped) != 0 || len(got.Manifests) != 2 {
		t.Fatalf("got %+v, want two manifests and nothing skipped", got)
	}
	want := Manifest{Tool: "amber", Account: "tools.amber", UID: os.Getuid(), GID: os.Getgid(),
		Home: filepath.Join(h.root, "amber"), Version: 4, Web: "python3.11", Backend: "kubernetes"}
	if got.Manifests[0] != want {
		t.Errorf("got %+v, want %+v", got.Manifests[0], want)
	}
}

// TestScanAccountsForEveryHome: a manifest in a hidden directory, or in a
// home that is a symbolic link (or that the link points at), is reported
// with its reason and the path, without an account to tell (whose it is is
// not known); a hidden directory or a link without a manifest is no home
// with a manifest, and is not reported.
func TestScanAccountsForEveryHome(t *testing.T) {
	valid := fixture(t, "valid-lighttpd-buster.yaml")
	tests := []struct {
		name   string
		tool   string // the entry under the root
		build  func(t *testing.T, root, elsewhere string)
		code   string // "" when not reported
		reason string // substring of the reason, after the manifest path
	}{
		{"hidden directory with a manifest", ".hidden", func(t *testing.T, root, _ string) {
			mustDo(t, os.Mkdir(filepath.Join(root, ".hidden"), 0o755))
			mustDo(t, os.WriteFile(filepath.Join(root, ".hidden", FileName), valid, 0o644))
		}, ReasonBadName, "the directory " + "ROOT/.hidden is hidden (its name starts with '.')"},
		{"hidden directory with a symlinked manifest", ".linked", func(t *testing.T, root, _ string) {
			mustDo(t, os.Mkdir(filepath.Join(root, ".linked"), 0o755))
			mustDo(t, os.Symlink("/etc/passwd", filepath.Join(root, ".linked", FileName)))
		}, ReasonBadName, "is hidden"},
		{"hidden directory without a manifest", ".cache", func(t *testing.T, root, _ string) {
			mustDo(t, os.Mkdir(filepath.Join(root, ".cache"), 0o755))
		}, "", ""},
		{"home linked to a directory with a manifest", "foo", func(t *testing.T, root, elsewhere string) {
			mustDo(t, os.WriteFile(filepath.Join(elsewhere, FileName), valid, 0o644))
			mustDo(t, os.Symlink(elsewhere, filepath.Join(root, "foo")))
		}, ReasonSymlinkedHome, "the home ROOT/foo is a symbolic link (to \"ELSEWHERE\"); homes are never followed"},
		{"home linked to a symlinked manifest", "foo", func(t *testing.T, root, elsewhere string) {
			mustDo(t, os.Symlink("/etc/passwd", filepath.Join(elsewhere, FileName)))
			mustDo(t, os.Symlink(elsewhere, filepath.Join(root, "foo")))
		}, ReasonSymlinkedHome, "is a symbolic link"},
		{"home linked to a manifest", "foo", func(t *testing.T, root, elsewhere string) {
			mustDo(t, os.WriteFile(filepath.Join(elsewhere, FileName), valid, 0o644))
			mustDo(t, os.Symlink(filepath.Join(elsewhere, FileName), filepath.Join(root, "foo")))
		}, ReasonSymlinkedHome, "(to \"ELSEWHERE/service.manifest\")"},
		{"hidden link to a directory with a manifest", ".foo", func(t *testing.T, root, elsewhere string) {
			mustDo(t, os.WriteFile(filepath.Join(elsewhere, FileName), valid, 0o644))
			mustDo(t, os.Symlink(elsewhere, filepath.Join(root, ".foo")))
		}, ReasonSymlinkedHome, "is a symbolic link"},
		{"home linked to a directory without a manifest", "foo", func(t *testing.T, root, elsewhere string) {
			mustDo(t, os.Symlink(elsewhere, filepath.Join(root, "foo")))
		}, "", ""},
		{"dangling link", "foo", func(t *testing.T, root, _ string) {
			mustDo(t, os.Symlink("does-not-exist", filepath.Join(root, "foo")))
		}, "", ""},
		{"looping link", "foo", func(t *testing.T, root, _ string) {
			mustDo(t, os.Symlink("foo", filepath.Join(root, "foo")))
		}, "", ""},
		{"plain file", "foo", func(t *testing.T, root, _ string) {
			mustDo(t, os.WriteFile(filepath.Join(root, "foo"), valid, 0o644))
		}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHomes(t)
			elsewhere := t.TempDir()
			tt.build(t, h.root, elsewhere)
			h.account(tt.tool)
			got, err := h.scanner().Scan(context.Background())
			mustDo(t, err)
			if len(got.Manifests) != 0 {
				t.Errorf("manifests %+v, want none", got.Manifests)
			}
			if tt.code == "" {
				if len(got.Skipped) != 0 {
					t.Errorf("skipped %+v, want nothing reported", got.Skipped)
				}
				return
			}
			if len(got.Skipped) != 1 {
				t.Fatalf("skipped %+v, want one", got.Skipped)
			}
			sk := got.Skipped[0]
			path := filepath.Join(h.root, tt.tool, FileName)
			reason := strings.NewReplacer("ROOT", h.root, "ELSEWHERE", elsewhere).Replace(tt.reason)
			if sk.Tool != tt.tool || sk.Code != tt.code || sk.Path != path || sk.Home != filepath.Join(h.root, tt.tool) {
				t.Errorf("got %+v, want tool %q, code %s, path %s", sk, tt.tool, tt.code, path)
			}
			if !strings.HasPrefix(sk.Reason, path+": ") || !strings.Contains(sk.Reason, reason) {
				t.Errorf("reason %q, want it to start with %s and contain %q", sk.Reason, path, reason)
			}
			if sk.Account != nil {
				t.Errorf("account %+v, want none: the home's owner is not verified", sk.Account)
			}
		})
	}
}

func TestScanRootNotListable(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	mustDo(t, os.WriteFile(file, nil, 0o644))
	for _, root := range []string{filepath.Join(t.TempDir(), "missing"), file} {
		s := asDaemon(&Scanner{Root: root, Project: "tools", Accounts: accounts.NewPasswdFile("/dev/null")})
		if _, err := s.Scan(context.Background()); err == nil || !strings.Contains(err.Error(), root) {
			t.Errorf("root %s: error = %v, want one naming the root", root, err)
		}
	}
}

func TestScanAccountRefusals(t *testing.T) {
	valid := fixture(t, "valid-lighttpd-buster.yaml")
	t.Run("low uid", func(t *testing.T) {
		h := newHomes(t)
		h.manifest("tool", valid)
		s := h.scanner()
		s.MinUID = os.Getuid() + 1
		got, err := s.Scan(context.Background())
		mustDo(t, err)
		if len(got.Skipped) != 1 || got.Skipped[0].Code != ReasonLowUID || got.Skipped[0].Account != nil {
			t.Fatalf("got %+v, want one %s skip without account", got, ReasonLowUID)
		}
	})
	t.Run("lookup failed", func(t *testing.T) {
		h := newHomes(t)
		h.manifest("tool", valid)
		s := h.scanner()
		s.Accounts = accounts.NewPasswdFile(filepath.Join("..", "..", "testdata", "accounts", "passwd-bad-uid"))
		got, err := s.Scan(context.Background())
		mustDo(t, err)
		if len(got.Skipped) != 1 || got.Skipped[0].Code != ReasonLookupFailed || !strings.Contains(got.Skipped[0].Reason, "line 2") {
			t.Fatalf("got %+v, want one %s skip", got, ReasonLookupFailed)
		}
	})
}

// stallingResolver answers only when ctx ends, like an LDAP server that
// accepted the connection and went silent; it records how many lookups ran
// at once.
type stallingResolver struct {
	delay   time.Duration // answer after this long; 0 means never
	mu      sync.Mutex
	running int
	most    int
}

func (r *stallingResolver) Lookup(ctx context.Context, name string) (accounts.Account, error) {
	r.mu.Lock()
	r.running++
	r.most = max(r.most, r.running)
	r.mu.Unlock()
	defer func() { r.mu.Lock(); r.running--; r.mu.Unlock() }()
	if r.delay == 0 {
		<-ctx.Done()
		return accounts.Account{}, ctx.Err()
	}
	time.Sleep(r.delay)
	return accounts.Account{Name: name, UID: os.Getuid(), GID: os.Getgid()}, nil
}

func TestScanTimeout(t *testing.T) {
	h := newHomes(t)
	for i := range 40 {
		h.manifest(fmt.Sprintf("tool%02d", i), fixture(t, "valid-lighttpd-buster.yaml"))
	}
	h.home("no-manifest")
	s := h.scanner()
	s.Accounts = &stallingResolver{}
	s.Timeout = 100 * time.Millisecond
	start := time.Now()
	got, err := s.Scan(context.Background())
	mustDo(t, err)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Scan took %v with a 100ms timeout", d)
	}
	if len(got.Manifests) != 0 {
		t.Errorf("got %d manifests, want none", len(got.Manifests))
	}
	// Every home is accounted for; the one without a manifest may or may
	// not have been looked at before the deadline.
	if n := len(got.Skipped); n != 40 && n != 41 {
		t.Fatalf("got %d skipped, want every home with a manifest", n)
	}
	for _, sk := range got.Skipped {
		if sk.Code != ReasonTimeout || !strings.Contains(sk.Reason, "deadline (100ms)") {
			t.Errorf("%s: %s %q, want %s", sk.Tool, sk.Code, sk.Reason, ReasonTimeout)
		}
	}
}

func TestScanBoundsConcurrencyAndClosesFiles(t *testing.T) {
	h := newHomes(t)
	for i := range 30 {
		h.manifest(fmt.Sprintf("tool%02d", i), fixture(t, "valid-lighttpd-buster.yaml"))
	}
	r := &stallingResolver{delay: 5 * time.Millisecond}
	s := h.scanner()
	s.Accounts = r
	s.Concurrency = 3

	before := openFDs(t)
	got, err := s.Scan(context.Background())
	mustDo(t, err)
	if len(got.Manifests) != 30 {
		t.Fatalf("got %d manifests (skipped: %+v), want 30", len(got.Manifests), got.Skipped)
	}
	if r.most > 3 {
		t.Errorf("%d homes checked at once, want at most 3", r.most)
	}
	if after := openFDs(t); after != before {
		t.Errorf("%d file descriptors open before the scan, %d after", before, after)
	}
}

func openFDs(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(entries)
}

// TestScanNeedsConfiguration: a Scanner missing a part, without web types
// or releases, with a default release the grid does not offer, or with a
// zero deadline or worker count, is refused with the setting
// named rather than filled in with a default or left to refuse every
// manifest or time every home out.
func TestScanNeedsConfiguration(t *testing.T) {
	resolver := accounts.NewPasswdFile("/dev/null")
	tests := []struct {
		name string
		edit func(s *Scanner)
		want string
	}{
		{"no project", func(s *Scanner) { s.Project = "" }, "no project name configured"},
		{"no account resolver", func(s *Scanner) { s.Accounts = nil }, "no account resolver configured"},
		{"no web types", func(s *Scanner) { s.WebTypes = nil }, "no web types configured (WebTypes)"},
		{"zero deadline", func(s *Scanner) { s.Timeout = 0 }, "the scan's deadline (Timeout) must be greater than 0, got 0s"},
		{"negative deadline", func(s *Scanner) { s.Timeout = -time.Second }, "the scan's deadline (Timeout) must be greater than 0, got -1s"},
		{"no workers", func(s *Scanner) { s.Concurrency = 0 }, "the homes checked at once (Concurrency) must be greater than 0, got 0"},
		{"negative workers", func(s *Scanner) { s.Concurrency = -1 }, "the homes checked at once (Concurrency) must be greater than 0, got -1"},
		{"no releases", func(s *Scanner) { s.Releases = nil }, "no releases configured (Releases)"},
		{"no releases but a default", func(s *Scanner) { s.Releases = []string{} }, "no releases configured (Releases)"},
		{"no default release", func(s *Scanner) { s.DefaultRelease = "" },
			`the default release "" (DefaultRelease) is not one of the offered releases (Releases: buster)`},
		{"default release not offered", func(s *Scanner) { s.DefaultRelease = "stretch" },
			`the default release "stretch" (DefaultRelease) is not one of the offered releases (Releases: buster)`},
		{"offered release not a release name", func(s *Scanner) { s.Releases = []string{"buster", "bullseye; rm"} },
			`the offered release "bullseye; rm" (Releases) is not a release name`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := asDaemon(&Scanner{Root: t.TempDir(), Project: "tools", Accounts: resolver})
			tt.edit(s)
			if _, err := s.Scan(context.Background()); err == nil || !strings.Contains(err.Error(), "scanning manifests: "+tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
}

// TestScanReleases: a gridengine manifest asking for a web service gets the
// default release when it names none, keeps a release the grid offers, and
// is skipped, with the release and the offered ones named, for one it does
// not. One without a web service, or of another backend, is never refused
// for its release. A second scan, from the parse cache, judges alike.
func TestScanReleases(t *testing.T) {
	tests := []struct {
		name     string
		fixture  string
		releases []string // offered; the default is buster
		release  string   // the manifest's release, when not skipped
		reason   string   // the skip's sentence after the path, when skipped
	}{
		{"no release gets the default", "valid-no-release-gets-default.yaml", []string{"buster"}, "buster", ""},
		{"no release gets the default among several", "valid-no-release-gets-default.yaml", []string{"bullseye", "buster"}, "buster", ""},
		{"offered release kept", "valid-lighttpd-buster.yaml", []string{"buster"}, "buster", ""},
		{"offered release other than the default kept", "release-not-offered-stretch.yaml", []string{"buster", "stretch"}, "stretch", ""},
		{"unoffered release skipped", "release-not-offered-stretch.yaml", []string{"buster"}, "",
			`release "stretch" is not offered by the grid (offered: buster)`},
		{"unoffered release skipped, several offered", "release-not-offered-stretch.yaml", []string{"buster", "bullseye"}, "",
			`release "stretch" is not offered by the grid (offered: buster, bullseye)`},
		{"no web service: unoffered release not refused", "valid-stopped-release-not-offered.yaml", []string{"buster"}, "stretch", ""},
		{"no web service: no release gets the default", "valid-stopped-no-web.yaml", []string{"buster"}, "buster", ""},
		{"kubernetes: unoffered release not refused", "valid-kubernetes-release-not-offered.yaml", []string{"buster"}, "stretch", ""},
		{"kubernetes: no release stays none", "valid-kubernetes-backend.yaml", []string{"buster"}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHomes(t)
			path := h.manifest("tool", fixture(t, tt.fixture))
			s := h.scanner()
			s.Releases, s.DefaultRelease = tt.releases, "buster"
			for _, pass := range []string{"first scan", "cached scan"} {
				got, err := s.Scan(context.Background())
				mustDo(t, err)
				if tt.reason != "" {
					if len(got.Manifests) != 0 || len(got.Skipped) != 1 {
						t.Fatalf("%s: got %+v, want one skipped", pass, got)
					}
					sk := got.Skipped[0]
					if sk.Code != ReasonReleaseNotOffered || sk.Reason != path+": "+tt.reason || sk.Account == nil {
						t.Errorf("%s: got %s %q (account %+v), want %s %q told to the tool",
							pass, sk.Code, sk.Reason, sk.Account, ReasonReleaseNotOffered, path+": "+tt.reason)
					}
					continue
				}
				if len(got.Skipped) != 0 || len(got.Manifests) != 1 {
					t.Fatalf("%s: got %+v, want one manifest", pass, got)
				}
				if r := got.Manifests[0].Release; r != tt.release {
					t.Errorf("%s: release %q, want %q", pass, r, tt.release)
				}
			}
		})
	}
}
