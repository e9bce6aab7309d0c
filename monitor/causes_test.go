package monitor

import (
	"context"
	"errors"
	"testing"

	"github.com/rs/zerolog"

	"webservicemonitor/sources/manifest"
)

func TestJobCauses(t *testing.T) {
	reason := func(_ context.Context, job int) (string, error) {
		if job == 13 {
			return "", errors.New("qstat -j 13 timed out")
		}
		return `can't open output file "/data/project/a/error.log": Permission denied`, nil
	}
	tail := func(_ context.Context, home string, _ int) (string, error) {
		if home == "/data/project/gone" {
			return "", errors.New("/data/project/gone/error.log is a symbolic link")
		}
		return "ember: cannot load config", nil
	}
	causes := JobCauses{ErrorReason: reason, ErrorLogTail: tail, Log: zerolog.Nop()}
	tool := func(home string, job int, letters string) Decision {
		return Decision{Tool: "a", Manifest: &manifest.Manifest{Home: home, Account: "tools.a", UID: 50001},
			JobNumber: job, GridState: letters}
	}
	tests := []struct {
		name string
		d    Decision
		want string
	}{
		{"job in error: SGE's reason and error.log", tool("/data/project/a", 42, "Eqw"),
			`SGE: can't open output file "/data/project/a/error.log": Permission denied; error.log: ember: cannot load config`},
		{"job gone: error.log alone", tool("/data/project/a", 0, ""), "error.log: ember: cannot load config"},
		{"queued job: no SGE reason read", tool("/data/project/a", 42, "qw"), "error.log: ember: cannot load config"},
		{"both unreadable: said so", tool("/data/project/gone", 13, "Eqw"),
			"SGE's error reason unavailable: qstat -j 13 timed out; error.log unreadable: /data/project/gone/error.log is a symbolic link"},
		{"no verified owner: error.log not read", Decision{Tool: "a", Manifest: &manifest.Manifest{Home: "/data/project/a"}}, ""},
	}
	for _, tt := range tests {
		if got := causes.Cause(context.Background(), tt.d); got != tt.want {
			t.Errorf("%s:\n got %q\nwant %q", tt.name, got, tt.want)
		}
	}
}
