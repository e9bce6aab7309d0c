package proxy

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"

	"webservicemonitor/internal/synth"
)

// listBody builds a /list body of about size bytes in one of the shapes a
// broken or hostile proxy could send within the body cap.
func listBody(shape string, size int) []byte {
	var b bytes.Buffer
	b.Grow(size + 64)
	switch shape {
	case "many-tools": // as many short registrations as fit
		b.WriteByte('{')
		for i := 0; b.Len() < size-40; i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `"t%07d":{"status":"active"}`, i)
		}
		b.WriteByte('}')
	case "real-shape": // registrations as the proxy writes them
		b.WriteByte('{')
		for i := 0; b.Len() < size-120; i++ {
			if i > 0 {
				b.WriteString(",\n")
			}
			fmt.Fprintf(&b, `"tool-%07d": {"status": "active", "backend": "10.68.16.5:%d", "since": 1700000000}`, i, 30000+i%30000)
		}
		b.WriteByte('}')
	case "fat-value": // one registration with a huge field beside its status
		b.WriteString(`{"mytool": {"status": "active", "junk": "`)
		b.WriteString(strings.Repeat("x", size-64))
		b.WriteString(`"}}`)
	case "long-key": // one registration whose key is most of the body
		b.WriteString(`{"`)
		b.WriteString(strings.Repeat("k", size-64))
		b.WriteString(`": {"status": "active"}}`)
	case "long-status":
		b.WriteString(`{"mytool": {"status": "`)
		b.WriteString(strings.Repeat("s", size-64))
		b.WriteString(`"}}`)
	case "deep-extra": // a field nested as deep as JSON allows
		b.WriteString(`{"mytool": {"status": "active", "x": `)
		b.WriteString(strings.Repeat("[", 9990))
		b.WriteString(strings.Repeat("]", 9990))
		b.WriteString(`}}`)
	}
	return b.Bytes()
}

// decodeCost decodes body and returns the bytes allocated while decoding
// and the bytes the result keeps in the heap (HeapInuse after a collection,
// with the result alive, minus before).
func decodeCost(t testing.TB, body []byte) (allocated, retained uint64, n int) {
	t.Helper()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	regs, err := decodeList(bytes.NewReader(body), maxListBody)
	runtime.ReadMemStats(&after)
	allocated = after.TotalAlloc - before.TotalAlloc
	if err != nil {
		t.Fatalf("decodeList: %v", err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if after.HeapAlloc > before.HeapAlloc {
		retained = after.HeapAlloc - before.HeapAlloc
	}
	n = len(regs.regs)
	runtime.KeepAlive(regs)
	runtime.KeepAlive(body)
	return allocated, retained, n
}

// TestDecodeListMemoryIsBounded: a body just under the cap costs, in
// allocations, a small constant when it holds few registrations however
// big their other fields, keys or statuses, and a bounded amount per kept
// registration otherwise. (The encoding/json decoder it replaced allocated
// 96 to 128 MiB for the first kind and about 550 bytes a registration for
// the second, on a 32 MiB body.)
func TestDecodeListMemoryIsBounded(t *testing.T) {
	size := maxListBody - 1024
	if raceEnabled {
		size = 4 << 20 // the race detector slows the byte loop tenfold
	}
	tests := []struct {
		shape       string
		kept        bool   // many registrations kept: bounds are per registration
		maxAlloc    uint64 // bytes allocated while decoding (per registration when kept)
		maxRetained uint64 // bytes the result holds after a collection, per registration
	}{
		{shape: "fat-value", maxAlloc: 256 << 10},
		{shape: "long-key", maxAlloc: 256 << 10},
		{shape: "long-status", maxAlloc: 256 << 10},
		{shape: "deep-extra", maxAlloc: 256 << 10},
		{shape: "many-tools", kept: true, maxAlloc: 256, maxRetained: 128},
		{shape: "real-shape", kept: true, maxAlloc: 256, maxRetained: 128},
	}
	for _, tt := range tests {
		t.Run(tt.shape, func(t *testing.T) {
			body := listBody(tt.shape, size)
			allocated, retained, n := decodeCost(t, body)
			t.Logf("%.1f MiB body: %d registrations, %.2f MiB allocated, %.2f MiB retained",
				float64(len(body))/(1<<20), n, float64(allocated)/(1<<20), float64(retained)/(1<<20))
			if !tt.kept {
				if allocated > tt.maxAlloc {
					t.Errorf("allocated %d bytes, want at most %d whatever the body's size", allocated, tt.maxAlloc)
				}
				return
			}
			if n < 1000 {
				t.Fatalf("only %d registrations kept", n)
			}
			if per := allocated / uint64(n); per > tt.maxAlloc {
				t.Errorf("allocated %d bytes per registration, want at most %d", per, tt.maxAlloc)
			}
			if per := retained / uint64(n); per > tt.maxRetained {
				t.Errorf("the result holds %d bytes per registration, want at most %d", per, tt.maxRetained)
			}
		})
	}
}

// TestDecodeListAllocatesOncePerRegistration: the key is the one
// allocation a registration costs; statuses are shared.
func TestDecodeListAllocatesOncePerRegistration(t *testing.T) {
	const tools = 1000
	var b bytes.Buffer
	b.WriteByte('{')
	for i := range tools {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"tool-%04d": {"status": "active", "backend": "10.68.16.5:%d", "since": 1700000000}`, i, 30000+i)
	}
	b.WriteByte('}')
	body := b.Bytes()
	allocs := testing.AllocsPerRun(20, func() {
		if _, err := decodeList(bytes.NewReader(body), maxListBody); err != nil {
			t.Fatal(err)
		}
	})
	// The buffer, the map as it grows, a few shared statuses: a constant.
	if max := float64(tools) + 100; allocs > max {
		t.Errorf("%.0f allocations for %d registrations, want at most %.0f", allocs, tools, max)
	}
}

// BenchmarkDecodeListVsReference compares the streaming decoder with the
// encoding/json one it replaced on the synthetic platform's /list.
func BenchmarkDecodeListVsReference(b *testing.B) {
	for _, size := range synth.Sizes() {
		p := synth.ForBenchmark(b, size.Tools)
		body, err := os.ReadFile(p.ListJSON)
		if err != nil {
			b.Fatal(err)
		}
		b.Run("streaming/"+size.Name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := decodeList(bytes.NewReader(body), maxListBody); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("reference/"+size.Name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := decodeListReference(body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
