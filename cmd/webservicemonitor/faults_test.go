package main

import (
	"bytes"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Faults around the loop that must never stop supervision, checked on the
// built binary: a taken metrics port and SIGHUP.

// lockedBuffer is a daemon's stderr, read while it is written.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor waits until cond holds; the limit only ends a test that would
// otherwise hang, it is not what the test measures.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestDaemonSurvivesTakenPortAndHangup(t *testing.T) {
	r := newRig(t)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := taken.Addr().String()
	defer taken.Close()

	var stderr lockedBuffer
	daemon := exec.Command(r.bin, append(append([]string{"--config", r.world.ConfigFile}, r.options...),
		"--interval", "1s", "--listen", addr)...)
	daemon.Stderr = &stderr
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- daemon.Wait() }()
	defer func() {
		_ = daemon.Process.Signal(syscall.SIGKILL)
		<-exited
	}()
	cycles := func() int { return strings.Count(stderr.String(), `"message":"cycle finished"`) }
	alive := func() {
		t.Helper()
		select {
		case err := <-exited:
			t.Fatalf("the daemon exited (%v):\n%s", err, stderr.String())
		default:
		}
	}

	// The port is taken: said in the log, and the cycles run regardless.
	waitFor(t, "two cycles with the port taken", func() bool { return cycles() >= 2 })
	alive()
	if !strings.Contains(stderr.String(), "cannot serve metrics") || !strings.Contains(stderr.String(), "address already in use") {
		t.Errorf("the taken port is not in the log:\n%s", stderr.String())
	}

	// SIGHUP reloads the (unchanged) configuration; the daemon goes on.
	if err := daemon.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the SIGHUP log line", func() bool {
		return strings.Contains(stderr.String(), "SIGHUP: the new configuration is in use from the next cycle")
	})
	after := cycles()
	waitFor(t, "a cycle after SIGHUP", func() bool { return cycles() > after })
	alive()

	// Once the port is free the metrics come up.
	taken.Close()
	waitFor(t, "the metrics listener", func() bool {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	alive()

	if err := daemon.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := <-exited; err != nil {
		t.Errorf("after SIGTERM: %v\n%s", err, stderr.String())
	}
	exited <- nil // for the deferred kill
}
