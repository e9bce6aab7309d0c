package monitor

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"webservicemonitor/state"
)

// fixedCause is a CauseFinder that finds the same cause for every tool.
type fixedCause string

func (c fixedCause) Cause(context.Context, Decision) string { return string(c) }

// A restart whose command exited 0 is settled by what the next cycles
// see: not-up with its cause when the tool stays down past the up timeout,
// succeeded when it is seen up. service.log calls only the latter
// "restarted".
func TestCycleRestartCountsWhenSeenUp(t *testing.T) {
	r := newRig()
	r.manifests.tools = []string{"a", "b"}
	r.causes = fixedCause("error.log: ember: cannot load config")
	toolLog := &memToolLog{}
	r.reporters = []Reporter{ToolLogReporter{Out: toolLog, Log: zerolog.Nop()}}
	lastOf := func(tool string) state.Attempt {
		a := r.history.records[tool].Attempts
		return a[len(a)-1]
	}

	steps := []struct {
		at        time.Duration
		up        bool
		outcomes  []state.Outcome // b's attempts after the cycle
		wantCode  Code
		wantLines []string // substrings of the lines b's service.log gains
	}{
		{0, false, []state.Outcome{state.OutcomePendingVerification}, CodeNoJob,
			[]string{"restart of the lighttpd web service submitted, waiting for it to be seen up: no lighttpd-b job on the grid; restart 1 of 3"}},
		{time.Minute, false, []state.Outcome{state.OutcomePendingVerification}, CodeVerifying, nil},
		{6 * time.Minute, false, []state.Outcome{state.OutcomeNotUp, state.OutcomePendingVerification}, CodeNoJob, []string{
			"restart of the lighttpd web service did not bring it up: not up within 5m0s after the restart command returned: no lighttpd-b job on the grid; error.log: ember: cannot load config; the restart was asked because no lighttpd-b job on the grid; restart 1 of 3",
			"restart of the lighttpd web service submitted, waiting for it to be seen up: no lighttpd-b job on the grid; restart 2 of 3"}},
		{7 * time.Minute, true, []state.Outcome{state.OutcomeNotUp, state.OutcomeSucceeded}, CodeHealthy,
			[]string{"restarted the lighttpd web service: seen up 1m0s after its restart began; the restart was asked because no lighttpd-b job on the grid; restart 2 of 3"}},
	}
	for i, s := range steps {
		r.now = cycleT0.Add(s.at)
		if s.up {
			r.grid.running, r.proxy.registered = []string{"a", "b"}, []string{"a", "b"}
		}
		before := len(toolLog.lines["/data/project/b"])
		rep, err := r.run(t)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		var got []state.Outcome
		for _, a := range r.history.records["b"].Attempts {
			got = append(got, a.Outcome)
		}
		if !equalOutcomes(got, s.outcomes) {
			t.Errorf("step %d: b's attempts %v, want %v", i, got, s.outcomes)
		}
		if d := decisionOf(rep, "b"); d.Code != s.wantCode {
			t.Errorf("step %d: b's decision %s/%s (%s), want code %s", i, d.Action, d.Code, d.Reason, s.wantCode)
		}
		lines := toolLog.lines["/data/project/b"][before:]
		if len(lines) != len(s.wantLines) {
			t.Fatalf("step %d: service.log gained %q, want %d lines", i, lines, len(s.wantLines))
		}
		for k, want := range s.wantLines {
			if !strings.Contains(lines[k], want) {
				t.Errorf("step %d: service.log line\n  %q\ndoes not contain\n  %q", i, lines[k], want)
			}
		}
	}
	if first := r.history.records["b"].Attempts[0]; !strings.HasSuffix(first.Detail, "; error.log: ember: cannot load config") {
		t.Errorf("the not-up attempt's recorded detail %q lacks its cause", first.Detail)
	}
	if last := lastOf("b"); last.Outcome != state.OutcomeSucceeded {
		t.Errorf("b's last attempt %+v", last)
	}
	for _, line := range toolLog.lines["/data/project/b"][:3] {
		if strings.Contains(line, "restarted") {
			t.Errorf("a restart not seen up was told as restarted: %q", line)
		}
	}
}

func equalOutcomes(a, b []state.Outcome) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func decisionOf(rep Report, tool string) Decision {
	for _, d := range rep.Plan.Decisions {
		if d.Tool == tool {
			return d
		}
	}
	return Decision{}
}
