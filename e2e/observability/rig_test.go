//go:build e2e

package observability

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"webservicemonitor/e2e/internal/rig"
)

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
	if err := rig.GetJSON(p.base+"/api/v1/query?query="+url.QueryEscape(q), &resp); err != nil {
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

// scrape fetches a daemon's /metrics.
func scrape(t *testing.T, addr string) []byte {
	t.Helper()
	code, body, err := rig.Get("http://" + addr + "/metrics")
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
