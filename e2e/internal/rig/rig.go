// Package rig is the test rig the end-to-end suites share: it starts real
// servers and daemons as child processes (each in its own process group,
// logging to a temp file, killed at the test's cleanup), finds free
// loopback ports, waits on conditions by polling, reads HTTP and JSON
// endpoints, and runs Debian's Alertmanager for a test, with a webhook
// receiver that records what it notifies.
//
// It owns no assertion about the supervisor — those stay in each suite —
// and never sleeps for a fixed time where it can poll for a condition.
// Everything it starts listens on 127.0.0.1 only and lives in the test's
// temp directories.
package rig

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Proc is a server or daemon a test started; it is killed at cleanup
// whatever happens, and the end of its log is shown when the test failed.
type Proc struct {
	Name string
	Cmd  *exec.Cmd
	Log  string // its stdout and stderr, a file
	done chan struct{}
}

// Start runs argv with its output to a log file in the test's temp dir.
func Start(t testing.TB, name string, argv ...string) *Proc {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatalf("creating the log of %s: %v", name, err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = f, f
	// Its own process group, so that a kill takes its children too; killed
	// with the test binary even if that dies before its cleanups run.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		t.Fatalf("starting %s: %v", name, err)
	}
	p := &Proc{Name: name, Cmd: cmd, Log: logPath, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.Kill(syscall.SIGKILL)
		if t.Failed() {
			t.Logf("--- last lines of %s's log (%s) ---\n%s", name, logPath, Tail(logPath, 40))
		}
	})
	return p
}

// Kill signals the process group and waits for the process to exit; after
// 20 s it sends SIGKILL.
func (p *Proc) Kill(sig syscall.Signal) {
	if p.Exited() {
		return
	}
	_ = syscall.Kill(-p.Cmd.Process.Pid, sig)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		_ = syscall.Kill(-p.Cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// Exited says whether the process has exited (and been reaped).
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Tail returns the last n lines of a file, or why it could not be read.
func Tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// FreePort returns a loopback host:port nobody listens on right now.
func FreePort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finding a free loopback port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// WaitFor polls cond every 200 ms until it holds; on timeout the test
// fails with what cond last said. Suites wait on conditions, never sleeps.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for {
		ok, detail := cond()
		if ok {
			return
		}
		if detail != "" {
			last = detail
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s; last seen: %s", timeout, what, last)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Ready is a WaitFor condition: the URL answers 200.
func Ready(rawURL string) func() (bool, string) {
	return func() (bool, string) {
		code, body, err := Get(rawURL)
		if err != nil {
			return false, err.Error()
		}
		return code == 200, fmt.Sprintf("HTTP %d %.100s", code, body)
	}
}

// Signal sends sig to the process group without waiting (SIGSTOP, SIGCONT).
func (p *Proc) Signal(sig syscall.Signal) {
	if !p.Exited() {
		_ = syscall.Kill(-p.Cmd.Process.Pid, sig)
	}
}
