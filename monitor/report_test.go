package monitor

import (
	"testing"
	"time"
)

func TestAuditTimeShowsTheDateWhenNotToday(t *testing.T) {
	today := time.Date(2026, 11, 29, 23, 50, 0, 0, time.UTC)
	tests := []struct {
		name string
		t    time.Time
		want string
	}{
		{"later today", today.Add(5 * time.Minute), "23:55:00"},
		{"tomorrow", today.Add(15 * time.Minute), "2026-11-30 00:05:00"},
		{"a year ahead", today.AddDate(1, 0, 0), "2027-11-29 23:50:00"},
		{"yesterday", today.Add(-24 * time.Hour), "2026-11-28 23:50:00"},
		{"in another zone, same UTC day", today.In(time.FixedZone("east", 3*3600)), "23:50:00"},
	}
	for _, tt := range tests {
		if got := auditTime(tt.t, today); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestAuditShowsUnsafeNamesQuoted(t *testing.T) {
	tests := []struct{ name, want string }{
		{"mytool", "mytool"},
		{"evil\x1b[31mred", `"evil\x1b[31mred"`},
		{"rlo\u202etxt.exe", `"rlo\u202etxt.exe"`},
		{"a b", `"a b"`},
	}
	for _, tt := range tests {
		if got := displayTool(tt.name); got != tt.want {
			t.Errorf("displayTool(%q) = %s, want %s", tt.name, got, tt.want)
		}
	}
}
