package main

import (
	"errors"
	"testing"
	"time"

	"webservicemonitor/internal/config"
	"webservicemonitor/monitor"
)

func TestStallTimeout(t *testing.T) {
	defaults := config.Config{QstatTimeout: 30 * time.Second, ProxyTimeout: 10 * time.Second, ManifestTimeout: 30 * time.Second,
		StateLockWait: 2 * time.Second, RestartTimeout: 60 * time.Second}
	tests := []struct {
		name string
		edit func(c *config.Config)
		want time.Duration
	}{
		// 30s sources + 2 × 2s lock waits + 60s restart + 5s kill + 1m slack.
		{"defaults", func(c *config.Config) {}, 159 * time.Second},
		{"slowest source counts", func(c *config.Config) { c.ManifestTimeout = 2 * time.Minute }, 249 * time.Second},
		{"longer restarts", func(c *config.Config) { c.RestartTimeout = 5 * time.Minute }, 399 * time.Second},
		{"set explicitly", func(c *config.Config) { c.StallTimeout = 10 * time.Minute }, 10 * time.Minute},
	}
	for _, tt := range tests {
		c := defaults
		tt.edit(&c)
		if got := stallTimeout(&c); got != tt.want {
			t.Errorf("%s: stallTimeout = %s, want %s", tt.name, got, tt.want)
		}
	}
}

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
	if got := statusLine(rep, errors.New("state\nunavailable")); got != want {
		t.Errorf("statusLine = %q, want %q", got, want)
	}
}
