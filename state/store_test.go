package state

import (
	"bufio"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

var t0 = time.Date(2025, 3, 14, 9, 26, 0, 0, time.UTC)

// sampleRecord has every field set, so a field the encoding drops shows up.
func sampleRecord(i int) ToolRecord {
	at := t0.Add(time.Duration(i) * time.Minute)
	return ToolRecord{
		Attempts: []Attempt{
			{At: at.Add(-20 * time.Minute), Outcome: OutcomeFailed, Reason: "not registered with proxy", Duration: 12 * time.Second},
			{At: at.Add(-10 * time.Minute), Outcome: OutcomeTimedOut, Reason: "job Eqw", Duration: 30 * time.Second},
			{At: at, Outcome: OutcomeStarted, Reason: "no grid job"},
		},
		BackoffStep: 3,
		DownSince:   at.Add(-25 * time.Minute),
		LastSeenUp:  at.Add(-26 * time.Minute),
		GivenUpAt:   at,
		Notice:      "give-up:budget-exhausted",
	}
}

func openT(t *testing.T, path string, opt Options) *Store {
	t.Helper()
	s, err := Open(path, opt)
	if err != nil {
		t.Fatalf("Open(%s, %+v): %v", path, opt, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func commitT(t *testing.T, s *Store, c Changes) {
	t.Helper()
	if err := s.Commit(c); err != nil {
		t.Fatalf("Commit: %v", err)
	}
}

func historiesT(t *testing.T, s *Store) map[string]ToolRecord {
	t.Helper()
	h, err := s.Histories()
	if err != nil {
		t.Fatalf("Histories: %v", err)
	}
	out := make(map[string]ToolRecord, len(h))
	for i, th := range h {
		if i > 0 && h[i-1].Tool >= th.Tool {
			t.Fatalf("Histories not sorted by tool: %q before %q", h[i-1].Tool, th.Tool)
		}
		if rec, ok := h.Get(th.Tool); !ok || !reflect.DeepEqual(rec, th.Record) {
			t.Fatalf("Get(%q) = %+v, %v; want %+v", th.Tool, rec, ok, th.Record)
		}
		out[th.Tool] = th.Record
	}
	return out
}

func fileSum(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// rawBolt writes a bbolt file by hand, the way another binary version would.
func rawBolt(t *testing.T, path string, fill func(tx *bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(fill); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s := openT(t, path, Options{})
	want := map[string]ToolRecord{"mytool": sampleRecord(0), "other": sampleRecord(1), "quiet": {}}
	commitT(t, s, Changes{At: t0, Put: want})
	if got := historiesT(t, s); !reflect.DeepEqual(got, want) {
		t.Errorf("Histories = %+v\nwant %+v", got, want)
	}
	meta, err := s.Meta()
	if err != nil {
		t.Fatal(err)
	}
	if meta.Schema != SchemaVersion || !meta.LastCycle.Equal(t0) {
		t.Errorf("Meta = %+v, want schema %d, last cycle %s", meta, SchemaVersion, t0)
	}
}

func TestNewFileModeAndEmptyHistory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s := openT(t, path, Options{})
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("new state file mode = %v, want 0600", fi.Mode().Perm())
	}
	if h := historiesT(t, s); h == nil || len(h) != 0 {
		t.Errorf("Histories of a new file = %v, want empty non-nil", h)
	}
	if m, err := s.Meta(); err != nil || m.Schema != SchemaVersion || !m.LastCycle.IsZero() {
		t.Errorf("Meta of a new file = %+v, %v", m, err)
	}
}

func TestMissingDirectoryIsNotCreated(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "not-there")
	path := filepath.Join(dir, "state.db")
	_, err := Open(path, Options{})
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("Open error = %v, want one naming %s", err, path)
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open created %s (stat: %v)", dir, err)
	}
}

func TestHistorySurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	want := map[string]ToolRecord{"mytool": sampleRecord(0)}
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	commitT(t, s, Changes{At: t0, Put: want})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for _, opt := range []Options{{}, {ReadOnly: true}} {
		s := openT(t, path, opt)
		got := historiesT(t, s)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%+v: Histories after reopen = %+v, want %+v", opt, got, want)
		}
		if r := got["mytool"]; r.BackoffStep != 3 || len(r.Attempts) != 3 || !r.GivenUpAt.Equal(t0) {
			t.Errorf("%+v: throttling data lost: %+v", opt, r)
		}
		s.Close()
	}
}

func TestCommitDeletesAndReplaces(t *testing.T) {
	s := openT(t, filepath.Join(t.TempDir(), "state.db"), Options{})
	commitT(t, s, Changes{At: t0, Put: map[string]ToolRecord{
		"a": sampleRecord(0), "b": sampleRecord(1), "c": sampleRecord(2),
	}})
	replaced := ToolRecord{BackoffStep: 1, Notice: "ok"}
	commitT(t, s, Changes{
		At:     t0.Add(time.Minute),
		Put:    map[string]ToolRecord{"a": replaced, "d": {}, "e": sampleRecord(4)},
		Delete: []string{"b", "e", "never-existed", ""},
	})
	want := map[string]ToolRecord{"a": replaced, "c": sampleRecord(2), "d": {}}
	if got := historiesT(t, s); !reflect.DeepEqual(got, want) {
		t.Errorf("Histories = %+v\nwant %+v", got, want)
	}
	if m, _ := s.Meta(); !m.LastCycle.Equal(t0.Add(time.Minute)) {
		t.Errorf("LastCycle = %s, want %s", m.LastCycle, t0.Add(time.Minute))
	}
	// A zero At leaves the last cycle alone.
	commitT(t, s, Changes{Delete: []string{"d"}})
	if m, _ := s.Meta(); !m.LastCycle.Equal(t0.Add(time.Minute)) {
		t.Errorf("LastCycle after a zero-At commit = %s", m.LastCycle)
	}
}

func TestCommitIsAllOrNothing(t *testing.T) {
	s := openT(t, filepath.Join(t.TempDir(), "state.db"), Options{})
	commitT(t, s, Changes{At: t0, Put: map[string]ToolRecord{"a": sampleRecord(0)}})
	err := s.Commit(Changes{At: t0.Add(time.Minute), Put: map[string]ToolRecord{"b": {}, "": {}}})
	if err == nil || !strings.Contains(err.Error(), "empty tool name") {
		t.Fatalf("Commit with an empty tool name: %v", err)
	}
	if got := historiesT(t, s); len(got) != 1 {
		t.Errorf("a failed Commit left changes behind: %v", got)
	}
	if m, _ := s.Meta(); !m.LastCycle.Equal(t0) {
		t.Errorf("a failed Commit moved LastCycle to %s", m.LastCycle)
	}
}

func TestCommitOnReadOnlyStoreFails(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	before := fileSum(t, path)
	ro := openT(t, path, Options{ReadOnly: true})
	if err := ro.Commit(Changes{At: t0, Put: map[string]ToolRecord{"a": {}}}); err == nil {
		t.Error("Commit on a read-only store succeeded")
	}
	ro.Close()
	if fileSum(t, path) != before {
		t.Error("read-only store changed the file")
	}
}

func TestCorruptRecordIsNamed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	rawBolt(t, path, func(tx *bolt.Tx) error {
		meta, _ := tx.CreateBucket(bucketMeta)
		tools, _ := tx.CreateBucket(bucketTools)
		meta.Put(keySchema, []byte("1"))
		return tools.Put([]byte("broken"), []byte(`{"attempts": "yes"}`))
	})
	s := openT(t, path, Options{ReadOnly: true})
	if _, err := s.Histories(); err == nil || !strings.Contains(err.Error(), `"broken"`) || !strings.Contains(err.Error(), path) {
		t.Errorf("Histories error = %v, want one naming the tool and file", err)
	}
}

func TestNewerSchemaRefusedAndFileUntouched(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	rawBolt(t, path, func(tx *bolt.Tx) error {
		meta, _ := tx.CreateBucket(bucketMeta)
		tools, _ := tx.CreateBucket(bucketTools)
		tools.Put([]byte("mytool"), []byte(`{"format":"from the future"}`))
		return meta.Put(keySchema, []byte("2"))
	})
	before := fileSum(t, path)
	wantMsg := fmt.Sprintf("state file %s has schema 2, newer than this binary understands (1): refusing to use it; to roll back, stop the daemon and run the newer release with --migrate-down=1 first", path)
	for _, opt := range []Options{{}, {ReadOnly: true}} {
		s, err := Open(path, opt)
		if err == nil {
			s.Close()
			t.Fatalf("%+v: Open accepted a schema 2 file", opt)
		}
		if !errors.Is(err, ErrNewerSchema) {
			t.Errorf("%+v: error %v does not match ErrNewerSchema", opt, err)
		}
		if err.Error() != wantMsg {
			t.Errorf("%+v: error = %q\nwant %q", opt, err, wantMsg)
		}
	}
	if fileSum(t, path) != before {
		t.Error("refusing a newer file changed its bytes")
	}
}

func TestUnreadableSchemaRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	rawBolt(t, path, func(tx *bolt.Tx) error {
		meta, _ := tx.CreateBucket(bucketMeta)
		return meta.Put(keySchema, []byte("one"))
	})
	if _, err := Open(path, Options{}); err == nil || !strings.Contains(err.Error(), "not a schema version") {
		t.Errorf("Open error = %v, want a schema complaint", err)
	}
}

func TestMigrationTableCoversEveryVersion(t *testing.T) {
	if got := len(migrations()); got != SchemaVersion {
		t.Errorf("%d migrations for schema version %d: every version needs its step", got, SchemaVersion)
	}
}

func TestV0FileMigrated(t *testing.T) {
	tests := []struct {
		name string
		fill func(tx *bolt.Tx) error
	}{
		{"no buckets at all", func(tx *bolt.Tx) error { return nil }},
		{"meta without schema key", func(tx *bolt.Tx) error {
			_, err := tx.CreateBucket(bucketMeta)
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.db")
			rawBolt(t, path, tt.fill)
			before := fileSum(t, path)

			// A read-only audit cannot migrate: it sees schema 0 and no history,
			// and leaves the file alone.
			ro := openT(t, path, Options{ReadOnly: true})
			if m, err := ro.Meta(); err != nil || m.Schema != 0 {
				t.Errorf("read-only Meta of a v0 file = %+v, %v; want schema 0", m, err)
			}
			if h := historiesT(t, ro); len(h) != 0 {
				t.Errorf("read-only Histories of a v0 file = %v", h)
			}
			ro.Close()
			if fileSum(t, path) != before {
				t.Fatal("read-only open changed a v0 file")
			}

			s := openT(t, path, Options{})
			if m, err := s.Meta(); err != nil || m.Schema != SchemaVersion {
				t.Errorf("Meta after migration = %+v, %v; want schema %d", m, err, SchemaVersion)
			}
			commitT(t, s, Changes{At: t0, Put: map[string]ToolRecord{"a": sampleRecord(0)}})
			if h := historiesT(t, s); len(h) != 1 {
				t.Errorf("Histories after migration and commit = %v", h)
			}
		})
	}
}

func TestCurrentSchemaOpenDoesNotWrite(t *testing.T) {
	// The daemon opens the file every cycle; an open with nothing to
	// migrate must not cost a write.
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	before := fileSum(t, path)
	s = openT(t, path, Options{})
	s.Close()
	if fileSum(t, path) != before {
		t.Error("reopening a current file changed it")
	}
}

func TestMissingFileReadOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	_, err := Open(path, Options{ReadOnly: true})
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open read-only of a missing file: %v, want fs.ErrNotExist", err)
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("error %q does not name the path", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Error("read-only Open created the file")
	}
}

func TestReadOnlyWhileWriterHoldsItTimesOut(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	openT(t, path, Options{}) // held read-write for the rest of the test
	for _, opt := range []Options{{ReadOnly: true, LockTimeout: 200 * time.Millisecond}, {LockTimeout: 200 * time.Millisecond}} {
		start := time.Now()
		s, err := Open(path, opt)
		elapsed := time.Since(start)
		if err == nil {
			s.Close()
			t.Fatalf("%+v: Open succeeded while another handle holds the file", opt)
		}
		if !errors.Is(err, ErrLocked) {
			t.Errorf("%+v: error %v does not match ErrLocked", opt, err)
		}
		// flock is per open file description, so our own other handle blocks
		// us, and /proc/locks shows our own PID.
		for _, want := range []string{path, "PID " + strconv.Itoa(os.Getpid()), "(this process)"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%+v: error %q does not contain %q", opt, err, want)
			}
		}
		if elapsed > 200*time.Millisecond+time.Second {
			t.Errorf("%+v: Open took %s with a 200ms lock timeout", opt, elapsed)
		}
	}
}

// TestZeroLockTimeoutIsOneTry: a zero LockTimeout means no wait, never a
// default one; a negative one is refused.
func TestZeroLockTimeoutIsOneTry(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	openT(t, path, Options{}) // held read-write for the rest of the test
	for _, opt := range []Options{{ReadOnly: true}, {}} {
		s, err := Open(path, opt)
		if err == nil {
			s.Close()
			t.Fatalf("%+v: Open succeeded while another handle holds the file", opt)
		}
		if !errors.Is(err, ErrLocked) || strings.Contains(err.Error(), "gave up after") {
			t.Errorf("%+v: error %q, want ErrLocked after one try, without a wait", opt, err)
		}
	}
	if _, err := MigrateDown(path, 0, Options{}); !errors.Is(err, ErrLocked) || strings.Contains(err.Error(), "gave up after") {
		t.Errorf("MigrateDown: error %v, want ErrLocked after one try, without a wait", err)
	}
}

func TestNegativeLockTimeoutRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	for _, opt := range []Options{{ReadOnly: true, LockTimeout: -time.Second}, {LockTimeout: -time.Second}} {
		if s, err := Open(path, opt); err == nil || !strings.Contains(err.Error(), "negative") {
			if s != nil {
				s.Close()
			}
			t.Errorf("%+v: Open error %v, want one about the negative timeout", opt, err)
		}
	}
	if _, err := MigrateDown(path, 0, Options{LockTimeout: -time.Second}); err == nil || !strings.Contains(err.Error(), "negative") {
		t.Errorf("MigrateDown error %v, want one about the negative timeout", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a refused Open created the file (stat: %v)", err)
	}
}

func TestConcurrentReadOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	commitT(t, s, Changes{At: t0, Put: map[string]ToolRecord{"a": sampleRecord(0)}})
	s.Close()
	a := openT(t, path, Options{ReadOnly: true, LockTimeout: 200 * time.Millisecond})
	b := openT(t, path, Options{ReadOnly: true, LockTimeout: 200 * time.Millisecond})
	if len(historiesT(t, a)) != 1 || len(historiesT(t, b)) != 1 {
		t.Error("concurrent readers did not both see the record")
	}
	// ...and a writer has to wait for both of them.
	if _, err := Open(path, Options{LockTimeout: 100 * time.Millisecond}); !errors.Is(err, ErrLocked) {
		t.Errorf("writer Open while readers hold the file: %v, want ErrLocked", err)
	}
}

func TestPrune(t *testing.T) {
	at := func(m int) Attempt {
		return Attempt{At: t0.Add(time.Duration(m) * time.Minute), Outcome: OutcomeFailed}
	}
	tests := []struct {
		name   string
		in     []Attempt
		before time.Time
		want   []Attempt
	}{
		{"no attempts", nil, t0, nil},
		{"all recent", []Attempt{at(0), at(5)}, t0, []Attempt{at(0), at(5)}},
		{"attempt exactly at the cut is kept", []Attempt{at(-1), at(0)}, t0, []Attempt{at(0)}},
		{"all old", []Attempt{at(-30), at(-20)}, t0, nil},
		{"mixed", []Attempt{at(-30), at(-5), at(1), at(2)}, t0.Add(-10 * time.Minute), []Attempt{at(-5), at(1), at(2)}},
		{"out of order still filtered", []Attempt{at(3), at(-30), at(4)}, t0, []Attempt{at(3), at(4)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := ToolRecord{Attempts: tt.in, BackoffStep: 4, Notice: "n", GivenUpAt: t0}
			orig := append([]Attempt(nil), tt.in...)
			got := Prune(in, tt.before)
			if !reflect.DeepEqual(got.Attempts, tt.want) {
				t.Errorf("Prune attempts = %v, want %v", got.Attempts, tt.want)
			}
			if got.BackoffStep != 4 || got.Notice != "n" || !got.GivenUpAt.Equal(t0) {
				t.Errorf("Prune touched other fields: %+v", got)
			}
			if !reflect.DeepEqual(in.Attempts, orig) {
				t.Errorf("Prune modified its input: %v, was %v", in.Attempts, orig)
			}
		})
	}
}

func TestParseLockHolders(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "proc-locks.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fixture, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name         string
		major, minor uint32
		ino          uint64
		want         []int
	}{
		{"holders, not waiters, no OFD -1, deduplicated", 0xfd, 1, 1234567, []int{2201, 12345}},
		{"major above ff", 0x103, 1, 1234567, []int{6666}},
		{"other device", 0xfd, 2, 1234567, []int{4444}},
		{"nobody", 0xfd, 1, 42, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseLockHolders(strings.NewReader(string(fixture)), tt.major, tt.minor, tt.ino)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parseLockHolders = %v, want %v", got, tt.want)
			}
		})
	}
}

// The helper process: a second supervisor (or audit) in another process,
// holding the file until the test closes its stdin.
const helperEnv = "STATE_TEST_HELPER"

func TestHelperProcess(t *testing.T) {
	mode := os.Getenv(helperEnv)
	if mode == "" {
		t.Skip("only runs as a child of the lock tests")
	}
	path := os.Getenv("STATE_TEST_PATH")
	switch mode {
	case "open-rw":
		s, err := Open(path, Options{})
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		defer s.Close()
	case "commit-then-hang":
		s, err := Open(path, Options{})
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		if err := s.Commit(Changes{At: t0, Put: map[string]ToolRecord{"mytool": sampleRecord(0)}}); err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		// No Close: the parent kills us as if mid-cycle.
	case "daemon-lock":
		release, err := AcquireDaemonLock(path)
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		defer release()
	default:
		fmt.Println("error: unknown mode", mode)
		os.Exit(1)
	}
	fmt.Println("ready")
	io.Copy(io.Discard, os.Stdin) // hold until the parent closes our stdin (or dies)
}

// startHolder runs TestHelperProcess in a child and waits until it holds path.
func startHolder(t *testing.T, mode, path string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode, "STATE_TEST_PATH="+path)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	line := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(stdout).ReadString('\n')
		line <- strings.TrimSpace(l)
		io.Copy(io.Discard, stdout)
	}()
	select {
	case l := <-line:
		if l != "ready" {
			t.Fatalf("helper %s: %q", mode, l)
		}
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("helper %s never got ready", mode)
	}
	return cmd
}

func TestLockedByOtherProcessNamesItsPID(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	child := startHolder(t, "open-rw", path)
	for _, opt := range []Options{{ReadOnly: true, LockTimeout: 300 * time.Millisecond}, {LockTimeout: 300 * time.Millisecond}} {
		start := time.Now()
		s, err := Open(path, opt)
		if err == nil {
			s.Close()
			t.Fatalf("%+v: Open succeeded while another process holds the file", opt)
		}
		if !errors.Is(err, ErrLocked) {
			t.Errorf("%+v: error %v does not match ErrLocked", opt, err)
		}
		want := fmt.Sprintf("state file %s is locked by PID %d", path, child.Process.Pid)
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%+v: error %q\ndoes not contain %q", opt, err, want)
		}
		if elapsed := time.Since(start); elapsed > 300*time.Millisecond+time.Second {
			t.Errorf("%+v: Open took %s with a 300ms lock timeout", opt, elapsed)
		}
	}
}

func TestKilledWriterKeepsLastCommit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	child := startHolder(t, "commit-then-hang", path)
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	child.Wait()
	s := openT(t, path, Options{LockTimeout: 5 * time.Second})
	got := historiesT(t, s)
	if !reflect.DeepEqual(got, map[string]ToolRecord{"mytool": sampleRecord(0)}) {
		t.Errorf("after the writer was killed, Histories = %+v", got)
	}
}

func TestAcquireDaemonLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db.lock")

	release, err := AcquireDaemonLock(path)
	if err != nil {
		t.Fatalf("first AcquireDaemonLock: %v", err)
	}
	if b, _ := os.ReadFile(path); strings.TrimSpace(string(b)) != strconv.Itoa(os.Getpid()) {
		t.Errorf("lock file holds %q, want our PID %d", b, os.Getpid())
	}
	// A second acquisition, even from this process, is refused: flock
	// belongs to the open file description.
	if _, err := AcquireDaemonLock(path); !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "PID "+strconv.Itoa(os.Getpid())) {
		t.Errorf("second AcquireDaemonLock: %v, want ErrLocked naming our PID", err)
	}
	if err := release(); err != nil {
		t.Fatalf("release: %v", err)
	}
	if err := release(); err != nil {
		t.Errorf("second release: %v", err)
	}

	child := startHolder(t, "daemon-lock", path)
	_, err = AcquireDaemonLock(path)
	want := fmt.Sprintf("daemon lock %s is locked by PID %d", path, child.Process.Pid)
	if !errors.Is(err, ErrLocked) || err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("AcquireDaemonLock while a child holds it: %v, want ErrLocked containing %q", err, want)
	}

	// The lock dies with its holder, without anyone cleaning up.
	child.Process.Signal(syscall.SIGKILL)
	child.Wait()
	release, err = AcquireDaemonLock(path)
	if err != nil {
		t.Fatalf("AcquireDaemonLock after the holder died: %v", err)
	}
	release()
}
