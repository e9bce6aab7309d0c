package ha

import (
	"testing"
	"time"
)

func TestValidity(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	cases := []struct {
		name     string
		renewals []struct{ sentAt, ttl float64 } // seconds after t0
		now      float64
		want     bool
	}{
		{name: "never renewed", now: 0, want: false},
		{name: "inside the renewal less the margin", renewals: []struct{ sentAt, ttl float64 }{{0, 20}}, now: 16.9, want: true},
		{name: "in the margin", renewals: []struct{ sentAt, ttl float64 }{{0, 20}}, now: 17, want: false},
		{name: "paused past it", renewals: []struct{ sentAt, ttl float64 }{{0, 20}}, now: 60, want: false},
		{name: "a later renewal extends", renewals: []struct{ sentAt, ttl float64 }{{0, 20}, {5, 20}}, now: 21, want: true},
		// An answer that arrives late to a renewal sent early must not
		// move the end back (nor forward past what etcd promised).
		{name: "an older renewal's answer does not shorten", renewals: []struct{ sentAt, ttl float64 }{{5, 20}, {0, 20}}, now: 21, want: true},
		{name: "a shorter grant does not shorten", renewals: []struct{ sentAt, ttl float64 }{{0, 20}, {1, 3}}, now: 16, want: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := validity{margin: 3 * time.Second} // as for a 20 s TTL: 1 s + ttl/10
			for _, r := range tc.renewals {
				v.renewed(at(r.sentAt), time.Duration(r.ttl*float64(time.Second)))
			}
			if got := v.valid(at(tc.now)); got != tc.want {
				t.Errorf("valid at +%gs = %v, want %v (until %s)", tc.now, got, tc.want, v.until.Sub(t0))
			}
		})
	}
}
