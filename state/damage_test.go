package state

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"
)

// realStateFile writes a state file the way the daemon does, with enough
// tools that their records span several pages, and returns its path.
func realStateFile(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state.db")
	s := openT(t, path, Options{})
	put := map[string]ToolRecord{}
	for i := range 300 {
		put[fmt.Sprintf("tool%03d", i)] = sampleRecord(i)
	}
	commitT(t, s, Changes{At: t0, Put: put})
	commitT(t, s, Changes{At: t0.Add(time.Minute), Put: map[string]ToolRecord{"tool000": sampleRecord(1)}})
	recordT(t, s, pauseAll, nil)
	recordT(t, s, forgetA, map[string]ToolRecord{"tool001": {}})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// metasOf reads both meta pages of a (healthy) file.
func metasOf(t *testing.T, path string) (m0, m1 metaPage) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m0 = readMeta(f, 0)
	m1 = readMeta(f, int64(m0.pageSize))
	if m0.err != nil || m1.err != nil {
		t.Fatalf("fixture's meta pages: %v, %v", m0.err, m1.err)
	}
	return m0, m1
}

// overwrite writes b at off in the file.
func overwrite(t *testing.T, path string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// toolsRootPage is the page holding the root of the tools bucket.
func toolsRootPage(t *testing.T, path string) int64 {
	t.Helper()
	db, err := bolt.Open(path, fileMode, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var root int64
	if err := db.View(func(tx *bolt.Tx) error {
		root = int64(tx.Bucket(bucketTools).Root())
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if root == 0 {
		t.Fatal("the tools bucket is inline: the fixture has too few tools")
	}
	return root
}

// damages are the ways a real file is damaged or lost, each applied to a
// copy of realStateFile; want is the error every mode must get.
var damages = []struct {
	name   string
	damage func(t *testing.T, path string)
	want   error
	// inMessage is what the error must say besides the file's name.
	inMessage string
}{
	{"truncated to half", func(t *testing.T, path string) {
		m0, m1 := metasOf(t, path)
		if err := os.Truncate(path, int64(max(m0.pgid, m1.pgid))*int64(m0.pageSize)/2); err != nil {
			t.Fatal(err)
		}
	}, ErrDamaged, "it was truncated"},
	{"a page of random bytes", func(t *testing.T, path string) {
		m0, _ := metasOf(t, path)
		page := make([]byte, m0.pageSize)
		rnd := rand.New(rand.NewPCG(10, 10))
		for i := range page {
			page[i] = byte(rnd.Uint32())
		}
		overwrite(t, path, toolsRootPage(t, path)*int64(m0.pageSize), page)
	}, ErrDamaged, "damaged"},
	{"newest meta page corrupted", func(t *testing.T, path string) {
		m0, m1 := metasOf(t, path)
		newest := int64(0)
		if m1.txid > m0.txid {
			newest = 1
		}
		overwrite(t, path, newest*int64(m0.pageSize)+pageHeaderSize+metaTxid, []byte{0xff, 0xff})
	}, ErrDamaged, "would silently roll the history back to transaction"},
	{"both meta pages overwritten", func(t *testing.T, path string) {
		m0, _ := metasOf(t, path)
		overwrite(t, path, 0, make([]byte, 2*m0.pageSize))
	}, ErrDamaged, "both meta pages are invalid"},
	{"emptied after use", func(t *testing.T, path string) {
		if err := os.Truncate(path, 0); err != nil {
			t.Fatal(err)
		}
	}, ErrHistoryLost, "is empty"},
	{"deleted after use", func(t *testing.T, path string) {
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
	}, ErrHistoryLost, "is missing"},
}

// useStore does what a cycle does with an open store, and the full check.
func useStore(s *Store) error {
	if _, err := s.Histories(); err != nil {
		return err
	}
	if _, err := s.Meta(); err != nil {
		return err
	}
	if _, err := s.FiringAlerts(); err != nil {
		return err
	}
	if _, err := s.Actions(); err != nil {
		return err
	}
	return s.Check()
}

// TestDamagedFileRefusedByEveryMode: no mode crashes on a damaged or lost
// file; each gets an error naming the file, and nothing re-creates or
// rewrites it.
func TestDamagedFileRefusedByEveryMode(t *testing.T) {
	modes := []struct {
		name string
		opt  Options
	}{
		{"read-only (audit)", Options{ReadOnly: true, LockTimeout: time.Second}},
		{"read-write (cycle, alerts)", Options{LockTimeout: time.Second}},
		{"read-write, no wait", Options{}},
	}
	for _, d := range damages {
		for _, m := range modes {
			t.Run(d.name+"/"+m.name, func(t *testing.T) {
				path := realStateFile(t)
				d.damage(t, path)
				before, _ := os.ReadFile(path)
				_, statErr := os.Stat(path)

				s, err := Open(path, m.opt)
				if err == nil {
					err = useStore(s)
					s.Close()
				}
				if !errors.Is(err, d.want) {
					t.Fatalf("got %v, want an error matching %v", err, d.want)
				}
				if msg := err.Error(); !strings.Contains(msg, path) || !strings.Contains(msg, d.inMessage) ||
					!strings.Contains(msg, "--reset-history") {
					t.Errorf("the error does not name the file, say %q and the fix: %s", d.inMessage, msg)
				}
				after, _ := os.ReadFile(path)
				if _, err := os.Stat(path); (err == nil) != (statErr == nil) || string(after) != string(before) {
					t.Error("the damaged or lost file was changed or re-created")
				}
			})
		}
	}
}

// TestFileTruncatedWhileOpen: a read past the end of a file truncated under
// an open handle faults (SIGBUS); it becomes an error, not a crash.
func TestFileTruncatedWhileOpen(t *testing.T) {
	for _, readOnly := range []bool{true, false} {
		t.Run(fmt.Sprintf("read-only=%v", readOnly), func(t *testing.T) {
			path := realStateFile(t)
			s := openT(t, path, Options{ReadOnly: readOnly})
			if err := os.Truncate(path, 4096); err != nil {
				t.Fatal(err)
			}
			_, err := s.Histories()
			if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), path) {
				t.Fatalf("Histories on a file truncated while open: %v", err)
			}
		})
	}
}

// TestFirstUseIsNotALoss: with no marker, a missing or empty file is a first
// use: created, marked, and said so once.
func TestFirstUseIsNotALoss(t *testing.T) {
	for _, empty := range []bool{false, true} {
		t.Run(fmt.Sprintf("empty file=%v", empty), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.db")
			if empty {
				if err := os.WriteFile(path, nil, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := Open(path, Options{ReadOnly: true}); err == nil || errors.Is(err, ErrHistoryLost) {
				t.Fatalf("read-only Open before first use: %v", err)
			}
			s := openT(t, path, Options{})
			if !s.Created() {
				t.Error("Created() false on first use")
			}
			s.Close()
			if !exists(MarkerPath(path)) {
				t.Fatal("no marker after first use")
			}
			s = openT(t, path, Options{})
			if s.Created() {
				t.Error("Created() true on the second Open")
			}
		})
	}
}

// TestMarkerAddedToAnOlderReleasesFile: a file written before the marker
// existed gets one at its first read-write Open, so its loss is noticed.
func TestMarkerAddedToAnOlderReleasesFile(t *testing.T) {
	path := realStateFile(t)
	if err := os.Remove(MarkerPath(path)); err != nil {
		t.Fatal(err)
	}
	openT(t, path, Options{ReadOnly: true}).Close()
	if exists(MarkerPath(path)) {
		t.Fatal("a read-only Open wrote the marker")
	}
	openT(t, path, Options{}).Close()
	if !exists(MarkerPath(path)) {
		t.Fatal("no marker after a read-write Open")
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path, Options{}); !errors.Is(err, ErrHistoryLost) {
		t.Fatalf("Open after the loss: %v", err)
	}
}

func TestResetHistory(t *testing.T) {
	now := time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC)
	for _, d := range damages {
		t.Run(d.name, func(t *testing.T) {
			path := realStateFile(t)
			d.damage(t, path)
			before, readErr := os.ReadFile(path)
			r, err := ResetHistory(path, now, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if !errors.Is(r.Reason, d.want) {
				t.Errorf("reason %v, want %v", r.Reason, d.want)
			}
			if readErr == nil {
				if want := path + ".unusable-20260203T040506Z"; r.SetAside != want {
					t.Errorf("set aside as %q, want %q", r.SetAside, want)
				}
				if kept, _ := os.ReadFile(r.SetAside); string(kept) != string(before) {
					t.Error("the file set aside is not the file as it was")
				}
			} else if r.SetAside != "" {
				t.Errorf("a missing file set aside as %q", r.SetAside)
			}
			s := openT(t, path, Options{})
			if h := historiesT(t, s); len(h) != 0 {
				t.Errorf("fresh history holds %d tools", len(h))
			}
			if a := actionsT(t, s); len(a) != 0 {
				t.Errorf("fresh history holds actions %+v", a)
			}
			if err := s.Check(); err != nil {
				t.Error(err)
			}
		})
	}
	t.Run("a usable file is kept", func(t *testing.T) {
		path := realStateFile(t)
		before := fileSum(t, path)
		if _, err := ResetHistory(path, now, Options{}); !errors.Is(err, ErrNothingToReset) {
			t.Fatalf("got %v, want ErrNothingToReset", err)
		}
		if fileSum(t, path) != before {
			t.Error("a usable file was changed")
		}
	})
	t.Run("a newer release's file is kept", func(t *testing.T) {
		path := copyFixture(t, "schema-2.db")
		if _, err := ResetHistory(path, now, Options{}); !errors.Is(err, ErrNewerSchema) {
			t.Fatalf("got %v, want ErrNewerSchema", err)
		}
	})
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return !errors.Is(err, fs.ErrNotExist)
}

// TestGuardRecoversAFault: a read of a mapping past the end of its file
// (SIGBUS) is an error naming the file, not a crash.
func TestGuardRecoversAFault(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	if err := os.WriteFile(path, make([]byte, 2*os.Getpagesize()), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	data, err := unix.Mmap(int(f.Fd()), 0, 2*os.Getpagesize(), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(data)
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	var b byte
	err = guard(path, func() error { b = data[os.Getpagesize()]; return nil })
	if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), path) {
		t.Fatalf("guard: %v (read %d)", err, b)
	}
}
