package main

import (
	"testing"
	"time"

	"webservicemonitor/internal/config"
)

func TestStallTimeout(t *testing.T) {
	defaults := config.Config{QstatTimeout: 30 * time.Second, ProxyTimeout: 10 * time.Second, ManifestTimeout: 30 * time.Second,
		StateLockWait: 2 * time.Second, RestartTimeout: 60 * time.Second}
	tests := []struct {
		name string
		edit func(c *config.Config)
		want time.Duration
	}{
		// 30s sources + 2 × 2s lock waits + (3 clears + 1 restart) × 60s + 5s kill + 1m slack.
		{"defaults", func(c *config.Config) {}, 339 * time.Second},
		{"slowest source counts", func(c *config.Config) { c.ManifestTimeout = 2 * time.Minute }, 429 * time.Second},
		{"longer restarts", func(c *config.Config) { c.RestartTimeout = 5 * time.Minute }, 1299 * time.Second},
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
