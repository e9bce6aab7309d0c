// Package zaplog forwards what the etcd client logs through zap to the
// daemon's zerolog logger: its warnings and errors (a member unreachable,
// a request retried on another), which say why a store request failed,
// and not its informational chatter, which would drown the daemon's own
// log at every reconnect.
package zaplog

import (
	"time"

	"github.com/rs/zerolog"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// New is a zap logger writing warnings and errors to log, each with a
// component field naming what logged them (the etcd client is not the
// daemon: an admin reading the journal must tell them apart).
//
// Repeats are sampled: of one message, the first few each second, then
// one in a hundred. With etcd down the client warns at every retry of
// every request, and the journal should still show the daemon's own lines.
func New(log zerolog.Logger, component string, opts ...zap.Option) *zap.Logger {
	c := core{log: log.With().Str("component", component).Logger()}
	return zap.New(zapcore.NewSamplerWithOptions(c, time.Second, samplerFirst, samplerThereafter), opts...)
}

// The sampler's counts: per message and second, samplerFirst written,
// then every samplerThereafter-th.
const (
	samplerFirst      = 5
	samplerThereafter = 100
)

// core is a zapcore.Core writing to zerolog. Fields given to With are
// kept as zap fields and encoded with each entry's own.
type core struct {
	log    zerolog.Logger
	fields []zapcore.Field
}

// Enabled drops Debug and Info: the client's reconnects and balancer
// changes are routine; what matters surfaces as a warning or an error.
func (c core) Enabled(l zapcore.Level) bool { return l >= zapcore.WarnLevel }

// Level is the lowest level written (zapcore.LevelOf asks for it).
func (c core) Level() zapcore.Level { return zapcore.WarnLevel }

func (c core) With(fields []zapcore.Field) zapcore.Core {
	kept := make([]zapcore.Field, 0, len(c.fields)+len(fields))
	kept = append(append(kept, c.fields...), fields...)
	return core{log: c.log, fields: kept}
}

func (c core) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

// Write logs one entry: zap's panic and fatal levels as errors (zap itself
// then panics or exits, as the caller asked).
func (c core) Write(e zapcore.Entry, fields []zapcore.Field) error {
	ev := c.log.Error()
	if e.Level == zapcore.WarnLevel {
		ev = c.log.Warn()
	}
	enc := zapcore.NewMapObjectEncoder()
	for _, f := range c.fields {
		f.AddTo(enc)
	}
	for _, f := range fields {
		f.AddTo(enc)
	}
	if e.LoggerName != "" {
		ev = ev.Str("logger", e.LoggerName)
	}
	ev.Fields(enc.Fields).Msg(e.Message)
	return nil
}

// Sync has nothing to flush: zerolog writes each event as it comes.
func (c core) Sync() error { return nil }
