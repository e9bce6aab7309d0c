package state

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Rollback is what MigrateDown did.
type Rollback struct {
	From, To int
	// Backup is the copy of the file as it was before; "" when nothing
	// was rewritten.
	Backup string
}

// MigrateDown rewrites the state file at path to schema target, for a
// rollback to the release that reads target, in one transaction: the file
// is either wholly at target afterwards or as it was.
//
// The file as it was is first copied to Backup (<path>.schema-<from>.bak,
// never overwritten), so the rollback itself can be undone. A file already
// at or below target is left alone (From == To). A file newer than this
// binary is refused with ErrNewerSchema and left byte-for-byte unchanged:
// only the release that wrote it knows how to take it down. Buckets that
// need no schema version (alerts, admin actions) are kept: see
// downMigrations.
//
// The caller keeps the daemon out (its lock) for the length of the call.
func MigrateDown(path string, target int, opt Options) (Rollback, error) {
	if target < 0 {
		return Rollback{}, fmt.Errorf("migrating state file %s down: target schema %d is negative", path, target)
	}
	if opt.LockTimeout < 0 {
		return Rollback{}, fmt.Errorf("migrating state file %s down: lock timeout %s is negative", path, opt.LockTimeout)
	}
	deadline := time.Now().Add(opt.LockTimeout)

	meta, err := schemaBeforeRollback(path, deadline)
	if err != nil {
		return Rollback{}, err
	}
	if meta.Schema <= target {
		return Rollback{From: meta.Schema, To: meta.Schema}, nil
	}

	rb := Rollback{From: meta.Schema, To: target, Backup: path + ".schema-" + strconv.Itoa(meta.Schema) + ".bak"}
	if _, err := os.Lstat(rb.Backup); err == nil {
		return Rollback{}, fmt.Errorf("migrating state file %s down: backup %s already exists; move it away first", path, rb.Backup)
	}
	db, err := openBolt(path, false, deadline)
	if err != nil {
		return Rollback{}, err
	}
	defer db.Close()
	s := &Store{db: db, path: path}

	// The copy and the rewrite happen under the same exclusive lock, so the
	// backup is exactly the file the rewrite started from.
	if err := s.view(func(tx *bolt.Tx) error { return tx.CopyFile(rb.Backup, fileMode) }); err != nil {
		return Rollback{}, fmt.Errorf("migrating state file %s down: copying it to %s: %w", path, rb.Backup, err)
	}
	err = s.update(func(tx *bolt.Tx) error { return rewriteDown(s, tx, rb.From, target) })
	if err != nil {
		return Rollback{}, fmt.Errorf("migrating state file %s from schema %d down to %d (the file is unchanged; backup in %s): %w",
			path, rb.From, target, rb.Backup, err)
	}
	if err := db.Close(); err != nil {
		return Rollback{}, fmt.Errorf("closing state file %s after migrating it down: %w", path, err)
	}
	return rb, nil
}

// schemaBeforeRollback looks at the file through a read-only handle first,
// like openReadWrite: a newer file must be refused without any write.
func schemaBeforeRollback(path string, deadline time.Time) (Meta, error) {
	ro, err := openReadOnly(path, deadline)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return Meta{}, fmt.Errorf("migrating state file %s down: %w (nothing to roll back)", path, err)
		}
		return Meta{}, err
	}
	meta, err := ro.Meta()
	if cerr := ro.Close(); err == nil {
		err = cerr
	}
	return meta, err
}

// rewriteDown takes the file, inside tx, from schema `from` down to target.
func rewriteDown(s *Store, tx *bolt.Tx, from, target int) error {
	now, err := s.checkSchema(tx)
	if err != nil {
		return err
	}
	if now != from {
		return fmt.Errorf("schema changed from %d to %d while the file was being backed up", from, now)
	}
	steps := downMigrations()
	for v := from; v > target; v-- {
		if err := steps[v-1](tx); err != nil {
			return fmt.Errorf("migrating schema %d down to %d: %w", v, v-1, err)
		}
	}
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		return errors.New("meta bucket missing")
	}
	if target == 0 {
		// Schema 0 is "no schema key": what the first layout looked like.
		return meta.Delete(keySchema)
	}
	return meta.Put(keySchema, []byte(strconv.Itoa(target)))
}
