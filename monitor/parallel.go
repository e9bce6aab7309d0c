package monitor

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// minPerCore is the fewest items (tools, jobs, restarts) worth a goroutine
// of their own: below it, starting one costs about what it saves.
const minPerCore = 1024

// partsPerCore is how many parts each core's share is cut into. The cores
// take the parts as they come, so a core slowed by other processes ends up
// doing fewer of them instead of holding up the rest.
const partsPerCore = 8

// forEach calls work(i) for every i in [0, n), spread over the cores. Each
// call must touch only what belongs to item i; the result is then the same
// whatever the split.
func forEach(n int, work func(i int)) {
	inParts(n, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			work(i)
		}
	})
}

// inParts calls work(lo, hi) for parts of [0, n) that together cover it
// once, spread over the cores. At 100,000 tools, one core is too slow for
// the README's target for a plan (BenchmarkPlan): most of the time goes to
// memory, one tool or job after another, and several cores wait for it at
// once.
func inParts(n int, work func(lo, hi int)) {
	cores := min(runtime.GOMAXPROCS(0), n/minPerCore)
	if cores <= 1 {
		work(0, n)
		return
	}
	parts := cores * partsPerCore
	var next atomic.Int64
	var wg sync.WaitGroup
	for range cores {
		wg.Go(func() {
			for part := int(next.Add(1)) - 1; part < parts; part = int(next.Add(1)) - 1 {
				work(n*part/parts, n*(part+1)/parts)
			}
		})
	}
	wg.Wait()
}

// sideBySide runs a and b at the same time when there are n >= minPerCore
// items to work on, one after the other when there are fewer.
func sideBySide(n int, a, b func()) {
	if n < minPerCore {
		a()
		b()
		return
	}
	var wg sync.WaitGroup
	wg.Go(a)
	b()
	wg.Wait()
}
