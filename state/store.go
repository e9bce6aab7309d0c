// Package state is the supervisor's memory between cycles: per-tool restart
// history in a bbolt file, so that throttling and backoff survive the
// supervisor's own restarts and crashes, and the admins' actions (pause,
// forget, retry, valve release) with who asked, when and why. It stores and
// returns records; it never decides anything from them (that is the
// planner's job) and never keeps the file open longer than its caller asks.
//
// Guarantees, all from bbolt and the way the daemon uses it:
//   - One writer at a time: a read-write Open takes bbolt's exclusive flock
//     on the file; a second writer (or a reader, while a writer holds it)
//     waits at most Options.LockTimeout and then fails with ErrLocked, naming
//     the holder's PID when /proc/locks shows it. Nothing ever hangs on it.
//   - Readers see a consistent snapshot: every read is one bbolt View.
//   - A crash, even mid-Commit, leaves the file as of the last committed
//     transaction; a cycle's changes are one Update, so they land whole or
//     not at all.
//   - The daemon opens the file only for the length of a cycle, so a
//     read-only audit can open it (shared lock) between cycles.
//   - A file written by a newer binary is refused with ErrNewerSchema and
//     left byte-for-byte untouched; an older one is migrated forward in one
//     transaction.
package state

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// fileMode is the state file's, its backups' and the daemon lock's: the
// history is the supervisor's alone.
const fileMode os.FileMode = 0o600

// bboltLockRetry is how often bbolt tries a held flock again (its
// flockRetryTimeout): it gives up at the first failed try after timeout
// minus this, so any timeout up to it means exactly one try. bbolt reads a
// zero timeout as "wait forever", which this package never asks for.
const bboltLockRetry = 50 * time.Millisecond

// sortedFillPercent is how full Commit packs the tools bucket's pages. Its
// keys arrive sorted, so a page filled nearly full is not split again by
// the next key (bbolt's default, half full, would double the write).
const sortedFillPercent = 0.9

// initialMmapSize is the address space a read-write handle maps at once:
// comfortably above the file size of 100,000 tools' histories. A side
// effect of mapping more than bbolt's 16 MiB allocation step: the file's
// apparent size starts at about 16 MiB, as a sparse file (tens of KiB on disk).
const initialMmapSize = 256 << 20

var (
	bucketMeta  = []byte("meta")
	bucketTools = []byte("tools")

	keySchema    = []byte("schema")
	keyLastCycle = []byte("last_cycle")
)

// Options tune Open.
type Options struct {
	// ReadOnly opens with a shared lock, for audits; Commit then fails.
	ReadOnly bool
	// LockTimeout bounds the wait for the file lock. Zero means one try
	// and no wait; a negative value is refused. (The daemon's wait is the
	// configuration's state-lock-wait.)
	LockTimeout time.Duration
}

// Store is an open state file. Open it for one cycle and Close it after.
type Store struct {
	db      *bolt.DB
	path    string
	created bool  // this Open created the file
	inUse   int64 // bytes of the pages in use, as last seen: the file is never shorter
	faulted bool  // a read faulted: bbolt's locks may be held
}

// Meta is the store-wide bookkeeping.
type Meta struct {
	// Schema is the file's schema version (0 for a file never migrated,
	// which only a read-only Open can see).
	Schema int
	// LastCycle is the At of the last Commit; zero if none.
	LastCycle time.Time
}

// Changes is everything one cycle wants remembered.
type Changes struct {
	// At becomes Meta.LastCycle; a zero At leaves LastCycle unchanged.
	At time.Time
	// Put replaces the whole record of each tool named.
	Put map[string]ToolRecord
	// Delete forgets tools; it is applied after Put, so a tool in both is gone.
	Delete []string
	// Actions replace the stored admin actions with the same IDs (marked
	// seen or ended); an ID the file does not hold fails the whole Commit
	// with ErrUnknownAction.
	Actions []Action
	// DeleteActions removes admin actions (the oldest ended ones, pruned);
	// applied after Actions, and an ID not stored is ignored.
	DeleteActions []uint64
}

// Open opens the state file at path. Read-write creates it (fileMode, but
// never its directory) and migrates an older schema forward; read-only on a
// missing file fails with an error matching fs.ErrNotExist, which callers
// treat as "no history yet".
//
// Neither re-creates a lost history: a file missing or empty while its
// marker (MarkerPath) says it was initialised fails with ErrHistoryLost.
// Neither trusts a damaged file: before bbolt maps it, its meta pages and
// length are checked (ErrDamaged), and bbolt's panics and faults on a
// damaged page become ErrDamaged too, in Open and in every later read.
func Open(path string, opt Options) (*Store, error) {
	if opt.LockTimeout < 0 {
		return nil, fmt.Errorf("opening state file %s: lock timeout %s is negative", path, opt.LockTimeout)
	}
	deadline := time.Now().Add(opt.LockTimeout)
	if opt.ReadOnly {
		return openReadOnly(path, deadline)
	}
	return openReadWrite(path, deadline, false)
}

func openReadOnly(path string, deadline time.Time) (*Store, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		if lost := checkLost(path, "missing"); lost != nil {
			return nil, lost
		}
	}
	if err != nil {
		return nil, fmt.Errorf("opening state file read-only: %w", err)
	}
	if fi.Size() == 0 {
		if lost := checkLost(path, "empty"); lost != nil {
			return nil, lost
		}
		// bbolt would try to initialise it, which a read-only handle cannot.
		return nil, fmt.Errorf("opening state file %s read-only: file is empty (created but never initialised)", path)
	}
	if err := checkMetaPages(path, deadline); err != nil {
		return nil, err
	}
	db, err := openBolt(path, true, deadline)
	if err != nil {
		return nil, err
	}
	s := &Store{db: db, path: path}
	if err := s.view(func(tx *bolt.Tx) error {
		s.inUse = tx.Size()
		_, err := s.checkSchema(tx)
		return err
	}); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// openReadWrite opens (or, on first use or when fresh is set, creates) the
// file for writing.
func openReadWrite(path string, deadline time.Time, fresh bool) (*Store, error) {
	dir := filepath.Dir(path)
	if fi, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("opening state file %s: its directory is not usable (it is never created for you): %w", path, err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("opening state file %s: %s is not a directory", path, dir)
	}

	// A read-write bbolt open may itself write (it rewrites a freelist that a
	// NoFreelistSync writer left out), so a newer or damaged file is looked
	// at through a read-only handle first: refusing it must leave it untouched.
	fi, err := os.Stat(path)
	created := false
	switch {
	case err == nil && fi.Size() > 0:
		ro, err := openReadOnly(path, deadline)
		if err != nil {
			return nil, err
		}
		if err := ro.Close(); err != nil {
			return nil, err
		}
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("opening state file %s: %w", path, err)
	case !fresh:
		how := "missing"
		if err == nil {
			how = "empty"
		}
		if lost := checkLost(path, how); lost != nil {
			return nil, lost
		}
		created = true
	default:
		created = true
	}

	db, err := openBolt(path, false, deadline)
	if err != nil {
		return nil, err
	}
	s := &Store{db: db, path: path, created: created}
	if err := s.migrate(); err != nil {
		db.Close()
		return nil, err
	}
	if err := s.markInitialised(); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// markInitialised writes the marker of a file just created, or of one a
// release before the marker initialised.
func (s *Store) markInitialised() error {
	if !s.created {
		if ok, err := hasMarker(s.path); ok || err != nil {
			return err
		}
	}
	return writeMarker(s.path, time.Now())
}

// Created reports whether this Open created the file: a first use, which
// the caller says once.
func (s *Store) Created() bool { return s.created }

// openBolt opens the file, trying its lock until deadline, and at least
// once even when the deadline has passed.
func openBolt(path string, readOnly bool, deadline time.Time) (*bolt.DB, error) {
	wait := max(time.Until(deadline), 0) // what the error reports
	opts := &bolt.Options{ReadOnly: readOnly, Timeout: max(wait, bboltLockRetry)}
	if !readOnly {
		// Every time a write transaction outgrows the mapping, bbolt remaps
		// and copies all the transaction's dirty nodes to the heap: with the
		// default small first mapping a large first Commit copies its data
		// a dozen times. Reserving address space up front (it does not grow
		// the file) keeps that to zero or one remap.
		opts.InitialMmapSize = initialMmapSize
	}
	var db *bolt.DB
	err := guard(path, func() (err error) {
		db, err = bolt.Open(path, fileMode, opts)
		return err
	})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, &lockedError{what: "state file", path: path, pids: lockHolders(path), waited: wait}
	}
	if err != nil {
		mode := "read-write"
		if readOnly {
			mode = "read-only"
		}
		return nil, fmt.Errorf("opening state file %s %s: %w", path, mode, err)
	}
	return db, nil
}

// Close releases the file and its lock.
func (s *Store) Close() error {
	if s.faulted {
		return s.closeFaulted()
	}
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("closing state file %s: %w", s.path, err)
	}
	return nil
}

// ToolHistory is one tool's record, as Histories lists it.
type ToolHistory struct {
	Tool   string
	Record ToolRecord
}

// Records is every tool's record sorted by tool name: the planner joins it
// with the (sorted) manifests by merging, which at 100,000 tools is much
// cheaper than a map lookup per tool.
type Records []ToolHistory

// Get returns the tool's record, and whether there is one.
func (r Records) Get(tool string) (ToolRecord, bool) {
	i, ok := slices.BinarySearchFunc(r, tool, func(h ToolHistory, t string) int { return strings.Compare(h.Tool, t) })
	if !ok {
		return ToolRecord{}, false
	}
	return r[i].Record, true
}

// RecordsOf lists the records of a map, sorted by tool.
func RecordsOf(m map[string]ToolRecord) Records {
	out := make(Records, 0, len(m))
	for tool, rec := range m {
		out = append(out, ToolHistory{Tool: tool, Record: rec})
	}
	slices.SortFunc(out, func(a, b ToolHistory) int { return strings.Compare(a.Tool, b.Tool) })
	return out
}

// Histories returns every tool's record, sorted by tool name (bbolt keeps
// keys in byte order, which is Go's string order).
func (s *Store) Histories() (Records, error) {
	var out Records
	err := s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketTools)
		if b == nil {
			return nil // schema 0, seen read-only: no history yet
		}
		return b.ForEach(func(k, v []byte) error {
			var r ToolRecord
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("decoding record of tool %q: %w", k, err)
			}
			out = append(out, ToolHistory{Tool: string(k), Record: r})
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("reading histories from state file %s: %w", s.path, err)
	}
	return out, nil
}

// Meta returns the schema version and the time of the last Commit.
func (s *Store) Meta() (Meta, error) {
	var m Meta
	err := s.view(func(tx *bolt.Tx) error {
		v, err := schemaOf(tx)
		if err != nil {
			return err
		}
		m.Schema = v
		if b := tx.Bucket(bucketMeta); b != nil {
			if raw := b.Get(keyLastCycle); raw != nil {
				t, err := time.Parse(time.RFC3339Nano, string(raw))
				if err != nil {
					return fmt.Errorf("meta %s %q: %w", keyLastCycle, raw, err)
				}
				m.LastCycle = t
			}
		}
		return nil
	})
	if err != nil {
		return Meta{}, fmt.Errorf("reading meta of state file %s: %w", s.path, err)
	}
	return m, nil
}

// Commit writes one cycle's changes in a single transaction: all of them
// are durable when it returns nil, none of them when it fails.
func (s *Store) Commit(c Changes) error {
	tools, encoded, err := encodePut(c.Put)
	if err != nil {
		return fmt.Errorf("committing to state file %s: %w", s.path, err)
	}
	actions, err := encodeActions(c.Actions)
	if err != nil {
		return fmt.Errorf("committing to state file %s: %w", s.path, err)
	}

	err = s.update(func(tx *bolt.Tx) error {
		if err := putRecords(tx, tools, encoded); err != nil {
			return err
		}
		b, meta := tx.Bucket(bucketTools), tx.Bucket(bucketMeta)
		for _, tool := range c.Delete {
			if tool == "" {
				continue // cannot exist: Put refuses empty names
			}
			if err := b.Delete([]byte(tool)); err != nil {
				return fmt.Errorf("deleting record of tool %q: %w", tool, err)
			}
		}
		if err := applyActions(tx, c.Actions, actions, c.DeleteActions); err != nil {
			return err
		}
		if !c.At.IsZero() {
			if err := meta.Put(keyLastCycle, []byte(c.At.UTC().Format(time.RFC3339Nano))); err != nil {
				return fmt.Errorf("storing last cycle time: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("committing to state file %s: %w", s.path, err)
	}
	return nil
}

// encodePut sorts the tools of put and encodes their records, refusing an
// empty tool name: what Commit and RecordAction store.
func encodePut(put map[string]ToolRecord) ([]string, [][]byte, error) {
	// Sorted keys turn 100k puts into appends, which is what bbolt is fast at.
	tools := make([]string, 0, len(put))
	for tool := range put {
		tools = append(tools, tool)
	}
	slices.Sort(tools)
	if len(tools) > 0 && tools[0] == "" { // sorted: an empty name comes first
		return nil, nil, errors.New("record with an empty tool name")
	}
	// Encoded before the transaction, spread over the cores: the
	// transaction itself runs on one.
	encoded, err := encodeRecords(tools, put)
	if err != nil {
		return nil, nil, err
	}
	return tools, encoded, nil
}

// putRecords stores encoded[i] as the record of tools[i], inside tx. It
// also checks that the file's buckets are there, for the callers that go on
// to use them.
func putRecords(tx *bolt.Tx, tools []string, encoded [][]byte) error {
	b := tx.Bucket(bucketTools)
	if b == nil || tx.Bucket(bucketMeta) == nil {
		return errors.New("buckets missing: file was not opened read-write")
	}
	b.FillPercent = sortedFillPercent
	for i, tool := range tools {
		if err := b.Put([]byte(tool), encoded[i]); err != nil {
			return fmt.Errorf("storing record of tool %q: %w", tool, err)
		}
	}
	return nil
}

// Prune drops the attempts older than before and returns the result. It is
// pure: r is not modified, and when nothing is dropped the record comes back
// as it was (sharing its Attempts slice). Only Attempts change; the backoff
// step and streak times are the planner's to reset.
func Prune(r ToolRecord, before time.Time) ToolRecord {
	keep := 0
	for _, a := range r.Attempts {
		if !a.At.Before(before) {
			keep++
		}
	}
	if keep == len(r.Attempts) {
		return r
	}
	var kept []Attempt
	if keep > 0 {
		kept = make([]Attempt, 0, keep)
		for _, a := range r.Attempts {
			if !a.At.Before(before) {
				kept = append(kept, a)
			}
		}
	}
	r.Attempts = kept
	return r
}

// newerSchemaError is what a file from a newer binary gets.
type newerSchemaError struct {
	path      string
	found     int
	supported int
}

// ErrNewerSchema matches (errors.Is) the error for a state file written by
// a newer binary.
var ErrNewerSchema = errors.New("state file schema is newer than this binary")

func (e *newerSchemaError) Error() string {
	return fmt.Sprintf("state file %s has schema %d, newer than this binary understands (%d): refusing to use it; to roll back, stop the daemon and run the newer release with --migrate-down=%d first",
		e.path, e.found, e.supported, e.supported)
}

func (e *newerSchemaError) Is(target error) bool { return target == ErrNewerSchema }

// checkSchema returns the file's schema, or a newerSchemaError.
func (s *Store) checkSchema(tx *bolt.Tx) (int, error) {
	v, err := schemaOf(tx)
	if err != nil {
		return 0, fmt.Errorf("state file %s: %w", s.path, err)
	}
	if v > SchemaVersion {
		return v, &newerSchemaError{path: s.path, found: v, supported: SchemaVersion}
	}
	return v, nil
}

func schemaOf(tx *bolt.Tx) (int, error) {
	b := tx.Bucket(bucketMeta)
	if b == nil {
		return 0, nil
	}
	raw := b.Get(keySchema)
	if raw == nil {
		return 0, nil
	}
	v, err := strconv.Atoi(string(bytes.TrimSpace(raw)))
	if err != nil || v < 0 {
		return 0, fmt.Errorf("meta %s %q is not a schema version", keySchema, raw)
	}
	return v, nil
}
