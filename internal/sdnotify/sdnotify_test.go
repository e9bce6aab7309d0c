package sdnotify

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// listen opens a unixgram socket the test owns, the way systemd does.
func listen(t *testing.T, name string) *net.UnixConn {
	t.Helper()
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// receive reads one datagram, or "" when none comes within wait.
func receive(t *testing.T, conn *net.UnixConn, wait time.Duration) string {
	t.Helper()
	buf := make([]byte, 4096)
	conn.SetReadDeadline(time.Now().Add(wait))
	n, err := conn.Read(buf)
	if err != nil {
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			return ""
		}
		t.Fatal(err)
	}
	return string(buf[:n])
}

func TestNotifySendsOneDatagram(t *testing.T) {
	tests := []struct {
		name   string
		socket func(t *testing.T) string
	}{
		{"filesystem path", func(t *testing.T) string { return filepath.Join(t.TempDir(), "notify") }},
		{"abstract name", func(t *testing.T) string {
			return fmt.Sprintf("@webservicemonitor-test-%d-%d", os.Getpid(), time.Now().UnixNano())
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := tt.socket(t)
			conn := listen(t, name)
			n, err := New(name)
			if err != nil {
				t.Fatal(err)
			}
			if err := n.Notify(context.Background(), "READY=1", "STATUS=first cycle done"); err != nil {
				t.Fatal(err)
			}
			if got := receive(t, conn, 2*time.Second); got != "READY=1\nSTATUS=first cycle done" {
				t.Errorf("datagram %q", got)
			}
		})
	}
}

func TestNotifyErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nobody-listens")
	n, _ := New(missing)
	if err := n.Notify(context.Background(), "READY=1"); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("no listener: error %v, want one naming %s", err, missing)
	}
	conn := listen(t, filepath.Join(t.TempDir(), "notify"))
	n, _ = New(conn.LocalAddr().String())
	for _, bad := range []string{"READY", "STATUS=two\nlines"} {
		if err := n.Notify(context.Background(), bad); err == nil {
			t.Errorf("Notify(%q) accepted", bad)
		}
	}
	if got := receive(t, conn, 100*time.Millisecond); got != "" {
		t.Errorf("a refused assignment was sent: %q", got)
	}
}

func TestNewWithoutSystemd(t *testing.T) {
	n, err := New("")
	if n != nil || err != nil {
		t.Fatalf("New(\"\") = %v, %v; want nil, nil", n, err)
	}
	if err := n.Notify(context.Background(), "READY=1"); err != nil {
		t.Errorf("nil Notifier: %v", err)
	}
	if _, err := New("vsock:2:1234"); err == nil {
		t.Error("vsock address accepted")
	}
}

func TestWatchdogInterval(t *testing.T) {
	tests := []struct {
		usec, pid string
		want      time.Duration
		err       bool
	}{
		{"", "", 0, false},
		{"30000000", "", 30 * time.Second, false},
		{"30000000", "42", 30 * time.Second, false},
		{"30000000", "43", 0, false}, // meant for another process
		{"0", "", 0, true},
		{"-5", "", 0, true},
		{"soon", "", 0, true},
		{"30000000", "me", 0, true},
	}
	for _, tt := range tests {
		got, err := WatchdogInterval(tt.usec, tt.pid, 42)
		if got != tt.want || (err != nil) != tt.err {
			t.Errorf("WatchdogInterval(%q, %q) = %v, %v; want %v, error %v", tt.usec, tt.pid, got, err, tt.want, tt.err)
		}
	}
}
