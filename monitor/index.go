package monitor

import "hash/maphash"

// toolIndex finds a tool's row by its name. It is an open-addressing table
// of row positions, each tagged with the upper half of its tool's hash: a
// probe compares integers and reads a tool's name only to confirm a match.
//
// It replaces a map[string]int32 because of BenchmarkPlan at 100,000 tools,
// where every step of a lookup misses the cache: the map took longer to
// build, and its lookups cannot be split into steps, so the join of the
// grid's jobs could not overlap their cache misses (see matchJobs). The
// figures are in the commit message that brought it back. The seed is
// random; it decides where a tool sits in the table, never what a lookup
// returns.
type toolIndex struct {
	seed  maphash.Seed
	slots []uint64 // the upper half of the tool's hash, then row + 1; 0 is empty
	name  func(k int32) string
}

// newToolIndex indexes n rows; name gives a row's tool.
func newToolIndex(n int, name func(k int32) string) toolIndex {
	size := 16
	for size < 2*n {
		size *= 2
	}
	x := toolIndex{seed: maphash.MakeSeed(), slots: make([]uint64, size), name: name}
	// Reading each name misses the cache: hashed on all cores, placed on one.
	hashes := make([]uint64, n)
	forEach(n, func(k int) { hashes[k] = x.hash(name(int32(k))) })
	mask := uint64(size - 1)
	for k, h := range hashes {
		i := h & mask
		for x.slots[i] != 0 {
			i = (i + 1) & mask
		}
		x.slots[i] = h&^0xffffffff | uint64(k+1)
	}
	return x
}

func (x toolIndex) hash(tool string) uint64 { return maphash.String(x.seed, tool) }

// candidate returns the first row, from the hash's home slot on, whose tag
// matches h: almost always the tool's. It is -1 when there is none, and so
// no such tool.
func (x toolIndex) candidate(h uint64) int32 {
	mask := uint64(len(x.slots) - 1)
	for i := h & mask; x.slots[i] != 0; i = (i + 1) & mask {
		if s := x.slots[i]; s>>32 == h>>32 {
			return int32(s&0xffffffff) - 1
		}
	}
	return -1
}

// find returns the row of the tool, whose hash is h; -1 when there is none.
func (x toolIndex) find(h uint64, tool string) int32 {
	mask := uint64(len(x.slots) - 1)
	for i := h & mask; x.slots[i] != 0; i = (i + 1) & mask {
		if s := x.slots[i]; s>>32 == h>>32 {
			if k := int32(s&0xffffffff) - 1; x.name(k) == tool {
				return k
			}
		}
	}
	return -1
}
