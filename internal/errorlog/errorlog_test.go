package errorlog

import (
	"cmp"
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"webservicemonitor/internal/sanitize"
)

// toolUID owns the logs in these tests; chown needs root, as the daemon
// has. Run unprivileged, the tests use the caller's own uid and skip the
// wrong-owner cases that need chown.
func toolUID(t *testing.T) int {
	t.Helper()
	if os.Geteuid() == 0 {
		return 51234
	}
	return os.Geteuid()
}

// writeLog writes <home>/error.log owned by uid.
func writeLog(t *testing.T, home, content string, uid int) {
	t.Helper()
	path := filepath.Join(home, FileName)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	chown(t, path, uid)
}

func chown(t *testing.T, path string, uid int) {
	t.Helper()
	if uid == os.Geteuid() {
		return
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to give a file to another uid")
	}
	if err := os.Lchown(path, uid, uid); err != nil {
		t.Fatal(err)
	}
}

func TestRead(t *testing.T) {
	long := strings.Repeat("y", 3*MaxText)
	tests := []struct {
		name     string
		setup    func(t *testing.T, home string, uid int) string // returns the home to read
		maxBytes int64                                           // 4096 unless set
		maxLines int                                             // 3 unless set
		want     string
		wantErr  []string // substrings; the path is always required
	}{
		{
			name:  "no log: nothing to say",
			setup: func(t *testing.T, home string, uid int) string { return home },
		},
		{
			name: "empty log",
			setup: func(t *testing.T, home string, uid int) string {
				writeLog(t, home, "", uid)
				return home
			},
		},
		{
			name: "fewer lines than asked",
			setup: func(t *testing.T, home string, uid int) string {
				writeLog(t, home, "ember: starting\nember: cannot load config\n", uid)
				return home
			},
			want: "ember: starting | ember: cannot load config",
		},
		{
			name: "the last lines only; blank lines, CRLF and a missing final newline",
			setup: func(t *testing.T, home string, uid int) string {
				writeLog(t, home, "one\ntwo\r\n\n   \nthree\nfour\r\nfive", uid)
				return home
			},
			want: "three | four | five",
		},
		{
			name: "the window cuts a line: the fragment is dropped",
			setup: func(t *testing.T, home string, uid int) string {
				writeLog(t, home, "a fairly long first line\nsecond\nthird\n", uid)
				return home
			},
			maxBytes: int64(len("line\nsecond\nthird\n")),
			want:     "second | third",
		},
		{
			name: "one line longer than the window: its end, capped",
			setup: func(t *testing.T, home string, uid int) string {
				writeLog(t, home, "x"+long+"\n", uid)
				return home
			},
			maxBytes: int64(2 * MaxText),
			want:     sanitize.Text(long[:2*MaxText-1], MaxText),
		},
		{
			name: "terminal escapes and control characters removed; a line of them only is blank",
			setup: func(t *testing.T, home string, uid int) string {
				writeLog(t, home, "\x1b[31mboom\x1b[0m\x07\n\x1b[0m\x00\n", uid)
				return home
			},
			want: "boom",
		},
		{
			name: "the log is a symbolic link",
			setup: func(t *testing.T, home string, uid int) string {
				target := filepath.Join(t.TempDir(), "secret")
				writeLog(t, filepath.Dir(target), "root's secret\n", uid)
				if err := os.Symlink(filepath.Join(filepath.Dir(target), FileName), filepath.Join(home, FileName)); err != nil {
					t.Fatal(err)
				}
				return home
			},
			wantErr: []string{"refusing, it is a symbolic link"},
		},
		{
			name: "the log is a FIFO: refused without waiting for a writer",
			setup: func(t *testing.T, home string, uid int) string {
				if err := syscall.Mkfifo(filepath.Join(home, FileName), 0o644); err != nil {
					t.Fatal(err)
				}
				chown(t, filepath.Join(home, FileName), uid)
				return home
			},
			wantErr: []string{"refusing, it is a FIFO, not a regular file"},
		},
		{
			name: "the log is a directory",
			setup: func(t *testing.T, home string, uid int) string {
				if err := os.Mkdir(filepath.Join(home, FileName), 0o755); err != nil {
					t.Fatal(err)
				}
				chown(t, filepath.Join(home, FileName), uid)
				return home
			},
			wantErr: []string{"refusing, it is a directory, not a regular file"},
		},
		{
			name: "the log is someone else's",
			setup: func(t *testing.T, home string, uid int) string {
				writeLog(t, home, "not the tool's\n", uid+1)
				return home
			},
			wantErr: []string{"refusing, it is owned by uid", "not by the tool"},
		},
		{
			name: "the home is a symbolic link",
			setup: func(t *testing.T, home string, uid int) string {
				writeLog(t, home, "through a link\n", uid)
				link := filepath.Join(t.TempDir(), "link")
				if err := os.Symlink(home, link); err != nil {
					t.Fatal(err)
				}
				return link
			},
			wantErr: []string{"refusing, the home is not a directory (or is a symbolic link)"},
		},
		{
			name:    "the home is missing",
			setup:   func(t *testing.T, home string, uid int) string { return filepath.Join(home, "gone") },
			wantErr: []string{"opening the home", "no such file or directory"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			uid := toolUID(t)
			home := tt.setup(t, t.TempDir(), uid)
			got, err := Read(home, uid, cmp.Or(tt.maxBytes, 4096), cmp.Or(tt.maxLines, 3))
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("Read = %q, nil error; want an error", got)
				}
				for _, s := range append(tt.wantErr, filepath.Join(home, FileName)) {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("Read error = %q; want it to contain %q", err, s)
					}
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Read = %q, %v; want %q", got, err, tt.want)
			}
			if len(got) > MaxText {
				t.Errorf("Read returned %d bytes; cap is %d", len(got), MaxText)
			}
		})
	}
}

// A 100 MiB log (sparse: only its end holds text) is read from its end:
// what Read allocates stays near the window, nowhere near the file.
func TestReadReadsOnlyTheEndOfALargeLog(t *testing.T) {
	const size = 100 << 20
	const window = 4096
	home, uid := t.TempDir(), toolUID(t)
	path := filepath.Join(home, FileName)
	tail := "\nuwsgi: bind(): Address already in use\nuwsgi: exiting\n" // the hole ends a line too
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte(tail), size-int64(len(tail))); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	chown(t, path, uid)

	var got string
	allocated := allocatedBy(func() { got, err = Read(home, uid, window, 5) })
	if err != nil || got != "uwsgi: bind(): Address already in use | uwsgi: exiting" {
		t.Fatalf("Read = %q, %v", got, err)
	}
	t.Logf("read a %d-byte log with a %d-byte window: %d bytes allocated", size, window, allocated)
	if allocated > 64<<10 {
		t.Errorf("Read allocated %d bytes for a %d-byte window; it must not read the whole %d-byte log", allocated, window, size)
	}
}

func allocatedBy(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func TestBoundsMustBePositive(t *testing.T) {
	for _, tt := range []struct {
		maxBytes int64
		maxLines int
	}{{0, 3}, {4096, 0}, {-1, 3}, {4096, -1}} {
		if _, err := NewTailer(tt.maxBytes, tt.maxLines); err == nil || !strings.Contains(err.Error(), "must be positive") {
			t.Errorf("NewTailer(%d, %d) error = %v; want a refusal", tt.maxBytes, tt.maxLines, err)
		}
		if _, err := Read(t.TempDir(), 1, tt.maxBytes, tt.maxLines); err == nil || !strings.Contains(err.Error(), "must be positive") {
			t.Errorf("Read(%d, %d) error = %v; want a refusal", tt.maxBytes, tt.maxLines, err)
		}
	}
}

func TestTail(t *testing.T) {
	tailer, err := NewTailer(4096, 2)
	if err != nil {
		t.Fatal(err)
	}
	home, uid := t.TempDir(), toolUID(t)
	writeLog(t, home, "a\nb\nc\n", uid)
	if got, err := tailer.Tail(context.Background(), home, uid); err != nil || got != "b | c" {
		t.Fatalf("Tail = %q, %v; want %q", got, err, "b | c")
	}

	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := tailer.Tail(cancelled, home, uid); !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), filepath.Join(home, FileName)) {
		t.Errorf("Tail with a cancelled context: %v; want context.Canceled naming the path", err)
	}
}

// Reads stuck on a hung NFS server hold their slots; the next one gives up
// at its deadline instead of piling up another blocked thread.
func TestTailGivesUpWhenEveryReadIsStuck(t *testing.T) {
	tailer, err := NewTailer(4096, 2)
	if err != nil {
		t.Fatal(err)
	}
	for range cap(tailer.slots) {
		tailer.slots <- struct{}{} // stand-ins for reads blocked in the kernel
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := tailer.Tail(ctx, t.TempDir(), toolUID(t))
		done <- err
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Tail with every slot held: %v; want context.Canceled", err)
	}
}
