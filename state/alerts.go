package state

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The firing alerts live in their own bucket, created on first write:
//
//	alerts/<identity>  JSON-encoded AlertRecord
//
// A file without the bucket simply has no firing alerts, so adding it
// needed no schema version: an older binary ignores the bucket, a newer one
// reads its absence as "nothing firing".
var bucketAlerts = []byte("alerts")

// AlertRecord is an alert the supervisor has told the Alertmanagers is
// firing. It is kept so that a restarted supervisor re-sends it with its
// original start, or sends it resolved if its condition cleared meanwhile,
// instead of forgetting it.
type AlertRecord struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations,omitempty"`
	StartsAt    time.Time         `json:"starts_at"`
}

// FiringAlerts returns the alerts recorded as firing, keyed by identity (the
// caller's key, stable for a set of labels).
func (s *Store) FiringAlerts() (map[string]AlertRecord, error) {
	out := map[string]AlertRecord{}
	err := s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAlerts)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var r AlertRecord
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("decoding alert %q: %w", k, err)
			}
			out[string(k)] = r
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("reading firing alerts from state file %s: %w", s.path, err)
	}
	return out, nil
}

// SetFiringAlerts replaces the recorded firing alerts with firing, in one
// transaction: afterwards exactly these are recorded, or, on error, the
// previous set still is.
func (s *Store) SetFiringAlerts(firing map[string]AlertRecord) error {
	ids := make([]string, 0, len(firing))
	for id := range firing {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	encoded := make([][]byte, len(ids))
	for i, id := range ids {
		if id == "" {
			return fmt.Errorf("recording firing alerts in state file %s: alert with an empty identity", s.path)
		}
		v, err := json.Marshal(firing[id])
		if err != nil {
			return fmt.Errorf("recording firing alerts in state file %s: encoding alert %q: %w", s.path, id, err)
		}
		encoded[i] = v
	}
	err := s.update(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketAlerts) != nil {
			if err := tx.DeleteBucket(bucketAlerts); err != nil {
				return fmt.Errorf("clearing bucket %s: %w", bucketAlerts, err)
			}
		}
		b, err := tx.CreateBucket(bucketAlerts)
		if err != nil {
			return fmt.Errorf("creating bucket %s: %w", bucketAlerts, err)
		}
		for i, id := range ids {
			if err := b.Put([]byte(id), encoded[i]); err != nil {
				return fmt.Errorf("storing alert %q: %w", id, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("recording firing alerts in state file %s: %w", s.path, err)
	}
	return nil
}
