package state

import (
	"errors"
	"time"
)

// daemonLockRetry is how often AcquireDaemonLockWait tries a held lock again.
const daemonLockRetry = 50 * time.Millisecond

// AcquireDaemonLockWait is AcquireDaemonLock retried for up to wait while
// another process holds the lock. A daemon killed with SIGKILL can keep its
// flock for a moment after its death has been reported to its parent: Linux
// may defer the last close of a dying process's files to a work queue
// (measured on the real-grid soak: about 1 kill in 15). A supervisor started
// again at once (systemd Restart=always, a test) must not take that for a
// second daemon and exit; a daemon that really runs still refuses it after
// wait, naming its PID. A zero wait is one try.
func AcquireDaemonLockWait(path string, wait time.Duration) (release func() error, err error) {
	deadline := time.Now().Add(wait)
	for {
		release, err = AcquireDaemonLock(path)
		if err == nil || !errors.Is(err, ErrLocked) || !time.Now().Before(deadline) {
			return release, err
		}
		time.Sleep(min(daemonLockRetry, time.Until(deadline)))
	}
}
