package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"webservicemonitor/internal/config"
)

// TestLogFormats: auto writes JSON where the log is not a terminal (the
// journal, a pipe); console forces the console writer, without colour off
// a terminal; durations carry their unit either way.
func TestLogFormats(t *testing.T) {
	tests := []struct {
		format string
		json   bool
	}{
		{config.LogFormatAuto, true},
		{"json", true},
		{"console", false},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			var out bytes.Buffer
			cfg := config.Defaults()
			cfg.LogFormat = tt.format
			log := newLogger(cfg, &out)
			log.Info().Dur("took", 1500*time.Millisecond).Msg("cycle done")
			var line map[string]any
			isJSON := json.Unmarshal(out.Bytes(), &line) == nil
			switch {
			case isJSON != tt.json:
				t.Errorf("JSON %v, want %v: %q", isJSON, tt.json, out.String())
			case isJSON && line["took"] != "1.5s":
				t.Errorf("took %v, want \"1.5s\"", line["took"])
			case !isJSON && !strings.Contains(out.String(), "took=1.5s"):
				t.Errorf("console line %q lacks took=1.5s", out.String())
			case strings.Contains(out.String(), "\x1b["):
				t.Errorf("colour off a terminal: %q", out.String())
			}
		})
	}
}
