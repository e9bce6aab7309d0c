package main

import (
	"os/exec"
	"testing"
)

func TestDebianVersion(t *testing.T) {
	tests := []struct {
		describe string
		commits  int
		want     string // "" = refused
	}{
		{"v1.2.3", 0, "1.2.3"},
		{"1.2", 0, "1.2"},
		{"v1.2.3-dirty", 0, "1.2.3+dirty"},
		{"v1.2.3-4-gabcdef0", 0, "1.2.3+4.gabcdef0"},
		{"v1.2.3-4-gabcdef0-dirty", 0, "1.2.3+4.gabcdef0.dirty"},
		{"v1.3.0-rc1", 0, "1.3.0~rc1"},
		{"v1.3.0-rc1-2-g1234567", 0, "1.3.0~rc1+2.g1234567"},
		{"556cfed", 4, "0.0.0+4.g556cfed"},
		{"abcdef0-dirty", 12, "0.0.0+12.gabcdef0.dirty"},
		{"1234567", 9, "0.0.0+9.g1234567"}, // an all-digit hash is not a tag
		{"v1234567", 0, "1234567"},
		{"dev", 0, "0.0.0+dev"},
		{"", 0, ""},
		{"release one", 0, ""},
		{"v1.2.3_x", 0, ""},
	}
	for _, tt := range tests {
		got, err := DebianVersion(tt.describe, tt.commits)
		if tt.want == "" {
			if err == nil {
				t.Errorf("DebianVersion(%q) = %q, want refused", tt.describe, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("DebianVersion(%q, %d) = %q, %v; want %q", tt.describe, tt.commits, got, err, tt.want)
		}
	}
}

// TestDebianVersionOrder checks with dpkg itself that the versions sort the
// way the history goes.
func TestDebianVersionOrder(t *testing.T) {
	if _, err := exec.LookPath("dpkg"); err != nil {
		t.Skip("no dpkg to compare versions with")
	}
	history := []struct {
		describe string
		commits  int
	}{
		{"abcdef0", 3}, {"1234567", 10}, {"v1.0.0-rc1", 0}, {"v1.0.0", 0}, {"v1.0.0-1-gfedcba9", 0},
		{"v1.0.0-1-gfedcba9-dirty", 0}, {"v1.0.0-2-g0000000", 0}, {"v1.1.0", 0},
	}
	var prev string
	for _, h := range history {
		v, err := DebianVersion(h.describe, h.commits)
		if err != nil {
			t.Fatal(err)
		}
		if prev != "" {
			if err := exec.Command("dpkg", "--compare-versions", v, "gt", prev).Run(); err != nil {
				t.Errorf("dpkg does not order %s (%s) after %s", v, h.describe, prev)
			}
		}
		prev = v
	}
}
