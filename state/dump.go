package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Dump is everything a history store holds, in a form that moves between
// stores (the state file, etcd) unchanged: `state export` and
// `state import` carry a host's history into etcd and back.
type Dump struct {
	Records   Records   // sorted by tool
	LastCycle time.Time // zero before the first cycle
	Actions   []Action  // by ID
	// ActionsSeq is the last action ID given. It is kept apart from the
	// actions because pruned actions' IDs are never given again.
	ActionsSeq uint64
	Alerts     map[string]AlertRecord // the firing alerts, by identity
}

// Empty says whether d holds no history at all.
func (d Dump) Empty() bool {
	return len(d.Records) == 0 && d.LastCycle.IsZero() && len(d.Actions) == 0 && d.ActionsSeq == 0 && len(d.Alerts) == 0
}

// Check refuses a dump no store could hold: an action ID over the last
// one given (the next action would take it again), or actions out of order.
func (d Dump) Check() error {
	for i, a := range d.Actions {
		if a.ID == 0 || a.ID > d.ActionsSeq {
			return fmt.Errorf("action %d is not among the IDs given (1 to %d)", a.ID, d.ActionsSeq)
		}
		if i > 0 && d.Actions[i-1].ID >= a.ID {
			return fmt.Errorf("action %d follows action %d: actions must be in increasing ID order", a.ID, d.Actions[i-1].ID)
		}
	}
	return nil
}

// Export returns everything the file holds. The handle's lock (shared or
// exclusive) keeps any writer out between its reads. Unreadable actions
// fail the export rather than be left behind.
func (s *Store) Export() (Dump, error) {
	var d Dump
	var err error
	fail := func(err error) (Dump, error) {
		return Dump{}, fmt.Errorf("exporting state file %s: %w", s.path, err)
	}
	if d.Records, err = s.Histories(); err != nil {
		return fail(err)
	}
	meta, err := s.Meta()
	if err != nil {
		return fail(err)
	}
	d.LastCycle = meta.LastCycle
	if d.Actions, err = s.Actions(); err != nil {
		return fail(err)
	}
	if d.Alerts, err = s.FiringAlerts(); err != nil {
		return fail(err)
	}
	err = s.view(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketActions); b != nil {
			d.ActionsSeq = b.Sequence()
		}
		return nil
	})
	if err != nil {
		return fail(err)
	}
	return d, nil
}

// ErrNotEmpty is why an import was refused: the target already holds a
// history, which the import would mix with or replace.
var ErrNotEmpty = errors.New("the target already holds a history")

// Import writes d into the file in one transaction. A file holding any
// history is refused with ErrNotEmpty unless replace, which first removes
// it all.
func (s *Store) Import(d Dump, replace bool) error {
	fail := func(err error) error { return fmt.Errorf("importing into state file %s: %w", s.path, err) }
	if s.db.IsReadOnly() {
		return fail(errors.New("the file is open read-only"))
	}
	if err := d.Check(); err != nil {
		return fail(err)
	}
	put := make(map[string]ToolRecord, len(d.Records))
	for _, h := range d.Records {
		put[h.Tool] = h.Record
	}
	tools, records, err := encodePut(put)
	if err != nil {
		return fail(err)
	}
	actions, err := encodeActions(d.Actions)
	if err != nil {
		return fail(err)
	}
	err = s.update(func(tx *bolt.Tx) error {
		if err := clearForImport(tx, replace); err != nil {
			return err
		}
		if err := putRecords(tx, tools, records); err != nil {
			return err
		}
		if err := importActions(tx, d, actions); err != nil {
			return err
		}
		if err := importAlerts(tx, d.Alerts); err != nil {
			return err
		}
		if d.LastCycle.IsZero() {
			return nil
		}
		return tx.Bucket(bucketMeta).Put(keyLastCycle, []byte(d.LastCycle.UTC().Format(time.RFC3339Nano)))
	})
	if err != nil {
		return fail(err)
	}
	return nil
}

// clearForImport refuses a file holding history (ErrNotEmpty), or, with
// replace, removes it: records, actions and their numbering, alerts, the
// last cycle's time.
func clearForImport(tx *bolt.Tx, replace bool) error {
	tools, meta := tx.Bucket(bucketTools), tx.Bucket(bucketMeta)
	if tools == nil || meta == nil {
		return errors.New("buckets missing: file was not opened read-write")
	}
	if !replace {
		k, _ := tools.Cursor().First()
		held := k != nil || meta.Get(keyLastCycle) != nil
		for _, name := range [][]byte{bucketActions, bucketAlerts} {
			if b := tx.Bucket(name); b != nil {
				k, _ := b.Cursor().First()
				held = held || k != nil || b.Sequence() != 0
			}
		}
		if held {
			return fmt.Errorf("%w: import with replace to remove it first", ErrNotEmpty)
		}
		return nil
	}
	for _, name := range [][]byte{bucketTools, bucketActions, bucketAlerts} {
		if tx.Bucket(name) == nil {
			continue
		}
		if err := tx.DeleteBucket(name); err != nil {
			return fmt.Errorf("clearing bucket %s: %w", name, err)
		}
	}
	if _, err := tx.CreateBucket(bucketTools); err != nil {
		return fmt.Errorf("creating bucket %s: %w", bucketTools, err)
	}
	return meta.Delete(keyLastCycle)
}

// importActions stores the actions under their own IDs and the numbering
// where the dump left it.
func importActions(tx *bolt.Tx, d Dump, encoded [][]byte) error {
	if d.ActionsSeq == 0 {
		return nil
	}
	b, err := tx.CreateBucketIfNotExists(bucketActions)
	if err != nil {
		return fmt.Errorf("creating bucket %s: %w", bucketActions, err)
	}
	if err := b.SetSequence(d.ActionsSeq); err != nil {
		return fmt.Errorf("setting the last action ID to %d: %w", d.ActionsSeq, err)
	}
	for i, a := range d.Actions {
		if err := b.Put(actionKey(a.ID), encoded[i]); err != nil {
			return fmt.Errorf("storing action %d: %w", a.ID, err)
		}
	}
	return nil
}

func importAlerts(tx *bolt.Tx, alerts map[string]AlertRecord) error {
	if len(alerts) == 0 {
		return nil
	}
	b, err := tx.CreateBucketIfNotExists(bucketAlerts)
	if err != nil {
		return fmt.Errorf("creating bucket %s: %w", bucketAlerts, err)
	}
	ids := make([]string, 0, len(alerts))
	for id := range alerts {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		if id == "" {
			return errors.New("alert with an empty identity")
		}
		v, err := json.Marshal(alerts[id])
		if err != nil {
			return fmt.Errorf("encoding alert %q: %w", id, err)
		}
		if err := b.Put([]byte(id), v); err != nil {
			return fmt.Errorf("storing alert %q: %w", id, err)
		}
	}
	return nil
}
