//go:build e2e

package observability

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// proc is a server or daemon the test started; it is killed at cleanup
// whatever happens, and its log is shown when the test fails.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

func start(t *testing.T, name string, argv ...string) *proc {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = f, f
	// Its own process group, so that kill takes its children too; killed
	// with the test binary even if that dies before its cleanups run.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.kill(syscall.SIGKILL)
		if t.Failed() {
			t.Logf("--- last lines of %s's log (%s) ---\n%s", name, logPath, tail(logPath, 40))
		}
	})
	return p
}

// kill signals the process group and waits for the process to exit.
func (p *proc) kill(sig syscall.Signal) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, sig)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func tail(path string, n int) string {
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

// freePort returns a loopback port nobody listens on right now.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// waitFor polls cond until it holds; on timeout the test fails with what
// cond last said. Every wait in this test is on a condition, never a sleep.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
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

func get(rawURL string) (int, []byte, error) {
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(rawURL)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	return resp.StatusCode, body, err
}

func getJSON(rawURL string, v any) error {
	code, body, err := get(rawURL)
	if err != nil {
		return err
	}
	if code != http.StatusOK {
		return fmt.Errorf("GET %s: HTTP %d: %.200s", rawURL, code, body)
	}
	return json.Unmarshal(body, v)
}

// ready is a waitFor condition: the URL answers 200.
func ready(rawURL string) func() (bool, string) {
	return func() (bool, string) {
		code, body, err := get(rawURL)
		if err != nil {
			return false, err.Error()
		}
		return code == http.StatusOK, fmt.Sprintf("HTTP %d %.100s", code, body)
	}
}

// prometheus is the query API of a real Prometheus.
type prometheus struct{ base string }

type sample struct {
	Metric map[string]string
	Value  float64
}

func (p prometheus) query(q string) ([]sample, error) {
	var resp struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string `json:"resultType"`
			Result     []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := getJSON(p.base+"/api/v1/query?query="+url.QueryEscape(q), &resp); err != nil {
		return nil, fmt.Errorf("query %s: %w", q, err)
	}
	if resp.Status != "success" {
		return nil, fmt.Errorf("query %s: %s", q, resp.Error)
	}
	var out []sample
	for _, r := range resp.Data.Result {
		s, _ := r.Value[1].(string)
		v, _ := strconv.ParseFloat(s, 64)
		out = append(out, sample{Metric: r.Metric, Value: v})
	}
	return out, nil
}

// labelSet is the sorted values of one label across samples.
func labelSet(samples []sample, label string) []string {
	var out []string
	for _, s := range samples {
		out = append(out, s.Metric[label])
	}
	slices.Sort(out)
	return out
}

// amAlert is one alert as Alertmanager's API v2 lists it.
type amAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	StartsAt    time.Time         `json:"startsAt"`
	EndsAt      time.Time         `json:"endsAt"`
	Fingerprint string            `json:"fingerprint"`
	Status      struct {
		State string `json:"state"`
	} `json:"status"`
}

func amAlerts(base string) ([]amAlert, error) {
	var out []amAlert
	err := getJSON(base+"/api/v2/alerts", &out)
	return out, err
}

func named(alerts []amAlert, alertname string) []amAlert {
	var out []amAlert
	for _, a := range alerts {
		if a.Labels["alertname"] == alertname {
			out = append(out, a)
		}
	}
	return out
}

// webhook is the receiver Alertmanager notifies: it records every
// notification in order.
type webhook struct {
	mu   sync.Mutex
	msgs []hookAlert
}

type hookAlert struct {
	Status      string            `json:"status"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	StartsAt    time.Time         `json:"startsAt"`
	Fingerprint string            `json:"fingerprint"`
}

func (h *webhook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var msg struct {
		Alerts []hookAlert `json:"alerts"`
	}
	if err := json.NewDecoder(r.Body).Decode(&msg); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	h.msgs = append(h.msgs, msg.Alerts...)
	h.mu.Unlock()
}

// seen returns, in order, the statuses notified for alerts with the label.
func (h *webhook) seen(label, value string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, a := range h.msgs {
		if a.Labels[label] == value {
			out = append(out, a.Status)
		}
	}
	return out
}

// scrape fetches a daemon's /metrics.
func scrape(t *testing.T, addr string) []byte {
	t.Helper()
	code, body, err := get("http://" + addr + "/metrics")
	if err != nil || code != http.StatusOK {
		t.Fatalf("scraping %s: HTTP %d, %v", addr, code, err)
	}
	return body
}

// sampleNames lists the metric names of the samples in an exposition.
func sampleNames(exposition []byte) map[string]bool {
	names := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(exposition))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if i := strings.IndexAny(line, "{ "); i > 0 {
			names[line[:i]] = true
		}
	}
	return names
}

// metricValue sums the samples of name whose line contains every filter.
func metricValue(exposition []byte, name string, filters ...string) (float64, bool) {
	sum, found := 0.0, false
	for _, line := range strings.Split(string(exposition), "\n") {
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		ok := true
		for _, f := range filters {
			ok = ok && strings.Contains(line, f)
		}
		if !ok {
			continue
		}
		fields := strings.Fields(line)
		v, err := strconv.ParseFloat(fields[len(fields)-1], 64)
		if err == nil {
			sum, found = sum+v, true
		}
	}
	return sum, found
}

func run(t *testing.T, stdin []byte, argv ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdin = bytes.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
	}
	return string(out)
}
