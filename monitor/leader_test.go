package monitor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

var since = time.Date(2026, 11, 30, 5, 0, 0, 0, time.UTC)

// The audit says who leads: in its JSON (absent on a single host, null
// when nobody leads or it is unknown), in its table, and in the log.
func TestReportShowsTheLeader(t *testing.T) {
	tests := []struct {
		name   string
		seen   *LeaderSeen
		json   string // the "leader" member; "" for absent
		table  string // the table's first line; "" for none
		logged string // in a standby's log
	}{
		{"single host", nil, "", "", ""},
		{"leader", &LeaderSeen{Leader: Leader{Host: "cron-a", PID: 42, Since: since}, Known: true},
			`{"host":"cron-a","pid":42,"since":"2026-11-30T05:00:00Z"}`,
			"LEADER: cron-a (pid 42) since 2026-11-30T05:00:00Z", "standing by, restarting nothing: leader cron-a (pid 42)"},
		{"none", &LeaderSeen{}, "null", "LEADER: none", "standing by, restarting nothing: leader none"},
		{"unknown", &LeaderSeen{Err: errors.New("reading the leader from etcd: context deadline exceeded")}, "null",
			"LEADER: unknown (reading the leader from etcd: context deadline exceeded)", "leader unknown (reading the leader"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := Report{Started: since, DryRun: true, Leader: tt.seen}
			var js bytes.Buffer
			if err := rep.WriteJSON(&js); err != nil {
				t.Fatal(err)
			}
			var members map[string]json.RawMessage
			if err := json.Unmarshal(js.Bytes(), &members); err != nil {
				t.Fatal(err)
			}
			got, ok := members["leader"]
			switch {
			case tt.json == "" && ok:
				t.Errorf("leader member %s on a single host", got)
			case tt.json != "" && compact(t, got) != tt.json:
				t.Errorf("leader member %s, want %s", got, tt.json)
			}
			var table bytes.Buffer
			if err := rep.WriteTable(&table); err != nil {
				t.Fatal(err)
			}
			first, _, _ := strings.Cut(table.String(), "\n")
			if tt.table == "" && strings.HasPrefix(first, "LEADER") || tt.table != "" && first != tt.table {
				t.Errorf("table begins %q, want %q", first, tt.table)
			}
			var log bytes.Buffer
			LogReporter{Log: zerolog.New(&log)}.Report(context.Background(), rep, nil)
			if tt.logged == "" && strings.Contains(log.String(), "standing by") || !strings.Contains(log.String(), tt.logged) {
				t.Errorf("log %s, want %q", log.String(), tt.logged)
			}
		})
	}
}

func compact(t *testing.T, raw json.RawMessage) string {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// The cycle asks who leads when told how, and an error doing so is a
// note: the cycle still plans and reports.
func TestCycleAsksWhoLeads(t *testing.T) {
	r := newRig()
	r.audit = true
	c := r.cycle(t)
	c.WhoLeads = func(context.Context) (Leader, bool, error) {
		return Leader{}, false, errors.New("etcd unreachable")
	}
	rep, err := c.Run(context.Background(), context.Background())
	if err != nil || rep.Leader == nil || rep.Leader.Err == nil || rep.SourceFailed() || len(rep.Plan.Decisions) == 0 {
		t.Errorf("cycle error %v, leader %+v, sources failed %v, %d decisions", err, rep.Leader, rep.SourceFailed(), len(rep.Plan.Decisions))
	}
}
