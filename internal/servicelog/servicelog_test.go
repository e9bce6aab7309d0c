package servicelog

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"
)

var t0 = time.Date(2025, 3, 6, 22, 59, 1, 0, time.FixedZone("PST", -8*3600))

const wantPrefix = "2025-03-07T06:59:01Z webservicemonitor: "

// owner returns the uid:gid a test's logs should belong to: a tool account
// other than ourselves when we are root, ourselves otherwise.
func owner() (int, int) {
	if os.Geteuid() == 0 {
		return 51234, 51235
	}
	return os.Getuid(), os.Getgid()
}

func stat(t *testing.T, path string) *syscall.Stat_t {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t)
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestAppendCreates(t *testing.T) {
	uid, gid := owner()
	home := t.TempDir()
	// The daemon's umask must not decide whether a tool can read its log.
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)

	if err := Append(home, uid, gid, "restarted lighttpd-mytool", t0); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(home, FileName)
	st := stat(t, path)
	if st.Mode&0o7777 != 0o644 || st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		t.Errorf("mode = %#o, want a regular file with 0644", st.Mode)
	}
	if int(st.Uid) != uid || int(st.Gid) != gid {
		t.Errorf("owner = %d:%d, want %d:%d", st.Uid, st.Gid, uid, gid)
	}
	if got, want := read(t, path), wantPrefix+"restarted lighttpd-mytool\n"; got != want {
		t.Errorf("content = %q, want %q", got, want)
	}
}

func TestAppendAppends(t *testing.T) {
	uid, gid := owner()
	home := t.TempDir()
	path := filepath.Join(home, FileName)
	if err := os.WriteFile(path, []byte("earlier line\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(path, uid, gid); err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"one", "two"} {
		if err := Append(home, uid, gid, line, t0); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := read(t, path), "earlier line\n"+wantPrefix+"one\n"+wantPrefix+"two\n"; got != want {
		t.Errorf("content = %q, want %q", got, want)
	}
	if st := stat(t, path); st.Mode&0o7777 != 0o600 {
		t.Errorf("mode of an existing log changed to %#o", st.Mode&0o7777)
	}
}

// TestAppendRefuses covers every existing service.log that must not be
// written: each setup returns a file whose content must stay as it was.
func TestAppendRefuses(t *testing.T) {
	uid, gid := owner()
	const before = "do not touch\n"
	writeOwned := func(t *testing.T, path string) {
		if err := os.WriteFile(path, []byte(before), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(path, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name   string
		root   bool // needs root to set up
		setup  func(t *testing.T, home string) (untouched string)
		reason string
	}{
		{
			name: "symlink to the tool's own file",
			setup: func(t *testing.T, home string) string {
				target := filepath.Join(home, "target")
				writeOwned(t, target)
				must(t, os.Symlink("target", filepath.Join(home, FileName)))
				return target
			},
			reason: "symbolic link",
		},
		{
			name: "symlink to a file outside the home",
			setup: func(t *testing.T, home string) string {
				target := filepath.Join(t.TempDir(), "passwd")
				writeOwned(t, target)
				must(t, os.Symlink(target, filepath.Join(home, FileName)))
				return target
			},
			reason: "symbolic link",
		},
		{
			name: "dangling symlink",
			setup: func(t *testing.T, home string) string {
				must(t, os.Symlink("created-through-link", filepath.Join(home, FileName)))
				return ""
			},
			reason: "symbolic link",
		},
		{
			name: "hard link",
			setup: func(t *testing.T, home string) string {
				target := filepath.Join(t.TempDir(), "shadow")
				writeOwned(t, target)
				must(t, os.Link(target, filepath.Join(home, FileName)))
				return target
			},
			reason: "has 2 hard links",
		},
		{
			name: "wrong owner",
			root: true,
			setup: func(t *testing.T, home string) string {
				path := filepath.Join(home, FileName)
				writeOwned(t, path)
				must(t, os.Chown(path, 54321, 54321))
				return path
			},
			reason: "owned by uid 54321",
		},
		{
			name: "FIFO without a reader",
			setup: func(t *testing.T, home string) string {
				must(t, syscall.Mkfifo(filepath.Join(home, FileName), 0o644))
				return ""
			},
			reason: "FIFO",
		},
		{
			name: "FIFO with a reader",
			setup: func(t *testing.T, home string) string {
				path := filepath.Join(home, FileName)
				must(t, syscall.Mkfifo(path, 0o644))
				r, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
				must(t, err)
				t.Cleanup(func() { r.Close() })
				must(t, os.Chown(path, uid, gid))
				return ""
			},
			reason: "is a FIFO, not a regular file",
		},
		{
			name: "directory",
			setup: func(t *testing.T, home string) string {
				must(t, os.Mkdir(filepath.Join(home, FileName), 0o755))
				return ""
			},
			reason: "directory",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.root && os.Geteuid() != 0 {
				t.Skip("needs root to chown")
			}
			home := t.TempDir()
			untouched := tt.setup(t, home)
			path := filepath.Join(home, FileName)
			linkBefore, _ := os.Readlink(path)

			start := time.Now()
			err := Append(home, uid, gid, "restarted", t0)
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("Append took %v", d)
			}
			if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tt.reason) {
				t.Fatalf("error = %v, want a refusal naming %s and %q", err, path, tt.reason)
			}
			if untouched != "" {
				if got := read(t, untouched); got != before {
					t.Errorf("%s changed to %q", untouched, got)
				}
			}
			if linkAfter, _ := os.Readlink(path); linkAfter != linkBefore {
				t.Errorf("symlink changed from %q to %q", linkBefore, linkAfter)
			}
			if _, err := os.Lstat(filepath.Join(home, "created-through-link")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a file was created through the dangling symlink")
			}
		})
	}
}

func TestAppendRefusesSymlinkedHome(t *testing.T) {
	uid, gid := owner()
	real := t.TempDir()
	home := filepath.Join(t.TempDir(), "home")
	must(t, os.Symlink(real, home))
	err := Append(home, uid, gid, "x", t0)
	if err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Fatalf("error = %v, want a refusal", err)
	}
	if _, err := os.Stat(filepath.Join(real, FileName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("log created through a symlinked home")
	}
}

func TestAppendRemovesLogItCannotGiveAway(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("as root every chown succeeds")
	}
	home := t.TempDir()
	err := Append(home, 54321, 54321, "x", t0)
	if err == nil || !strings.Contains(err.Error(), "giving it to 54321:54321") {
		t.Fatalf("error = %v, want a chown failure", err)
	}
	if _, err := os.Lstat(filepath.Join(home, FileName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the log we could not give away was left behind")
	}
}

func TestAppendRejectsInvalidOwner(t *testing.T) {
	for _, id := range [][2]int{{-1, 0}, {0, -1}, {1<<32 - 1, 0}} {
		if err := Append(t.TempDir(), id[0], id[1], "x", t0); err == nil {
			t.Errorf("owner %d:%d accepted", id[0], id[1])
		}
	}
}

func TestFormat(t *testing.T) {
	long := strings.Repeat("é", MaxLine)
	tests := []struct {
		name, line, want string
	}{
		{"plain", "restarted lighttpd-mytool (attempt 2 of 5)", "restarted lighttpd-mytool (attempt 2 of 5)"},
		{"newline injection", "ok\n2025-01-01T00:00:00Z webservicemonitor: forged", "ok 2025-01-01T00:00:00Z webservicemonitor: forged"},
		{"carriage return and escape", "a\r\x1b[2Jb\tc\x00d\x7f", "a  [2Jb c d "},
		{"C1 and unicode separators", "a\u0085b\u2028c\u2029d", "a b c d"},
		{"bidi override", "tool\u202egnp.exe", "tool gnp.exe"},
		{"invalid UTF-8", "bad\xffbyte", "bad\uFFFDbyte"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Format(tt.line, t0); got != wantPrefix+tt.want+"\n" {
				t.Errorf("got %q, want %q", got, wantPrefix+tt.want+"\n")
			}
		})
	}

	got := Format(long, t0)
	if len(got) > MaxLine || !utf8.ValidString(got) || !strings.HasSuffix(got, " [...]\n") || strings.Count(got, "\n") != 1 {
		t.Errorf("long line: %d bytes, valid UTF-8 %v, ends %q", len(got), utf8.ValidString(got), got[len(got)-10:])
	}
	exact := strings.Repeat("x", MaxLine-len(wantPrefix)-1)
	if got := Format(exact, t0); got != wantPrefix+exact+"\n" {
		t.Errorf("a line of exactly MaxLine bytes was cut")
	}
}

func TestWriter(t *testing.T) {
	uid, gid := owner()
	w := NewWriter(func() time.Time { return t0 })
	home := t.TempDir()
	if err := w.Append(context.Background(), home, uid, gid, "held: 3 restarts in 1h"); err != nil {
		t.Fatal(err)
	}
	if got := read(t, filepath.Join(home, FileName)); got != wantPrefix+"held: 3 restarts in 1h\n" {
		t.Errorf("content = %q", got)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	home = t.TempDir()
	if err := w.Append(ctx, home, uid, gid, "x"); !errors.Is(err, context.Canceled) {
		t.Errorf("error = %v, want context.Canceled", err)
	}
	if _, err := os.Lstat(filepath.Join(home, FileName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("wrote with an ended ctx")
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
