package ha

import (
	"errors"
	"testing"
	"time"

	"webservicemonitor/monitor"
	"webservicemonitor/state"
)

// TestAlertMemoryWithoutLeadershipSendsNothing: a standby never writes
// the firing alerts (the store is nil: any request would panic).
func TestAlertMemoryWithoutLeadershipSendsNothing(t *testing.T) {
	m := AlertMemory{Leader: &notLeading{}, Timeout: time.Second}
	err := m.Save(map[string]state.AlertRecord{"a": {}})
	if !errors.Is(err, ErrNotLeader) || !errors.Is(err, monitor.ErrNotLeader) {
		t.Errorf("Save without the leadership: %v, want ErrNotLeader and monitor.ErrNotLeader", err)
	}
}
