package state

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// The state files in testdata/ stand for other releases' files: the upgrade
// and rollback tests here and the package's end-to-end suite (e2e/package)
// run the real binary against copies of them. They are generated, never
// edited by hand:
//
//go:generate go test -run ^TestFixtureFiles$ -update-fixtures .

// fixtureDir holds the state files of other releases, shared with the package suite.
const fixtureDir = "../testdata/state"

var updateFixtures = flag.Bool("update-fixtures", false, "rewrite the state fixtures in testdata/")

// fixtureRecord is the one tool history every fixture carries, in the JSON
// encoding schema 0 and 1 share.
const fixtureRecord = `{"attempts":[{"at":"2025-03-14T09:26:00Z","outcome":"failed","reason":"no grid job","duration":12000000000}],"backoff_step":1}`

// stateFixtures are the files in testdata/, by name, each with the content
// it is made of.
var stateFixtures = map[string]func(tx *bolt.Tx) error{
	// What a release from before the schema key wrote.
	"schema-0.db": func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucket(bucketMeta)
		if err != nil {
			return err
		}
		tools, err := tx.CreateBucket(bucketTools)
		if err != nil {
			return err
		}
		if err := meta.Put(keyLastCycle, []byte("2025-03-14T09:26:00Z")); err != nil {
			return err
		}
		return tools.Put([]byte("mytool"), []byte(fixtureRecord))
	},
	// What a future release writes: schema 2, with a bucket this release
	// does not know. This release must refuse it untouched.
	"schema-2.db": func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucket(bucketMeta)
		if err != nil {
			return err
		}
		tools, err := tx.CreateBucket(bucketTools)
		if err != nil {
			return err
		}
		future, err := tx.CreateBucket([]byte("future"))
		if err != nil {
			return err
		}
		for _, kv := range [][2]string{{string(keySchema), "2"}, {string(keyLastCycle), "2025-03-14T09:26:00Z"}} {
			if err := meta.Put([]byte(kv[0]), []byte(kv[1])); err != nil {
				return err
			}
		}
		if err := future.Put([]byte("mytool"), []byte(`{"something":"this release cannot know"}`)); err != nil {
			return err
		}
		return tools.Put([]byte("mytool"), []byte(fixtureRecord))
	},
}

// dump lists every bucket/key=value of a bbolt file, sorted.
func dump(t *testing.T, path string) []string {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var out []string
	err = db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			return b.ForEach(func(k, v []byte) error {
				out = append(out, string(name)+"/"+string(k)+"="+string(v))
				return nil
			})
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// copyFixture copies a fixture into a temporary directory: tests never open
// the committed file itself.
func copyFixture(t *testing.T, name string) string {
	t.Helper()
	src, err := os.Open(filepath.Join(fixtureDir, name))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	path := filepath.Join(t.TempDir(), "state.db")
	dst, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestFixtureFiles checks that each committed fixture holds exactly what its
// generator writes (and, with -update-fixtures, rewrites them).
func TestFixtureFiles(t *testing.T) {
	for _, name := range slices.Sorted(maps.Keys(stateFixtures)) {
		t.Run(name, func(t *testing.T) {
			fresh := filepath.Join(t.TempDir(), name)
			rawBolt(t, fresh, stateFixtures[name])
			committed := filepath.Join(fixtureDir, name)
			if *updateFixtures {
				data, err := os.ReadFile(fresh)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(committed, data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := os.Stat(committed); err != nil {
				t.Fatalf("%v (go generate ./state writes it)", err)
			}
			if got, want := dump(t, copyFixture(t, name)), dump(t, fresh); !slices.Equal(got, want) {
				t.Errorf("%s holds\n%s\nits generator writes\n%s\n(go generate ./state rewrites it)",
					committed, strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

func TestSchema0FixtureMigratedKeepingHistory(t *testing.T) {
	path := copyFixture(t, "schema-0.db")
	s := openT(t, path, Options{})
	if m, err := s.Meta(); err != nil || m.Schema != SchemaVersion || m.LastCycle.IsZero() {
		t.Errorf("Meta after migration = %+v, %v; want schema %d and the old last cycle", m, err, SchemaVersion)
	}
	h := historiesT(t, s)
	if r, ok := h["mytool"]; !ok || len(r.Attempts) != 1 || r.Attempts[0].Outcome != OutcomeFailed || r.BackoffStep != 1 {
		t.Errorf("mytool after migration = %+v (present %v)", r, ok)
	}
}

func TestSchema2FixtureRefusedUntouched(t *testing.T) {
	path := copyFixture(t, "schema-2.db")
	before := fileSum(t, path)
	for _, opt := range []Options{{}, {ReadOnly: true}} {
		if s, err := Open(path, opt); !errors.Is(err, ErrNewerSchema) {
			if s != nil {
				s.Close()
			}
			t.Errorf("%+v: Open error %v, want ErrNewerSchema", opt, err)
		}
	}
	if _, err := MigrateDown(path, 0, Options{}); !errors.Is(err, ErrNewerSchema) {
		t.Errorf("MigrateDown of a schema 2 file: %v, want ErrNewerSchema", err)
	}
	if fileSum(t, path) != before {
		t.Error("refusing a schema 2 file changed its bytes")
	}
	if _, err := os.Stat(path + ".schema-2.bak"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("refusing wrote a backup: %v", err)
	}
}

func TestMigrateDown(t *testing.T) {
	tests := []struct {
		name       string
		file       func(t *testing.T) string
		target     int
		wantFrom   int
		wantSchema int // afterwards
		wantErr    string
		backup     bool
	}{
		{"current to previous", func(t *testing.T) string {
			path := copyFixture(t, "schema-0.db")
			s := openT(t, path, Options{}) // migrates forward
			s.Close()
			return path
		}, 0, 1, 0, "", true},
		{"already there", func(t *testing.T) string { return copyFixture(t, "schema-0.db") }, 0, 0, 0, "", false},
		{"target above the file", func(t *testing.T) string {
			path := filepath.Join(t.TempDir(), "state.db")
			s := openT(t, path, Options{})
			s.Close()
			return path
		}, 1, 1, 1, "", false},
		{"negative target", func(t *testing.T) string { return copyFixture(t, "schema-0.db") }, -1, 0, 0, "negative", false},
		{"missing file", func(t *testing.T) string { return filepath.Join(t.TempDir(), "state.db") }, 0, 0, 0, "nothing to roll back", false},
		{"backup in the way", func(t *testing.T) string {
			path := filepath.Join(t.TempDir(), "state.db")
			s := openT(t, path, Options{})
			s.Close()
			os.WriteFile(path+".schema-1.bak", []byte("an earlier rollback"), 0o600)
			return path
		}, 0, 0, 1, "already exists", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.file(t)
			var before []string
			if _, err := os.Stat(path); err == nil {
				before = dump(t, path)
			}
			rb, err := MigrateDown(path, tt.target, Options{})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			} else if rb.From != tt.wantFrom {
				t.Errorf("From = %d, want %d", rb.From, tt.wantFrom)
			}
			if before == nil {
				return
			}
			ro := openT(t, path, Options{ReadOnly: true})
			if m, err := ro.Meta(); err != nil || m.Schema != tt.wantSchema {
				t.Errorf("schema afterwards %+v, %v; want %d", m, err, tt.wantSchema)
			}
			if h := historiesT(t, ro); len(h) != len(filterTools(before)) {
				t.Errorf("histories afterwards %v, before %v", h, before)
			}
			ro.Close()
			if tt.backup {
				if rb.Backup != path+".schema-1.bak" {
					t.Fatalf("Backup = %q", rb.Backup)
				}
				if got := dump(t, rb.Backup); !slices.Equal(got, before) {
					t.Errorf("backup holds %v, want the file as it was: %v", got, before)
				}
			} else if rb.Backup != "" {
				t.Errorf("Backup = %q for a file left alone", rb.Backup)
			}
		})
	}
}

// TestRoundTripDownAndUp: a file taken down and opened again by this
// release is migrated forward with its history intact.
func TestRoundTripDownAndUp(t *testing.T) {
	path := copyFixture(t, "schema-0.db")
	s := openT(t, path, Options{})
	want := historiesT(t, s)
	s.Close()
	if _, err := MigrateDown(path, 0, Options{}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains([]byte(strings.Join(dump(t, path), "\n")), []byte("meta/last_cycle")) ||
		slices.ContainsFunc(dump(t, path), func(s string) bool { return strings.HasPrefix(s, "meta/schema=") }) {
		t.Errorf("schema 0 file: %v", dump(t, path))
	}
	s = openT(t, path, Options{})
	if got := historiesT(t, s); len(got) != len(want) || len(got["mytool"].Attempts) != 1 {
		t.Errorf("histories after down and up = %v, want %v", got, want)
	}
}

func TestDownMigrationTableCoversEveryVersion(t *testing.T) {
	if got := len(downMigrations()); got != SchemaVersion {
		t.Errorf("%d down migrations for schema version %d: every version needs its way back", got, SchemaVersion)
	}
}

func filterTools(lines []string) []string {
	var out []string
	for _, l := range lines {
		if strings.HasPrefix(l, "tools/") {
			out = append(out, l)
		}
	}
	return out
}
