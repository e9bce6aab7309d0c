//go:build e2e

package e2epackage

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	shellquote "github.com/kballard/go-shellquote"
)

// notification is one datagram the daemon sent to the notify socket.
type notification struct {
	at   time.Time
	text string
}

// notifySocket is the systemd side of sd_notify(3): a unixgram socket the
// test owns, recording every datagram.
type notifySocket struct {
	path string
	conn *net.UnixConn
	mu   sync.Mutex
	got  []notification
}

func listenNotify(t *testing.T) *notifySocket {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	s := &notifySocket{path: path, conn: conn}
	go func() {
		buf := make([]byte, 8192)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			s.mu.Lock()
			s.got = append(s.got, notification{time.Now(), string(buf[:n])})
			s.mu.Unlock()
		}
	}()
	t.Cleanup(func() { conn.Close() })
	return s
}

func (s *notifySocket) all() []notification {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]notification(nil), s.got...)
}

// waitFor waits until a datagram after index from contains want, and
// returns its index.
func (s *notifySocket) waitFor(t *testing.T, from int, want string, within time.Duration) int {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		for i, n := range s.all() {
			if i >= from && strings.Contains(n.text, want) {
				return i
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no %q from the daemon within %s; got %+v", want, within, s.all())
	return -1
}

// TestWatchdog runs the daemon against the demo platform as systemd would
// (NOTIFY_SOCKET, WATCHDOG_USEC): it becomes ready after its first cycle,
// pings the watchdog while its loop makes progress, stops pinging while a
// cycle hangs (here: a qstat that sleeps past stall-timeout but within its
// own, long, deadline), resumes once the cycle moves again, and says
// STOPPING=1 on SIGTERM.
func TestWatchdog(t *testing.T) {
	monitorBin, demogridBin := buildBinaries(t)
	world := demoWorld(t, demogridBin)
	dir := t.TempDir()
	hang := filepath.Join(dir, "hang")
	envSeen := filepath.Join(dir, "qstat-env")

	// qstat as the daemon runs it: records its environment, hangs for 4s
	// while the hang file exists, then answers from the demo grid.
	qstat := filepath.Join(dir, "qstat")
	script := "#!/bin/sh\nenv > " + shellquote.Join(envSeen) + "\nif [ -e " + shellquote.Join(hang) + " ]; then sleep 4; fi\nexec " +
		shellquote.Join(demogridBin, "qstat", "--grid", world.Grid.Dir) + "\n"
	if err := os.WriteFile(qstat, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}

	sock := listenNotify(t)
	logs := &syncBuffer{}
	daemon := exec.Command(monitorBin, "--config", world.ConfigFile, "--log-format", "json",
		"--qstat", qstat, "--qstat-timeout", "60s", "--stall-timeout", "1500ms", "--interval", "1s")
	// A 400ms watchdog: keep-alives every 200ms.
	daemon.Env = append(os.Environ(), "NOTIFY_SOCKET="+sock.path, "WATCHDOG_USEC=400000")
	daemon.Stderr = logs
	daemon.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- daemon.Wait() }()
	t.Cleanup(func() {
		syscall.Kill(-daemon.Process.Pid, syscall.SIGKILL)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
		}
		if t.Failed() {
			t.Logf("daemon log:\n%s", logs.String())
		}
	})

	ready := sock.waitFor(t, 0, "READY=1", 20*time.Second)
	if text := sock.all()[ready].text; !strings.Contains(text, "STATUS=cycle at ") {
		t.Errorf("READY=1 came without the cycle's status: %q", text)
	}
	first := sock.waitFor(t, ready, "WATCHDOG=1", 2*time.Second)
	sock.waitFor(t, first+1, "WATCHDOG=1", 2*time.Second)
	if env, err := os.ReadFile(envSeen); err != nil || strings.Contains(string(env), "NOTIFY_SOCKET") || strings.Contains(string(env), "WATCHDOG_USEC") {
		t.Errorf("qstat inherited systemd's variables (or did not run: %v):\n%s", err, env)
	}

	// Hang the next qstat: the keep-alives must stop for the rest of the
	// hang, with one STATUS saying why, then come back.
	if err := os.WriteFile(hang, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	hangAt := len(sock.all())
	stalled := sock.waitFor(t, hangAt, "STATUS=the supervisor loop has made no progress", 8*time.Second)
	os.Remove(hang)
	resumed := sock.waitFor(t, stalled, "WATCHDOG=1", 8*time.Second)
	got := sock.all()
	gap := got[resumed].at.Sub(got[stalled].at)
	for _, n := range got[stalled+1 : resumed] {
		// Only the hung cycle's own status, once it finally ends.
		if !strings.HasPrefix(n.text, "STATUS=cycle at ") {
			t.Errorf("sent while stalled: %q", n.text)
		}
	}
	// The hang lasts 4s and counts as a stall after 1.5s: about 2.5s of silence.
	if gap < 1500*time.Millisecond {
		t.Errorf("keep-alives resumed %s after the stall was reported; the hang had seconds left", gap)
	}
	// Between READY and the hang, keep-alives came every ~200ms.
	var last time.Time
	for _, n := range got[ready:stalled] {
		if n.text != "WATCHDOG=1" {
			continue
		}
		if !last.IsZero() && n.at.Sub(last) > time.Second {
			t.Errorf("a %s gap between keep-alives before the hang", n.at.Sub(last))
		}
		last = n.at
	}
	for _, want := range []string{"no progress for", "making progress again"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("the daemon's log does not say %q", want)
		}
	}

	// SIGTERM: STOPPING=1, then a clean exit.
	stopAt := len(sock.all())
	daemon.Process.Signal(syscall.SIGTERM)
	sock.waitFor(t, stopAt, "STOPPING=1", 10*time.Second)
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("daemon exit after SIGTERM: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the daemon did not exit after SIGTERM")
	}
}

// syncBuffer lets the test read the daemon's log while it is written.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
