package etcdstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"webservicemonitor/state"
)

// FiringAlerts returns the alerts recorded as firing, keyed by identity,
// as the state file's FiringAlerts does. Any host may read them.
func (s *Store) FiringAlerts(ctx context.Context) (_ map[string]state.AlertRecord, err error) {
	defer s.observe(ctx, OpAlerts, time.Now(), &err)
	kvs, _, err := s.rangeAll(ctx, s.keys.Alerts(), 0)
	if err != nil {
		return nil, fmt.Errorf("reading firing alerts from etcd at %s: %w", s.keys.Prefix(), err)
	}
	return s.decodeAlerts(kvs)
}

func (s *Store) decodeAlerts(kvs []*kv) (map[string]state.AlertRecord, error) {
	out := make(map[string]state.AlertRecord, len(kvs))
	for _, k := range kvs {
		id := strings.TrimPrefix(string(k.Key), s.keys.Alerts())
		var r state.AlertRecord
		if err := json.Unmarshal(k.Value, &r); err != nil {
			return nil, fmt.Errorf("reading etcd at %s: decoding alert %q: %w", s.keys.Prefix(), id, err)
		}
		out[id] = r
	}
	return out, nil
}

// SetFiringAlerts records firing as the whole firing set, fenced on f: only
// the leader pushes alerts, so only its memory of them is written. It
// writes the difference from what is stored (new and changed alerts, then
// the ones gone), each alert in the state file's JSON. Past one
// transaction's size (about a hundred alerts changing at once) the set can
// land in part if the leadership ends in between; the next leader's
// Lifecycle re-sends what it finds, so a part costs a repeated or a late
// resolved notification, never a lost firing one.
func (s *Store) SetFiringAlerts(ctx context.Context, f Fence, firing map[string]state.AlertRecord) (err error) {
	defer s.observe(ctx, OpAlerts, time.Now(), &err)
	fail := func(err error) error {
		return fmt.Errorf("recording firing alerts in etcd at %s: %w", s.keys.Prefix(), err)
	}
	stored, _, err := s.rangeAll(ctx, s.keys.Alerts(), 0)
	if err != nil {
		return fail(err)
	}
	writes, err := s.alertWrites(stored, firing)
	if err != nil {
		return fail(err)
	}
	if err := s.Write(ctx, f, writes); err != nil {
		return fail(err)
	}
	return nil
}

// alertWrites turns stored into firing: puts of the new and changed
// alerts, by identity, then deletes of the ones no longer firing.
func (s *Store) alertWrites(stored []*kv, firing map[string]state.AlertRecord) ([]Write, error) {
	have := make(map[string][]byte, len(stored))
	for _, k := range stored {
		have[string(k.Key)] = k.Value
	}
	ids := sortedKeys(firing)
	var writes []Write
	for _, id := range ids {
		if id == "" {
			return nil, errors.New("alert with an empty identity")
		}
		v, err := json.Marshal(firing[id])
		if err != nil {
			return nil, fmt.Errorf("encoding alert %q: %w", id, err)
		}
		key := s.keys.Alert(id)
		if old, ok := have[key]; !ok || !bytes.Equal(old, v) {
			writes = append(writes, Write{Key: key, Value: v})
		}
	}
	for _, k := range stored {
		if _, ok := firing[strings.TrimPrefix(string(k.Key), s.keys.Alerts())]; !ok {
			writes = append(writes, Write{Key: string(k.Key), Delete: true})
		}
	}
	return writes, nil
}
