package state

import (
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

func TestFiringAlertsRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s := openT(t, path, Options{})
	got, err := s.FiringAlerts()
	if err != nil || len(got) != 0 {
		t.Fatalf("a fresh file has firing alerts %v, %v", got, err)
	}
	echo := AlertRecord{
		Labels:      map[string]string{"alertname": "WebserviceGivenUp", "tool": "echo", "severity": "page"},
		Annotations: map[string]string{"description": "no job; gave up after 3 restarts"},
		StartsAt:    t0,
	}
	valve := AlertRecord{Labels: map[string]string{"alertname": "WebserviceMonitorSafetyValve"}, StartsAt: t0.Add(-time.Hour)}
	steps := []map[string]AlertRecord{
		{"echo": echo, "valve": valve},
		{"echo": echo}, // the valve resolved: gone, not left behind
		{},
	}
	for i, want := range steps {
		if err := s.SetFiringAlerts(want); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		got, err := s.FiringAlerts()
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if len(want) == 0 && len(got) == 0 {
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("step %d: firing %+v, want %+v", i, got, want)
		}
	}
	if err := s.SetFiringAlerts(map[string]AlertRecord{"": echo}); err == nil {
		t.Error("an empty identity was stored")
	}
}

func TestFiringAlertsSurviveReopenAndReadOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	commitT(t, s, Changes{At: t0, Put: map[string]ToolRecord{"echo": sampleRecord(0)}})
	want := map[string]AlertRecord{"echo": {Labels: map[string]string{"tool": "echo"}, StartsAt: t0}}
	if err := s.SetFiringAlerts(want); err != nil {
		t.Fatal(err)
	}
	s.Close()

	ro := openT(t, path, Options{ReadOnly: true})
	got, err := ro.FiringAlerts()
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("after reopening read-only: %+v, %v; want %+v", got, err, want)
	}
	if h := historiesT(t, ro); len(h) != 1 {
		t.Errorf("the alerts bucket disturbed the histories: %v", h)
	}
	if err := ro.SetFiringAlerts(nil); err == nil {
		t.Error("a read-only store recorded alerts")
	}
}
