//go:build e2e

package ha

import (
	"fmt"
	"testing"
	"time"

	"webservicemonitor/alerts"
	"webservicemonitor/e2e/internal/rig"
)

// TestDaemonsWithoutQuorum stops etcd members under two daemons. One
// stopped (quorum kept): the same host leads and restarts a tool that went
// down since, nobody else does. Two stopped (quorum lost): nothing starts
// anywhere for 3 × leader-ttl while a tool is down, and the state source's
// alert reaches Alertmanager's receiver. Both started again: a leader
// within leader-ttl + interval (+ slack) and the down tool restarted, with
// nobody's help.
func TestDaemonsWithoutQuorum(t *testing.T) {
	hook := rig.NewWebhook(t)
	am := rig.StartAlertmanager(t, hook.URL)
	f := newFleet(t, fleetOptions{hosts: []string{"cron-a", "cron-b"},
		flags: []string{"--alertmanager-url", am.URL(), "--source-alert-after", "2"}})
	leader := f.waitLeader(60 * time.Second)
	waitEvents(t, f, 60*time.Second, "bravo restarted", func(evs []recEvent) bool {
		return len(starts(evs, func(e recEvent) bool { return e.tool == "bravo" })) > 0
	})

	f.cluster.Stop(0)
	oneDown := time.Now()
	f.takeDown("alpha")
	waitEvents(t, f, 60*time.Second, "alpha restarted with one member down", func(evs []recEvent) bool {
		return len(starts(evs, func(e recEvent) bool { return e.tool == "alpha" && e.at.After(oneDown) })) > 0
	})
	for _, e := range starts(f.events(), func(e recEvent) bool { return e.at.After(oneDown) }) {
		if e.host != leader.name {
			t.Errorf("with one member down, %s restarted %s: the leader was %s", e.host, e.tool, leader.name)
		}
	}
	if g := leader.gauge(); g != 1 {
		t.Errorf("with one member down, %s's leader gauge reads %d, want 1", leader.name, g)
	}

	f.cluster.Stop(1)
	lost := time.Now()
	f.takeDown("charlie")
	firing := func() (bool, string) {
		for _, a := range hook.Notified() {
			if a.Status == "firing" && a.Labels["alertname"] == alerts.NameSourceFailing && a.Labels["source"] == "state" {
				return true, ""
			}
		}
		return false, "not notified"
	}
	waitOrReport(t, 60*time.Second, leader.name+"'s webservicemonitor_store_up 0", func() (bool, string) {
		v, ok := leader.metric("webservicemonitor_store_up")
		return ok && v == 0, fmt.Sprint(v, ok)
	})
	alerted := waitOrReport(t, 120*time.Second, alerts.NameSourceFailing+`{source="state"} at the webhook`, firing)
	if wait := 3*ttl - time.Since(lost); wait > 0 {
		time.Sleep(wait)
	}
	// A restart whose attempt was written before the quorum went may
	// still start in the first interval: nothing may start after it.
	for _, e := range starts(f.events(), func(e recEvent) bool { return e.at.After(lost.Add(demoInterval)) }) {
		t.Errorf("without quorum, %s restarted %s at %s (quorum lost at %s)", e.host, e.tool, e.at.Format("15:04:05.000"), lost.Format("15:04:05.000"))
	}
	t.Logf("quorum lost for %s: no restart; alert notified: %v", time.Since(lost).Round(time.Second), alerted)

	f.cluster.Start(0)
	f.cluster.Start(1)
	back := time.Now()
	f.cluster.WaitHealthy(60 * time.Second)
	now := f.waitLeader(ttl + demoInterval + takeoverSlack)
	t.Logf("quorum back: %s leads %s after the members were started", now.name, time.Since(back).Round(time.Millisecond))
	waitEvents(t, f, 60*time.Second, "charlie restarted once quorum is back", func(evs []recEvent) bool {
		return len(starts(evs, func(e recEvent) bool { return e.tool == "charlie" && e.at.After(back) })) > 0
	})
}

// waitOrReport waits like rig.WaitFor, but a timeout fails the test
// without stopping it, so that what follows is still checked.
func waitOrReport(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) bool {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for {
		ok, detail := cond()
		if ok {
			return true
		}
		last = detail
		if time.Now().After(deadline) {
			t.Errorf("timed out after %s waiting for %s; last seen: %s", timeout, what, last)
			return false
		}
		time.Sleep(200 * time.Millisecond)
	}
}
