package state

import (
	"errors"
	"path/filepath"
	"testing"
	"time"
)

func TestAcquireDaemonLockWait(t *testing.T) {
	tests := []struct {
		name     string
		holdFor  time.Duration // how long the first holder keeps the lock; 0: for good
		wait     time.Duration
		wantErr  bool
		minTaken time.Duration
	}{
		{name: "free lock", wait: time.Second},
		{name: "holder lets go within the wait", holdFor: 300 * time.Millisecond, wait: 3 * time.Second, minTaken: 250 * time.Millisecond},
		{name: "holder stays", wait: 400 * time.Millisecond, wantErr: true, minTaken: 400 * time.Millisecond},
		{name: "no wait fails at once", wait: 0, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.db.lock")
			if tt.name != "free lock" {
				release, err := AcquireDaemonLock(path)
				if err != nil {
					t.Fatal(err)
				}
				defer release()
				if tt.holdFor > 0 {
					time.AfterFunc(tt.holdFor, func() { release() })
				}
			}
			began := time.Now()
			release, err := AcquireDaemonLockWait(path, tt.wait)
			taken := time.Since(began)
			if tt.wantErr {
				if !errors.Is(err, ErrLocked) {
					t.Fatalf("err = %v, want ErrLocked", err)
				}
			} else {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				release()
			}
			if taken < tt.minTaken || taken > tt.wait+time.Second {
				t.Errorf("took %s, want between %s and %s", taken, tt.minTaken, tt.wait+time.Second)
			}
		})
	}
}
