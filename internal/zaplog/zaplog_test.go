package zaplog

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.uber.org/zap"
)

func TestForwardsWarningsAndErrorsOnly(t *testing.T) {
	tests := []struct {
		name  string
		log   func(l *zap.Logger)
		level string // "" when nothing is written
		want  map[string]any
	}{
		{"debug dropped", func(l *zap.Logger) { l.Debug("picked endpoint") }, "", nil},
		{"info dropped", func(l *zap.Logger) { l.Info("balancer update", zap.String("addr", "m1")) }, "", nil},
		{"warn", func(l *zap.Logger) {
			l.Warn("retrying of unary invoker failed", zap.String("target", "m2"), zap.Int("attempt", 2))
		}, "warn", map[string]any{"message": "retrying of unary invoker failed", "target": "m2", "attempt": float64(2)}},
		{"error with its error", func(l *zap.Logger) { l.Error("lease keepalive failed", zap.Error(errors.New("no leader"))) },
			"error", map[string]any{"message": "lease keepalive failed", "error": "no leader"}},
		{"fields of With and the logger's name", func(l *zap.Logger) {
			l.Named("lease").With(zap.Int64("lease", 7)).Warn("lease not renewed", zap.Duration("ttl", 3e9))
		}, "warn", map[string]any{"logger": "lease", "lease": float64(7), "ttl": float64(3000)}}, // zerolog writes durations in ms
		{"dpanic as an error", func(l *zap.Logger) { l.DPanic("bad state") }, "error", map[string]any{"message": "bad state"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			tt.log(New(zerolog.New(&buf), "etcd-client"))
			if tt.level == "" {
				if buf.Len() != 0 {
					t.Fatalf("wrote %q, want nothing", buf.String())
				}
				return
			}
			var got map[string]any
			if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
				t.Fatalf("not one JSON event: %q: %v", buf.String(), err)
			}
			if got["level"] != tt.level || got["component"] != "etcd-client" {
				t.Errorf("level %v component %v, want %s etcd-client: %s", got["level"], got["component"], tt.level, buf.String())
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s = %#v, want %#v (event %s)", k, got[k], v, buf.String())
				}
			}
		})
	}
}

// The daemon's own level still applies: at error level a warning of the
// client is not written.
func TestDaemonLevelApplies(t *testing.T) {
	var buf bytes.Buffer
	l := New(zerolog.New(&buf).Level(zerolog.ErrorLevel), "etcd-client")
	l.Warn("slow")
	if buf.Len() != 0 {
		t.Errorf("wrote %q at error level", buf.String())
	}
	l.Error("down")
	if !bytes.Contains(buf.Bytes(), []byte(`"down"`)) {
		t.Errorf("error not written: %q", buf.String())
	}
}

type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time                         { return c.t }
func (c fixedClock) NewTicker(d time.Duration) *time.Ticker { return time.NewTicker(d) }

// A flood of one warning within a second (etcd down, the client warning
// at every retry) is sampled: the first few, then one in a hundred; other
// messages are counted apart.
func TestRepeatsSampled(t *testing.T) {
	var buf bytes.Buffer
	l := New(zerolog.New(&buf), "etcd-client", zap.WithClock(fixedClock{time.Date(2026, 11, 30, 5, 0, 0, 0, time.UTC)}))
	for range 1000 {
		l.Warn("retrying of unary invoker failed")
	}
	l.Error("lease keepalive failed")
	lines := bytes.Count(buf.Bytes(), []byte("\n"))
	want := samplerFirst + (1000-samplerFirst)/samplerThereafter + 1
	if lines != want {
		t.Errorf("%d lines written, want %d", lines, want)
	}
	if !bytes.Contains(buf.Bytes(), []byte("lease keepalive failed")) {
		t.Error("the other message was sampled away")
	}
}
