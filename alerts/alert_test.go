package alerts

import (
	"strings"
	"testing"
)

func TestRunbookURL(t *testing.T) {
	tests := []struct {
		base, name, want string
	}{
		{"", NameGivenUp, ""},
		{"https://wiki.example/Runbooks/webservicemonitor", NameGivenUp, "https://wiki.example/Runbooks/webservicemonitor#webservicemonitorgivenup"},
		{"https://wiki.example/README.md#runbooks", NameValve, "https://wiki.example/README.md#webservicemonitorsafetyvalve"},
		{"https://wiki.example/r?page=wsm", NameSourceFailing, "https://wiki.example/r?page=wsm#webservicemonitorsourcefailing"},
	}
	for _, tt := range tests {
		if got := RunbookURL(tt.base, tt.name); got != tt.want {
			t.Errorf("RunbookURL(%q, %q) = %q, want %q", tt.base, tt.name, got, tt.want)
		}
	}
}

// One style for every alert name: routes and silences match
// WebserviceMonitor.* (the shipped rules are named the same way).
func TestAlertNamesShareOnePrefix(t *testing.T) {
	for _, n := range Names() {
		if !strings.HasPrefix(n, "WebserviceMonitor") {
			t.Errorf("alert %s is not named WebserviceMonitor…", n)
		}
	}
}
