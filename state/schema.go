package state

import (
	"fmt"
	"strconv"

	bolt "go.etcd.io/bbolt"
)

// SchemaVersion is the layout this binary reads and writes:
//
//	meta/schema      decimal schema version
//	meta/last_cycle  RFC 3339 time of the last Commit
//	tools/<tool>     JSON-encoded ToolRecord
//
// Buckets created on first write need no version, because every release
// looks its buckets up by name and never lists them, and reads records
// with encoding/json, which skips fields it does not know: alerts/
// (alerts.go) and actions/ (actions.go), and Attempt.Forgiven and
// Attempt.Host inside a record.
const SchemaVersion = 1

// migration upgrades a file from one schema version to the next, inside the
// caller's transaction.
type migration func(tx *bolt.Tx) error

// migrations returns the upgrade steps: element i takes schema i to i+1, so
// its length is always SchemaVersion. A function rather than a variable so
// that nothing can change the table at run time.
func migrations() []migration {
	return []migration{
		// 0 -> 1: the first layout; a file without a schema key predates it.
		func(tx *bolt.Tx) error {
			for _, name := range [][]byte{bucketMeta, bucketTools} {
				if _, err := tx.CreateBucketIfNotExists(name); err != nil {
					return fmt.Errorf("creating bucket %s: %w", name, err)
				}
			}
			return nil
		},
	}
}

// downMigrations returns the rollback steps: element i takes schema i+1 back
// to i, inside the caller's transaction, so its length is always
// SchemaVersion too. Each release ships the step down from its own schema,
// because only it knows what it added; MigrateDown then rewrites the file for
// the release before it.
func downMigrations() []migration {
	return []migration{
		// 1 -> 0: the first layout had the same buckets and no schema key;
		// MigrateDown removes the key, nothing else changes. The alerts
		// and actions buckets are kept: a schema-0 release looks up meta
		// and tools by name only, so it ignores them, and this release,
		// migrating the file up again, finds its actions and their
		// numbering as they were (IDs are never given twice). What the
		// older release cannot do is honour them: it restarts paused
		// tools, and it counts forgiven attempts (it skips the forgiven
		// field) until the retention drops them. Rewriting the records
		// would not help, as the same is true of a rollback to a
		// schema-1 release from before admin actions, which rewrites
		// nothing.
		func(tx *bolt.Tx) error { return nil },
	}
}

// migrate brings the file to SchemaVersion in one Update, or leaves it alone
// when it is already there. The exclusive lock of the read-write handle
// keeps anyone else from changing the schema between the check and the write.
func (s *Store) migrate() error {
	var current int
	if err := s.view(func(tx *bolt.Tx) error {
		s.inUse = tx.Size()
		v, err := s.checkSchema(tx)
		current = v
		return err
	}); err != nil {
		return err
	}
	if current == SchemaVersion {
		return nil
	}
	steps := migrations()
	err := s.update(func(tx *bolt.Tx) error {
		from, err := s.checkSchema(tx)
		if err != nil {
			return err
		}
		for v := from; v < SchemaVersion; v++ {
			if err := steps[v](tx); err != nil {
				return fmt.Errorf("migrating schema %d to %d: %w", v, v+1, err)
			}
		}
		return tx.Bucket(bucketMeta).Put(keySchema, []byte(strconv.Itoa(SchemaVersion)))
	})
	if err != nil {
		return fmt.Errorf("migrating state file %s to schema %d: %w", s.path, SchemaVersion, err)
	}
	return nil
}
