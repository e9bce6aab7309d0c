package toolname

import "testing"

func TestSafe(t *testing.T) {
	for name, want := range map[string]bool{
		"alpha": true, "a": true, "tool-1.x_y": true, "0day": true,
		"": false, "-x": false, "Alpha": false, "../etc": false, "a/b": false, "a b": false,
		"a\n": false, string(make([]byte, 65)): false,
	} {
		if got := Safe(name); got != want {
			t.Errorf("Safe(%q) = %v, want %v", name, got, want)
		}
	}
}
