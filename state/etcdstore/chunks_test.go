package etcdstore

import (
	"fmt"
	"strings"
	"testing"
)

func writes(n, valueBytes int) []Write {
	var out []Write
	for i := range n {
		out = append(out, Write{Key: fmt.Sprintf("k%03d", i), Value: []byte(strings.Repeat("v", valueBytes))})
	}
	return out
}

func TestPlanChunks(t *testing.T) {
	cases := []struct {
		name     string
		writes   []Write
		maxOps   int
		maxBytes int
		want     []int // sizes of the chunks, in order
		wantErr  string
	}{
		{name: "nothing to write", writes: nil, maxOps: 3, maxBytes: 100, want: nil},
		{name: "under both limits", writes: writes(3, 1), maxOps: 3, maxBytes: 100, want: []int{3}},
		{name: "split by operations", writes: writes(7, 1), maxOps: 3, maxBytes: 100, want: []int{3, 3, 1}},
		// each write is 4 bytes of key and 10 of value
		{name: "split by bytes", writes: writes(5, 10), maxOps: 10, maxBytes: 30, want: []int{2, 2, 1}},
		{name: "one write exactly at the byte limit", writes: writes(2, 26), maxOps: 10, maxBytes: 30, want: []int{1, 1}},
		{name: "deletes count their key", writes: []Write{{Key: "abc", Delete: true}, {Key: "def", Delete: true}}, maxOps: 10, maxBytes: 5, want: []int{1, 1}},
		{name: "one write over the byte limit", writes: writes(2, 27), maxOps: 10, maxBytes: 30, wantErr: "value of k000 is 31 bytes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			chunks, err := planChunks(tc.writes, tc.maxOps, tc.maxBytes)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var sizes []int
			var keys []string
			for _, c := range chunks {
				sizes = append(sizes, len(c))
				for _, w := range c {
					keys = append(keys, w.Key)
				}
			}
			if fmt.Sprint(sizes) != fmt.Sprint(tc.want) {
				t.Errorf("chunk sizes %v, want %v", sizes, tc.want)
			}
			var inOrder []string
			for _, w := range tc.writes {
				inOrder = append(inOrder, w.Key)
			}
			if fmt.Sprint(keys) != fmt.Sprint(inOrder) {
				t.Errorf("keys %v, want the writes' order %v", keys, inOrder)
			}
		})
	}
}

func TestKeys(t *testing.T) {
	for _, bad := range []string{"", "wsm/", "/wsm", "wsm"} {
		if _, err := NewKeys(bad); err == nil {
			t.Errorf("prefix %q accepted", bad)
		}
	}
	k, err := NewKeys(DefaultPrefix)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ got, want string }{
		{k.Election(), "/webservicemonitor/election"},
		{k.Tool("x"), "/webservicemonitor/tools/x"},
		{k.Action(42), "/webservicemonitor/actions/00000000000000000042"},
		{k.ActionsSeq(), "/webservicemonitor/actions-seq"},
		{k.Alert("a1"), "/webservicemonitor/alerts/a1"},
		{k.Schema(), "/webservicemonitor/meta/schema"},
		{k.LastCycle(), "/webservicemonitor/meta/last_cycle"},
		{k.Import(), "/webservicemonitor/meta/import"},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("key %q, want %q", c.got, c.want)
		}
	}
	// Zero padding keeps the keys' order the IDs' order.
	if !(k.Action(9) < k.Action(10)) {
		t.Errorf("action 9's key sorts after action 10's")
	}
}
