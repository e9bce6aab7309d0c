package monitor

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// SourceStatus is how one source fared this cycle.
type SourceStatus struct {
	Name     string
	Err      error
	Items    int
	Duration time.Duration
	Note     string // e.g. the active proxy, or why the state is empty
}

// collect reads the three sources at once, each under its own deadline.
func (c *Cycle) collect(ctx context.Context, rep *Report) Inputs {
	var in Inputs
	statuses := make([]SourceStatus, 3)
	var wg sync.WaitGroup
	timed := func(i int, name string, read func() (int, string, error)) {
		defer wg.Done()
		began := c.Now()
		n, note, err := read()
		statuses[i] = SourceStatus{Name: name, Err: err, Items: n, Note: note, Duration: c.Now().Sub(began)}
	}
	wg.Add(3)
	go timed(0, SourceManifests, func() (int, string, error) { return c.scanManifests(ctx, &in) })
	go timed(1, SourceGrid, func() (int, string, error) {
		jobs, err := c.Grid.Fetch(ctx)
		in.Jobs, in.GridErr = jobs, err
		return len(jobs), "", err
	})
	go timed(2, SourceProxy, func() (int, string, error) { return c.fetchProxy(ctx, &in) })
	wg.Wait()
	rep.Sources = append(rep.Sources, statuses...)
	return in
}

func (c *Cycle) scanManifests(ctx context.Context, in *Inputs) (int, string, error) {
	scan, err := c.Manifests.Scan(ctx)
	in.Manifests, in.ManifestsErr = scan, err
	note := ""
	if len(scan.Skipped) > 0 {
		note = fmt.Sprintf("%d manifest(s) skipped", len(scan.Skipped))
	}
	return len(scan.Manifests), note, err
}

func (c *Cycle) fetchProxy(ctx context.Context, in *Inputs) (int, string, error) {
	snap, err := c.Proxy.Fetch(ctx)
	in.Proxy, in.ProxyErr = snap, err
	switch {
	case err != nil:
		return 0, "", err
	case !snap.Enabled:
		return 0, "registration checking off (empty active-proxy file)", nil
	}
	note := "active proxy " + snap.Proxy
	if snap.Dropped > 0 {
		note += fmt.Sprintf("; %d registration(s) ignored: names longer than any tool's", snap.Dropped)
	}
	return len(snap.Registrations), note, nil
}
