//go:build race

package qstat

// raceEnabled shrinks TestParseHugeGrid under the race detector, which
// slows encoding/xml about tenfold and has nothing to find in a parser
// that runs on one goroutine.
const raceEnabled = true
