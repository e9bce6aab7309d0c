// Package safeopen opens files inside directories that other users control
// (tool homes on NFS) from a process running as root: it never follows a
// symbolic link, never blocks on a FIFO, never leaks a descriptor into a
// child, and retries a system call a signal interrupted, as package os does.
//
// It owns only the opening. What makes an opened file safe to read or write
// (its owner, its kind, its link count) is the caller's to judge; FileKind
// names the kind for the caller's refusal.
package safeopen

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// homeFlags open a directory for use as the dirfd of OpenAt: a symbolic link
// or a non-directory at path fails instead of being followed or used (Linux
// says ENOTDIR for a link too: O_DIRECTORY is checked on the link itself).
const homeFlags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC

// atFlags are added to every OpenAt: a symbolic link fails with ELOOP, and a
// FIFO or device opens without waiting for its other end.
const atFlags = unix.O_NOFOLLOW | unix.O_NONBLOCK | unix.O_CLOEXEC

// OpenHome opens the directory at path, refusing a symbolic link in its last
// component, and returns its descriptor for OpenAt. The caller closes it.
func OpenHome(path string) (int, error) {
	return RetryEINTR(func() (int, error) { return unix.Open(path, homeFlags, 0) })
}

// OpenAt opens name inside the directory dirfd with flags (O_RDONLY, or
// O_WRONLY|O_APPEND and perhaps O_CREAT|O_EXCL) plus O_NOFOLLOW, O_NONBLOCK
// and O_CLOEXEC; mode is used only when a file is created. A symbolic link
// fails with ELOOP; a FIFO without a reader opened for writing, or a socket,
// fails with ENXIO. The caller closes the descriptor.
func OpenAt(dirfd int, name string, flags int, mode uint32) (int, error) {
	return RetryEINTR(func() (int, error) { return unix.Openat(dirfd, name, flags|atFlags, mode) })
}

// RetryEINTR calls call again for as long as a signal interrupts it.
func RetryEINTR(call func() (int, error)) (int, error) {
	for {
		n, err := call()
		if !errors.Is(err, unix.EINTR) {
			return n, err
		}
	}
}

// FileKind names the file type in mode (a stat's st_mode) the way a refusal
// tells it: "directory", "FIFO", "socket"...
func FileKind(mode uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFREG:
		return "regular file"
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
