package ha

import (
	"errors"
	"testing"
	"time"

	"webservicemonitor/state"
)

// TestAlertMemoryWithoutLeadershipSendsNothing: a standby never writes
// the firing alerts (the store is nil: any request would panic).
func TestAlertMemoryWithoutLeadershipSendsNothing(t *testing.T) {
	m := AlertMemory{Leader: &notLeading{}, Timeout: time.Second}
	err := m.Save(map[string]state.AlertRecord{"a": {}})
	if !errors.Is(err, ErrNotLeader) {
		t.Errorf("Save without the leadership: %v, want ErrNotLeader", err)
	}
}
