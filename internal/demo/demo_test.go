package demo

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"webservicemonitor/sources/qstat"
)

// The demo's qstat must print what the real parser accepts, or the demo
// proves nothing.
func TestDemoQstatParsesWithTheRealParser(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	w, err := Setup(t.TempDir(), "/bin/true", "127.0.0.1:1", now)
	if err != nil {
		t.Fatal(err)
	}
	g, err := w.Grid.Load()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteQstatXML(&buf, g); err != nil {
		t.Fatal(err)
	}
	jobs, err := qstat.Parse(&buf, time.Local)
	if err != nil {
		t.Fatalf("real parser refused the demo's qstat: %v\n%s", err, buf.String())
	}
	if len(jobs) != len(g.Jobs) {
		t.Fatalf("parsed %d jobs, grid has %d", len(jobs), len(g.Jobs))
	}
	for _, j := range jobs {
		if j.Name == "lighttpd-charlie" && (j.State != "Eqw" || j.Running) {
			t.Errorf("charlie's job: %+v", j)
		}
		if j.Name == "lighttpd-alpha" && (!j.Running || !j.Started.Equal(now.Add(-2*time.Hour))) {
			t.Errorf("alpha's job: %+v", j)
		}
	}
}

func TestDemoRestart(t *testing.T) {
	w, err := Setup(t.TempDir(), "/bin/true", "127.0.0.1:1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Grid.Restart(context.Background(), "charlie", "lighttpd", time.Now); err != nil {
		t.Fatal(err)
	}
	g, _ := w.Grid.Load()
	if Registrations(g)["charlie"] == nil {
		t.Error("charlie not registered after its restart")
	}
	for _, j := range g.Jobs {
		if j.Owner == "tools.charlie" && j.State != "r" {
			t.Errorf("charlie still has job %+v", j)
		}
	}
	if err := w.Grid.Restart(context.Background(), "echo", "generic", time.Now); !errors.Is(err, ErrRestartFailed) {
		t.Errorf("echo's restart: %v, want it to fail", err)
	}
	if Registrations(g)["delta"] != nil {
		t.Error("delta is registered before any restart")
	}
	if Registrations(g)["india"] == nil {
		t.Error("the proxy-only entry is missing")
	}
}
