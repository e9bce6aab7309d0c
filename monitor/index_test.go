package monitor

import (
	"fmt"
	"hash/maphash"
	"testing"
)

func TestToolIndexFindsEveryTool(t *testing.T) {
	// Enough tools that some share the 32 bits of hash a slot keeps.
	names := make([]string, 200000)
	for k := range names {
		names[k] = fmt.Sprintf("tool%06d", k)
	}
	x := newToolIndex(len(names), func(k int32) string { return names[k] })
	for k, name := range names {
		if got := x.find(x.hash(name), name); got != int32(k) {
			t.Fatalf("find(%s) = %d, want %d", name, got, k)
		}
	}
	for _, absent := range []string{"", "tool", "tool200000", "other"} {
		if got := x.find(x.hash(absent), absent); got != -1 {
			t.Errorf("find(%q) = %d, want -1", absent, got)
		}
	}
}

func TestToolIndexTagCollision(t *testing.T) {
	names := []string{"a", "b"}
	x := toolIndex{seed: maphash.MakeSeed(), slots: make([]uint64, 16), name: func(k int32) string { return names[k] }}
	// b sits in a's home slot with a's tag, a right after it.
	h := x.hash("a")
	mask := uint64(len(x.slots) - 1)
	x.slots[h&mask] = h&^0xffffffff | 2
	x.slots[(h+1)&mask] = h&^0xffffffff | 1
	if got := x.candidate(h); got != 1 {
		t.Errorf("candidate = %d, want 1 (the first slot with the tag)", got)
	}
	if got := x.find(h, "a"); got != 0 {
		t.Errorf("find(a) = %d, want 0", got)
	}
	if got := x.find(h, "c"); got != -1 {
		t.Errorf("find(c) = %d, want -1", got)
	}
}

// A job of a tool whose slot's tag is shared with another tool is still its.
func TestJoinJobsOfTagSharingTools(t *testing.T) {
	in := Inputs{Manifests: manifestsOf("a", "b"), Jobs: jobsOf("a", "b")}
	j := &joined{in: &in}
	j.manifestRows()
	x := toolIndex{seed: maphash.MakeSeed(), slots: make([]uint64, 16), name: func(k int32) string { return j.tool(&j.rows[k]) }}
	h := x.hash("a")
	mask := uint64(len(x.slots) - 1)
	x.slots[h&mask] = h&^0xffffffff | 2 // b, with a's tag
	x.slots[(h+1)&mask] = h&^0xffffffff | 1
	hb := x.hash("b")
	for i := hb & mask; ; i = (i + 1) & mask {
		if x.slots[i] == 0 {
			x.slots[i] = hb&^0xffffffff | 2
			break
		}
	}
	j.matchJobs(x)
	for k, want := range []int{1, 2} {
		if r := j.rows[k]; r.job < 0 || in.Jobs[r.job].Number != want {
			t.Errorf("row %d: job %d, want job %d", k, r.job, want)
		}
	}
}
