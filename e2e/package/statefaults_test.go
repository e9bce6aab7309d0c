//go:build e2e

package e2epackage

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"webservicemonitor/state"
)

// Offsets in a bbolt file (format version 2): the meta struct follows a
// 16-byte page header; its page size, high-water mark and txid are at these
// offsets in it.
const (
	boltPageHeader = 16
	boltPageSize   = 8
	boltPgid       = 40
	boltTxid       = 48
)

// usedStateFile writes a state file as a daemon that has run leaves it:
// initialised (with its marker), many tools' histories over several pages.
func usedStateFile(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := state.Open(path, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	put := map[string]state.ToolRecord{}
	for i := range 300 {
		put[fmt.Sprintf("spent%03d", i)] = state.ToolRecord{Attempts: []state.Attempt{
			{At: time.Now().Add(-time.Minute), Outcome: state.OutcomeFailed, Reason: "no grid job"},
		}, BackoffStep: 3}
	}
	for range 2 { // two transactions: both meta pages written
		if err := s.Commit(state.Changes{At: time.Now(), Put: put}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// metaField reads a little-endian field of meta page n.
func metaField(t *testing.T, data []byte, pageSize, n, off int) uint64 {
	t.Helper()
	at := n*pageSize + boltPageHeader + off
	if off == boltPageSize {
		return uint64(binary.LittleEndian.Uint32(data[at:]))
	}
	return binary.LittleEndian.Uint64(data[at:])
}

func writeAt(t *testing.T, path string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// stateDamages are the ways a used file is lost or damaged.
var stateDamages = []struct {
	name   string
	damage func(t *testing.T, path string)
}{
	{"truncated to half", func(t *testing.T, path string) {
		data, _ := os.ReadFile(path)
		ps := int(metaField(t, data, 0, 0, boltPageSize))
		used := max(metaField(t, data, ps, 0, boltPgid), metaField(t, data, ps, 1, boltPgid)) * uint64(ps)
		if err := os.Truncate(path, int64(used/2)); err != nil {
			t.Fatal(err)
		}
	}},
	{"a page of random bytes", func(t *testing.T, path string) {
		db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		var root, ps int
		db.View(func(tx *bolt.Tx) error {
			root, ps = int(tx.Bucket([]byte("tools")).Root()), tx.DB().Info().PageSize
			return nil
		})
		db.Close()
		page := make([]byte, ps)
		rnd := rand.New(rand.NewPCG(10, 10))
		for i := range page {
			page[i] = byte(rnd.Uint32())
		}
		writeAt(t, path, int64(root*ps), page)
	}},
	{"newest meta page corrupted", func(t *testing.T, path string) {
		data, _ := os.ReadFile(path)
		ps := int(metaField(t, data, 0, 0, boltPageSize))
		newest := 0
		if metaField(t, data, ps, 1, boltTxid) > metaField(t, data, ps, 0, boltTxid) {
			newest = 1
		}
		writeAt(t, path, int64(newest*ps+boltPageHeader+boltTxid), []byte{0xff, 0xff})
	}},
	{"emptied after use", func(t *testing.T, path string) {
		if err := os.Truncate(path, 0); err != nil {
			t.Fatal(err)
		}
	}},
	{"deleted after use", func(t *testing.T, path string) {
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
	}},
}

// fileState is a file's content, or that it is missing.
func fileState(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "missing"
	}
	return string(data)
}

// TestDamagedOrLostStateFile runs the built binary in every mode against a
// lost or damaged state file: none crashes, none restarts anything or
// re-creates the file; --check-config fails, --once exits 3, the audit shows
// the failed state source, and the daemon keeps running and reports the
// failing source (log and metrics) until --reset-history sets the file aside.
func TestDamagedOrLostStateFile(t *testing.T) {
	monitorBin, demogridBin := buildBinaries(t)
	world := demoWorld(t, demogridBin)
	restarts := func() int {
		g, err := world.Grid.Load()
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, c := range g.Restarts {
			n += c
		}
		return n
	}
	for _, d := range stateDamages {
		t.Run(d.name, func(t *testing.T) {
			path := usedStateFile(t)
			d.damage(t, path)
			before := fileState(path)
			sup := func(args ...string) result {
				t.Helper()
				return runCmd(t, nil, append([]string{monitorBin, "--config", world.ConfigFile, "--state-file", path, "--log-format", "json"}, args...)...)
			}
			named := func(mode string, r result) {
				t.Helper()
				if out := r.stdout + r.stderr; !strings.Contains(out, path) || crashed(out) {
					t.Errorf("%s: the output does not name %s, or shows a crash:\n%s", mode, path, out)
				}
			}
			restartsBefore := restarts()

			r := sup("--check-config")
			if r.code != 3 || !strings.Contains(r.stderr, "--reset-history") {
				t.Errorf("--check-config: exit %d, want 3 and the fix\n%s%s", r.code, r.stdout, r.stderr)
			}
			named("--check-config", r)

			r = sup("--dry-run", "--output", "json")
			if r.code != 2 && r.code != 3 {
				t.Errorf("--dry-run: exit %d, want 2 or 3\n%s%s", r.code, r.stdout, r.stderr)
			}
			if !strings.Contains(r.stdout, `"state"`) {
				t.Errorf("--dry-run: the state source is not in the audit:\n%s", r.stdout)
			}
			named("--dry-run", r)

			r = sup("--once")
			if r.code != 3 {
				t.Errorf("--once: exit %d, want 3\n%s%s", r.code, r.stdout, r.stderr)
			}
			named("--once", r)

			runDaemonOnUnusableHistory(t, monitorBin, world.ConfigFile, path)

			if got := restarts() - restartsBefore; got != 0 {
				t.Errorf("%d restarts on an unusable history", got)
			}
			if fileState(path) != before {
				t.Error("the lost or damaged file was changed or re-created")
			}

			r = sup("--reset-history")
			if r.code != 0 || !strings.Contains(r.stdout, "started a fresh") {
				t.Fatalf("--reset-history: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
			if before != "missing" {
				aside, _ := filepath.Glob(path + ".unusable-*")
				if len(aside) != 1 || fileState(aside[0]) != before || !strings.Contains(r.stdout, "renamed "+path+" to "+aside[0]) {
					t.Errorf("set aside as %v; output:\n%s", aside, r.stdout)
				}
			}
			if r := sup("--check-config"); r.code != 0 {
				t.Errorf("--check-config after --reset-history: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
		})
	}
}

// runDaemonOnUnusableHistory starts the daemon, waits until it has reported
// the state source failing in its log and its metrics, and checks that it
// is still running.
func runDaemonOnUnusableHistory(t *testing.T, bin, configFile, path string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	daemon := exec.Command(bin, "--config", configFile, "--state-file", path, "--log-format", "json",
		"--interval", "1s", "--listen", addr)
	logs, err := daemon.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var logText strings.Builder
	failedSource := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(logs)
		sc.Buffer(nil, 1<<20)
		once := sync.Once{}
		for sc.Scan() {
			line := sc.Text()
			mu.Lock()
			logText.WriteString(line + "\n")
			mu.Unlock()
			if strings.Contains(line, "source failed") && strings.Contains(line, `"source":"state"`) {
				once.Do(func() { close(failedSource) })
			}
		}
		io.Copy(io.Discard, logs)
	}()
	exited := make(chan error, 1)
	go func() { exited <- daemon.Wait() }()
	defer func() {
		daemon.Process.Kill()
		<-exited
	}()
	fail := func(format string, args ...any) {
		t.Helper()
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("daemon: "+format+"\nlog:\n%s", append(args, logText.String())...)
	}
	select {
	case <-failedSource:
	case err := <-exited:
		fail("exited (%v) instead of reporting the failing state source", err)
	case <-time.After(60 * time.Second):
		fail("no \"source failed\" for the state source")
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if m := metricsText(addr); strings.Contains(m, "webservicemonitor_source_errors_total{") && sourceErrorLine(m, "state") {
			break
		}
		if time.Now().After(deadline) {
			fail("no webservicemonitor_source_errors_total for source state in /metrics")
		}
		time.Sleep(200 * time.Millisecond)
	}
	select {
	case err := <-exited:
		fail("exited (%v)", err)
	default:
	}
}

func metricsText(addr string) string {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// sourceErrorLine tells whether the metrics count an error of source.
func sourceErrorLine(metrics, source string) bool {
	for _, line := range strings.Split(metrics, "\n") {
		if strings.HasPrefix(line, "webservicemonitor_source_errors_total{") && strings.Contains(line, `source="`+source+`"`) &&
			!strings.HasSuffix(line, " 0") {
			return true
		}
	}
	return false
}

// crashed tells a Go crash's output: a panic or fatal signal with its
// goroutine dump.
func crashed(out string) bool {
	return strings.Contains(out, "\ngoroutine ") || strings.HasPrefix(out, "panic: ") || strings.Contains(out, "\npanic: ") ||
		strings.Contains(out, "fatal error:") || strings.Contains(out, "[signal SIGBUS")
}
