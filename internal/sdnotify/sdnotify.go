// Package sdnotify tells systemd how the supervisor is doing: readiness,
// status lines and watchdog keep-alives, over the sd_notify(3) datagram
// protocol, and judges from the loop's progress whether a keep-alive is
// deserved (see Watchdog).
//
// It owns the protocol (one datagram of "KEY=value" lines to the unix socket
// named by $NOTIFY_SOCKET; a name starting with '@' is in the abstract
// namespace) and the parsing of $WATCHDOG_USEC/$WATCHDOG_PID. It never reads
// the environment itself (the caller passes the values in), never decides
// anything about tools, and is a no-op when the process was not started by
// systemd with Type=notify.
package sdnotify

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// Environment variables systemd sets for a Type=notify service with a
// watchdog. The caller reads them (and should unset them, so that the
// restart commands it runs do not inherit them).
const (
	EnvSocket       = "NOTIFY_SOCKET"
	EnvWatchdogUSec = "WATCHDOG_USEC"
	EnvWatchdogPID  = "WATCHDOG_PID"
)

// sendTimeout bounds one datagram when the caller's context has no deadline:
// a unix datagram write blocks while the receiver's queue is full, and a
// stuck service manager must not stall the supervisor.
const sendTimeout = time.Second

// Notifier sends state changes to the service manager. The nil Notifier
// (not started by systemd) accepts every call and sends nothing.
type Notifier struct {
	addr *net.UnixAddr
}

// New returns a Notifier for the socket named by $NOTIFY_SOCKET, or nil when
// socket is empty. Only filesystem paths and abstract names ('@') are
// supported; systemd's vsock addresses are refused with an error.
func New(socket string) (*Notifier, error) {
	switch {
	case socket == "":
		return nil, nil
	case strings.HasPrefix(socket, "/"), strings.HasPrefix(socket, "@"):
		// Go's net package maps a leading '@' to the abstract namespace.
		return &Notifier{addr: &net.UnixAddr{Name: socket, Net: "unixgram"}}, nil
	}
	return nil, fmt.Errorf("%s=%q: not a unix socket path or abstract name", EnvSocket, socket)
}

// Notify sends the assignments (e.g. "READY=1", "STATUS=...") in one
// datagram, so that systemd sees them together.
func (n *Notifier) Notify(ctx context.Context, assignments ...string) error {
	if n == nil || len(assignments) == 0 {
		return nil
	}
	for _, a := range assignments {
		if !strings.Contains(a, "=") || strings.Contains(a, "\n") {
			return fmt.Errorf("notifying systemd: %q is not one KEY=value line", a)
		}
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(sendTimeout)
	}
	conn, err := net.DialUnix("unixgram", nil, n.addr)
	if err != nil {
		return fmt.Errorf("notifying systemd at %s: %w", n.addr.Name, err)
	}
	defer conn.Close()
	if err := conn.SetWriteDeadline(deadline); err != nil {
		return fmt.Errorf("notifying systemd at %s: %w", n.addr.Name, err)
	}
	if _, err := conn.Write([]byte(strings.Join(assignments, "\n"))); err != nil {
		return fmt.Errorf("notifying systemd at %s: %w", n.addr.Name, err)
	}
	return nil
}

// WatchdogInterval parses $WATCHDOG_USEC and $WATCHDOG_PID: it returns the
// watchdog timeout systemd enforces, or 0 when the watchdog is off or meant
// for another process (WATCHDOG_PID names a PID other than self).
func WatchdogInterval(usec, pid string, self int) (time.Duration, error) {
	if usec == "" {
		return 0, nil
	}
	if pid != "" {
		p, err := strconv.Atoi(pid)
		if err != nil {
			return 0, fmt.Errorf("%s=%q: not a PID", EnvWatchdogPID, pid)
		}
		if p != self {
			return 0, nil
		}
	}
	us, err := strconv.ParseUint(usec, 10, 63)
	if err != nil || us == 0 {
		return 0, fmt.Errorf("%s=%q: not a positive number of microseconds", EnvWatchdogUSec, usec)
	}
	if us > uint64(time.Duration(1<<62)/time.Microsecond) {
		return 0, errors.New(EnvWatchdogUSec + ": too large")
	}
	return time.Duration(us) * time.Microsecond, nil
}
