package main

import (
	"io"
	"os"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"

	"webservicemonitor/internal/config"
)

// newLogger writes the log to stderr: JSON for a journal or a collector,
// zerolog's console writer for a person. log-format auto picks by where the
// log goes: the console writer on a terminal, JSON otherwise. Colour only
// on a terminal, and never when NO_COLOR is set (https://no-color.org).
//
// Durations are written as Go prints them, with their unit ("took":"1.52s",
// took=1.52s): read the same in both formats, where zerolog's default (a
// bare number of milliseconds) says nothing of its unit.
func newLogger(cfg *config.Config, stderr io.Writer) zerolog.Logger {
	zerolog.DurationFieldFormat = zerolog.DurationFormatString
	terminal := isTerminal(stderr)
	var w io.Writer = stderr
	if cfg.LogFormat == "console" || (cfg.LogFormat == config.LogFormatAuto && terminal) {
		w = zerolog.ConsoleWriter{Out: stderr, TimeFormat: time.TimeOnly, NoColor: !terminal || os.Getenv("NO_COLOR") != ""}
	}
	level, err := zerolog.ParseLevel(cfg.LogLevel)
	if err != nil {
		level = zerolog.InfoLevel
	}
	return zerolog.New(w).Level(level).With().Timestamp().Logger()
}

// isTerminal: w is a terminal (not a pipe, a file or the journal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}
