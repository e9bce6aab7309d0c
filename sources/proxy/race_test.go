//go:build race

package proxy

// raceEnabled shrinks TestDecodeListMemoryIsBounded under the race
// detector, which slows the decoder's byte loop about tenfold and has
// nothing to find in a decoder that runs on one goroutine.
const raceEnabled = true
