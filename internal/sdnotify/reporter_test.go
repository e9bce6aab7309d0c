package sdnotify

import (
	"errors"
	"testing"
	"time"

	"webservicemonitor/monitor"
)

func TestStatusLine(t *testing.T) {
	rep := monitor.Report{
		Started: time.Date(2025, 3, 14, 9, 26, 0, 0, time.UTC),
		Plan: monitor.Plan{Desired: 3, Decisions: []monitor.Decision{
			{Tool: "a", Action: monitor.ActionNone}, {Tool: "b", Action: monitor.ActionRestart}, {Tool: "c", Action: monitor.ActionGiveUp},
		}},
		Results: []monitor.Result{{Tool: "b"}},
		Sources: []monitor.SourceStatus{{Name: monitor.SourceGrid, Err: errors.New("qstat: exit status 1")}, {Name: monitor.SourceProxy}},
	}
	// One line: systemd takes STATUS= up to the end of the line.
	want := "cycle at 09:26:00: 3 desired, 1 up, 1 restarted, 1 given up; failed sources: grid; state unavailable"
	if got := StatusLine(rep, errors.New("state\nunavailable")); got != want {
		t.Errorf("StatusLine = %q, want %q", got, want)
	}
}
