package safeopen

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// tree lays out a home with one thing of each kind the callers meet.
func tree(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	home := filepath.Join(root, "home")
	mustDo(t, os.Mkdir(home, 0o755))
	mustDo(t, os.WriteFile(filepath.Join(home, "file"), []byte("x"), 0o644))
	mustDo(t, os.Mkdir(filepath.Join(home, "dir"), 0o755))
	mustDo(t, syscall.Mkfifo(filepath.Join(home, "fifo"), 0o644))
	mustDo(t, os.Symlink("file", filepath.Join(home, "link")))
	mustDo(t, os.Symlink("home", filepath.Join(root, "home-link")))
	return root
}

func mustDo(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestOpenHome(t *testing.T) {
	root := tree(t)
	tests := []struct {
		name string
		path string
		want error // nil: opens
	}{
		{"a directory", "home", nil},
		// O_DIRECTORY is checked on the link itself, which is no directory.
		{"a symbolic link to a directory", "home-link", unix.ENOTDIR},
		{"a regular file", "home/file", unix.ENOTDIR},
		{"missing", "gone", unix.ENOENT},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fd, err := OpenHome(filepath.Join(root, tt.path))
			if err == nil {
				defer unix.Close(fd)
			}
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("OpenHome(%s) = %v, want %v", tt.path, err, tt.want)
			}
			if err != nil {
				return
			}
			flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
			if err != nil || flags&unix.FD_CLOEXEC == 0 {
				t.Errorf("descriptor flags %#x (%v), want close-on-exec", flags, err)
			}
		})
	}
}

func TestOpenAt(t *testing.T) {
	root := tree(t)
	dirfd, err := OpenHome(filepath.Join(root, "home"))
	mustDo(t, err)
	defer unix.Close(dirfd)
	tests := []struct {
		name     string
		file     string
		flags    int
		want     error // nil: opens
		wantKind string
	}{
		{"a regular file, read", "file", unix.O_RDONLY, nil, "regular file"},
		{"a regular file, append", "file", unix.O_WRONLY | unix.O_APPEND, nil, "regular file"},
		{"a symbolic link is not followed", "link", unix.O_RDONLY, unix.ELOOP, ""},
		{"a FIFO opens for reading without blocking", "fifo", unix.O_RDONLY, nil, "FIFO"},
		{"a FIFO without a reader is refused for writing", "fifo", unix.O_WRONLY | unix.O_APPEND, unix.ENXIO, ""},
		{"a directory opens for reading", "dir", unix.O_RDONLY, nil, "directory"},
		{"a directory is refused for writing", "dir", unix.O_WRONLY | unix.O_APPEND, unix.EISDIR, ""},
		{"missing", "gone", unix.O_RDONLY, unix.ENOENT, ""},
		{"create refuses an existing name", "file", unix.O_WRONLY | unix.O_CREAT | unix.O_EXCL, unix.EEXIST, ""},
		{"create refuses a symbolic link", "link", unix.O_WRONLY | unix.O_CREAT | unix.O_EXCL, unix.EEXIST, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fd, err := OpenAt(dirfd, tt.file, tt.flags, 0o644)
			if err == nil {
				defer unix.Close(fd)
			}
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("OpenAt(%s) = %v, want %v", tt.file, err, tt.want)
			}
			if err != nil {
				return
			}
			var st unix.Stat_t
			mustDo(t, unix.Fstat(fd, &st))
			if got := FileKind(st.Mode); got != tt.wantKind {
				t.Errorf("opened a %s, want a %s", got, tt.wantKind)
			}
			flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
			if err != nil || flags&unix.O_NONBLOCK == 0 {
				t.Errorf("file status flags %#x (%v), want O_NONBLOCK", flags, err)
			}
		})
	}
}

func TestOpenAtCreates(t *testing.T) {
	root := tree(t)
	dirfd, err := OpenHome(filepath.Join(root, "home"))
	mustDo(t, err)
	defer unix.Close(dirfd)
	fd, err := OpenAt(dirfd, "new", unix.O_WRONLY|unix.O_APPEND|unix.O_CREAT|unix.O_EXCL, 0o600)
	mustDo(t, err)
	defer unix.Close(fd)
	var st unix.Stat_t
	mustDo(t, unix.Fstat(fd, &st))
	if st.Mode&unix.S_IFMT != unix.S_IFREG || st.Mode&0o077 != 0 {
		t.Errorf("created mode %#o, want a regular file without group or other bits", st.Mode)
	}
}

func TestRetryEINTR(t *testing.T) {
	tests := []struct {
		name      string
		errs      []error // answers in turn; the last repeats
		wantCalls int
		wantErr   error
	}{
		{"success at once", []error{nil}, 1, nil},
		{"interrupted twice, then success", []error{unix.EINTR, unix.EINTR, nil}, 3, nil},
		{"interrupted, then another error", []error{unix.EINTR, unix.EIO}, 2, unix.EIO},
		{"a wrapped EINTR is retried too", []error{&os.SyscallError{Syscall: "open", Err: unix.EINTR}, nil}, 2, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			n, err := RetryEINTR(func() (int, error) {
				err := tt.errs[min(calls, len(tt.errs)-1)]
				calls++
				if err != nil {
					return -1, err
				}
				return 7, nil
			})
			if calls != tt.wantCalls || !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Errorf("%d calls, error %v; want %d calls, error %v", calls, err, tt.wantCalls, tt.wantErr)
			}
			if err == nil && n != 7 {
				t.Errorf("returned %d, want the call's 7", n)
			}
		})
	}
}

func TestFileKind(t *testing.T) {
	tests := []struct {
		mode uint32
		want string
	}{
		{unix.S_IFREG | 0o644, "regular file"},
		{unix.S_IFDIR | 0o755, "directory"},
		{unix.S_IFIFO | 0o600, "FIFO"},
		{unix.S_IFSOCK | 0o777, "socket"},
		{unix.S_IFCHR | 0o666, "character device"},
		{unix.S_IFBLK | 0o660, "block device"},
		{unix.S_IFLNK | 0o777, "symbolic link"},
		{0o644, "file of type 0"},
	}
	for _, tt := range tests {
		if got := FileKind(tt.mode); got != tt.want {
			t.Errorf("FileKind(%#o) = %q, want %q", tt.mode, got, tt.want)
		}
	}
}
