package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"webservicemonitor/ha"
	"webservicemonitor/internal/config"
	"webservicemonitor/state"
	"webservicemonitor/state/etcdstore"
)

// sampleDump is a history with one of everything a dump carries: records
// (a forgiven attempt, one by another host), actions with a gap in their
// numbering (pruned ones), a firing alert, the last cycle.
func sampleDump() state.Dump {
	at := time.Date(2026, 11, 30, 5, 0, 0, 123456789, time.UTC)
	return state.Dump{
		Records: state.Records{
			{Tool: "alpha", Record: state.ToolRecord{BackoffStep: 2, DownSince: at.Add(-time.Hour), Attempts: []state.Attempt{
				{At: at.Add(-50 * time.Minute), Outcome: state.OutcomeFailed, Reason: "no grid job", Detail: "exit 1", Duration: 1500 * time.Millisecond, Forgiven: true},
				{At: at.Add(-10 * time.Minute), Outcome: state.OutcomeStarted, Reason: "no grid job", Host: "cron-b"},
			}}},
			{Tool: "beta", Record: state.ToolRecord{UpSince: at.Add(-2 * time.Hour)}},
		},
		LastCycle: at,
		Actions: []state.Action{
			{ID: 3, Kind: state.ActionPause, Who: "alice", At: at.Add(-time.Minute), Reason: "grid maintenance", Until: at.Add(time.Hour)},
			{ID: 5, Kind: state.ActionForget, Tools: []string{"alpha"}, Who: "bob", At: at, Ended: at, EndedBecause: "done", Seen: at},
		},
		ActionsSeq: 7,
		Alerts: map[string]state.AlertRecord{
			"WebserviceMonitorGivenUp/alpha": {Labels: map[string]string{"alertname": "WebserviceMonitorGivenUp", "tool": "alpha"}, StartsAt: at.Add(-5 * time.Minute)},
		},
	}
}

// TestDumpFileRoundTrip: what encodeDump writes, decodeDump reads back
// unchanged, and writes again as the same bytes; an empty history too.
func TestDumpFileRoundTrip(t *testing.T) {
	for name, d := range map[string]state.Dump{"sample": sampleDump(), "empty": {}} {
		t.Run(name, func(t *testing.T) {
			first, err := encodeDump(d)
			if err != nil {
				t.Fatal(err)
			}
			back, err := decodeDump("h.json", first)
			if err != nil {
				t.Fatalf("%v\n%s", err, first)
			}
			if !reflect.DeepEqual(back, d) {
				t.Errorf("read back\n%+v\nwant\n%+v", back, d)
			}
			again, err := encodeDump(back)
			if err != nil || !bytes.Equal(again, first) {
				t.Errorf("encoded again (%v):\n%s\nfirst:\n%s", err, again, first)
			}
		})
	}
}

// TestDumpFileRefused: a file no store should take is refused naming the
// file and the field; one from a newer release says so.
func TestDumpFileRefused(t *testing.T) {
	good, err := encodeDump(sampleDump())
	if err != nil {
		t.Fatal(err)
	}
	edit := func(old, new string) string { return strings.Replace(string(good), old, new, 1) }
	tests := []struct {
		name  string
		file  string
		want  string
		newer bool
	}{
		{"empty", " \n", "empty", false},
		{"cut short", string(good[:100]), "not JSON at byte 100: unexpected end of JSON input", false},
		{"not JSON", "tools: {}", "not JSON at byte", false},
		{"no format", `{"schema":1,"tools":{}}`, "field format missing", false},
		{"newer format", edit(`"format": 1`, `"format": 2`), "field format is 2: written by a newer release", true},
		{"newer schema", edit(`"schema": 1`, `"schema": 9`), "field schema is 9: written by a newer release", true},
		{"unknown field", edit(`"format": 1,`, `"format": 1, "hosts": [],`), `unknown field "hosts"`, false},
		{"wrong type", edit(`"action_seq": 7`, `"action_seq": "7"`), "field action_seq: a JSON string", false},
		{"bad time", edit(`"last_cycle": "2026-11-30T05:00:00.123456789Z"`, `"last_cycle": "yesterday"`), "yesterday", false},
		{"bad tool name", edit(`"alpha": {`, `"../etc": {`), `field tools: "../etc" is not a tool name`, false},
		{"action over the numbering", edit(`"action_seq": 7`, `"action_seq": 4`), "field actions (and action_seq): action 5 is not among the IDs given", false},
		{"action without a kind", edit(`"kind": "pause"`, `"kind": ""`), "field actions: action 3", false},
		{"two documents", string(good) + "{}", "invalid character '{' after top-level value", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeDump("/tmp/h.json", []byte(tt.file))
			if err == nil || !strings.HasPrefix(err.Error(), "/tmp/h.json: ") || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one naming the file and saying %q", err, tt.want)
			}
			if got := errors.Is(err, errNewerDump); got != tt.newer {
				t.Errorf("newer release: %v, want %v (%v)", got, tt.newer, err)
			}
		})
	}
}

// stateFileWith is a state file holding d.
func stateFileWith(t *testing.T, d state.Dump) *config.Config {
	t.Helper()
	cfg := &config.Config{StateFile: filepath.Join(t.TempDir(), "state.db"), StateLockWait: 100 * time.Millisecond}
	s, err := state.Open(cfg.StateFile, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Import(d, false); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestStateExportImportStateFile: a state file's history exported,
// imported into another and exported again is the same file; an import
// into a file with history needs --replace, and none is made while a
// daemon holds the lock.
func TestStateExportImportStateFile(t *testing.T) {
	from := stateFileWith(t, sampleDump())
	dir := t.TempDir()
	export := func(cfg *config.Config, file string) []byte {
		t.Helper()
		cfg.Transfer = config.Transfer{File: file}
		var out, errOut bytes.Buffer
		if code := stateExport(t.Context(), cfg, &out, &errOut); code != exitOK {
			t.Fatalf("export: exit %d: %s", code, errOut.String())
		}
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	importInto := func(cfg *config.Config, file string, replace bool) (int, string) {
		cfg.Transfer = config.Transfer{File: file, Replace: replace}
		var out, errOut bytes.Buffer
		code := stateImport(t.Context(), cfg, &out, &errOut)
		return code, out.String() + errOut.String()
	}
	first := export(from, filepath.Join(dir, "first.json"))
	to := &config.Config{StateFile: filepath.Join(dir, "to.db"), StateLockWait: 100 * time.Millisecond}
	if code, out := importInto(to, filepath.Join(dir, "first.json"), false); code != exitOK || !strings.Contains(out, "imported 2 tools' records, 2 admin actions (last ID given 7), 1 firing alerts") {
		t.Fatalf("import into a new state file: exit %d: %s", code, out)
	}
	if second := export(to, filepath.Join(dir, "second.json")); !bytes.Equal(first, second) {
		t.Errorf("export after the round trip differs:\n%s\nfirst:\n%s", second, first)
	}
	if code, out := importInto(to, filepath.Join(dir, "first.json"), false); code != exitStateError || !strings.Contains(out, "--replace") {
		t.Errorf("import over a history without --replace: exit %d: %s", code, out)
	}
	if code, out := importInto(to, filepath.Join(dir, "first.json"), true); code != exitOK {
		t.Errorf("import with --replace: exit %d: %s", code, out)
	}
	release, err := state.AcquireDaemonLock(to.StateFile + ".lock")
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	if code, out := importInto(to, filepath.Join(dir, "first.json"), true); code != exitStateError || !strings.Contains(out, "locked by") || !strings.Contains(out, "stop the daemon") {
		t.Errorf("import while a daemon holds the lock: exit %d: %s", code, out)
	}
	if code, out := importInto(to, filepath.Join(dir, "missing.json"), true); code != exitBadConfig || !strings.Contains(out, "missing.json") {
		t.Errorf("import of a missing file: exit %d: %s", code, out)
	}
}

// TestStateExportWithoutAFile: nothing to export is an error, not an
// empty history that an import would then take for the real one.
func TestStateExportWithoutAFile(t *testing.T) {
	cfg := &config.Config{StateFile: filepath.Join(t.TempDir(), "state.db"), StateLockWait: time.Second}
	var out, errOut bytes.Buffer
	if code := stateExport(t.Context(), cfg, &out, &errOut); code != exitStateError || !strings.Contains(errOut.String(), cfg.StateFile) {
		t.Errorf("exit %d: %s", code, errOut.String())
	}
}

// TestWithoutHistory: a forget notes the tools it has nothing to forget of.
func TestWithoutHistory(t *testing.T) {
	records := sampleDump().Records
	forget := state.Action{Kind: state.ActionForget, Tools: []string{"alpha", "beta", "gamma"}}
	want := []string{"tool beta has no attempt, backoff or give-up to forget", "tool gamma has no restart history: nothing to forget"}
	if got := withoutHistory(records, forget); !reflect.DeepEqual(got, want) {
		t.Errorf("notes %q, want %q", got, want)
	}
	if got := withoutHistory(records, state.Action{Kind: state.ActionRetry, Tools: []string{"gamma"}}); got != nil {
		t.Errorf("a retry noted %q", got)
	}
}

// TestOlderThan: etcd releases before 3.4 are warned about.
func TestOlderThan(t *testing.T) {
	for v, want := range map[string]bool{"3.4.23": false, "3.5.0": false, "3.6.16": false, "4.0.0": false, "3.3.27": true, "2.3.8": true, "": false, "x.y": false} {
		if got := olderThan(v, oldestEtcd); got != want {
			t.Errorf("olderThan(%q) = %v, want %v", v, got, want)
		}
	}
}

// TestLostAnswer: an action etcd may have stored without its answer coming
// back tells the admin to look before trying again, and is still etcd's
// unavailability underneath.
func TestLostAnswer(t *testing.T) {
	err := error(&lostAnswerError{fmt.Errorf("recording pause action in etcd at /p/: storing action 3: %w, %w", etcdstore.ErrUnavailable, etcdstore.ErrAnswerLost)})
	if !errors.Is(err, etcdstore.ErrAnswerLost) || !strings.Contains(err.Error(), "may or may not have been recorded: run `webservicemonitor status`") {
		t.Errorf("%v", err)
	}
}

// TestLeaderSentence: status's first line with etcd.
func TestLeaderSentence(t *testing.T) {
	since := time.Date(2026, 11, 30, 5, 1, 2, 0, time.FixedZone("CET", 3600))
	if got, want := leaderSentence(&ha.LeaderInfo{Host: "cron-a", PID: 123, Since: since}), "leader: cron-a (pid 123) since 2026-11-30 04:01:02 UTC"; got != want {
		t.Errorf("%q, want %q", got, want)
	}
	if got := leaderSentence(nil); !strings.HasPrefix(got, "no leader: ") {
		t.Errorf("%q", got)
	}
	if leaderJSON(nil) != nil {
		t.Error("no leader is not JSON null")
	}
}
