//go:build !race

package qstat

const raceEnabled = false
