package ha

import (
	"context"
	"errors"
	"fmt"
	"time"

	"webservicemonitor/alerts"
	"webservicemonitor/state"
	"webservicemonitor/state/etcdstore"
)

// AlertMemory is the firing alerts' memory in etcd (alerts.Memory): any
// host reads it, only the leader writes it, fenced on its leadership, so a
// deposed leader cannot overwrite what the new one remembers.
type AlertMemory struct {
	Store  *etcdstore.Store
	Leader Leadership
	// Timeout bounds each Load and Save (alerts.Memory takes no context).
	Timeout time.Duration
}

var _ alerts.Memory = AlertMemory{}

// Load returns the recorded firing alerts.
func (m AlertMemory) Load() (map[string]state.AlertRecord, error) {
	ctx, cancel := context.WithTimeout(context.Background(), m.Timeout)
	defer cancel()
	return m.Store.FiringAlerts(ctx)
}

// Save records firing as the whole firing set, if this host leads; a
// write refused for its fence ends the leadership at once.
func (m AlertMemory) Save(firing map[string]state.AlertRecord) error {
	f, ok := m.Leader.Leading()
	if !ok {
		return fmt.Errorf("recording firing alerts in etcd: %w", asNotLeader(ErrNotLeader))
	}
	ctx, cancel := context.WithTimeout(context.Background(), m.Timeout)
	defer cancel()
	err := m.Store.SetFiringAlerts(ctx, f, firing)
	if errors.Is(err, ErrNotLeader) {
		m.Leader.Lost("a fenced write of the firing alerts was refused: " + err.Error())
		return asNotLeader(err)
	}
	return err
}
