//go:build e2e

package grid

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"webservicemonitor/e2e/internal/rig"
	"webservicemonitor/state"
)

// The scenarios of the real platform's ways: its webservice exits 0 once
// qsub accepted the job, whatever becomes of it, and leaves a job that is
// not running beside the new one.

// notUpCase is a tool whose restarted job never serves, and what its
// service.log and page must quote as the cause.
type notUpCase struct {
	tool, mode string
	causes     []string
}

// Scenario: restarts whose job stays queued, whose server dies at once, or
// whose job goes to Eqw are each recorded not-up with the cause, never told
// as "restarted"; after the budget the tool is paged with the cause; and no
// restart leaves its predecessor's job behind.
func TestRestartsNotSeenUpAreNotUp(t *testing.T) {
	w := newWorld(t)
	am, _ := w.alerting()
	cases := []notUpCase{
		{"bravo", "queued", []string{"is pending (qw) for"}},
		{"charlie", "die", []string{"no lighttpd-charlie job on the grid", "error.log: ember: cannot load config"}},
		{"delta", "eqw", []string{"is stuck in error state Eqw", "SGE: can't open output file"}},
	}
	for _, c := range cases {
		w.manifest(c.tool, "lighttpd")
		w.setMode(c.tool, c.mode)
	}
	sampler := w.sampleGrid("bravo", "charlie", "delta")
	d := w.startDaemon("--interval", "1s", "--restart-budget", "3")
	var pages []rig.AMAlert
	w.eventually(3*time.Minute, "each of the three tools paged as given up", func() (bool, string) {
		alerts, err := am.Alerts()
		if err != nil {
			return false, err.Error()
		}
		pages = rig.Named(alerts, "WebserviceMonitorGivenUp")
		return len(pages) == 3, fmt.Sprintf("%d pages; daemon log tail:\n%s", len(pages), tail(d.text(), 5))
	})
	d.stop()
	maxJobs, registered := sampler.stop()

	for _, c := range cases {
		t.Run(c.tool, func(t *testing.T) {
			w.checkNotUp(c, pages)
			if n := maxJobs[c.tool]; n > 1 {
				t.Errorf("%s had %d jobs at once: a restart left its predecessor behind", c.tool, n)
			}
			if registered[c.tool] {
				t.Errorf("%s was seen registered with the proxy, although its job never served", c.tool)
			}
			if got := len(w.restarts()[c.tool]); got != 3 {
				t.Errorf("%s restarted %d times, want its budget of 3", c.tool, got)
			}
		})
	}
}

// checkNotUp checks one tool's history, service.log and page.
func (w *world) checkNotUp(c notUpCase, pages []rig.AMAlert) {
	t := w.t
	h := w.history(c.tool)
	if len(h) != 3 {
		t.Fatalf("%s: %d attempts recorded, want 3: %+v", c.tool, len(h), h)
	}
	for _, a := range h {
		if a.Outcome != state.OutcomeNotUp || !containsAll(a.Detail, c.causes) {
			t.Errorf("%s: attempt %s %q, want not-up quoting %q", c.tool, a.Outcome, a.Detail, c.causes)
		}
	}
	log := readFile(t, filepath.Join(w.home(c.tool), "service.log"))
	t.Logf("%s's service.log:\n%s", c.tool, log)
	if strings.Contains(log, "restarted the") {
		t.Errorf("%s: a restart that did not bring it up was told as restarted", c.tool)
	}
	notUp := 0
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, "webservicemonitor: restart of the lighttpd web service did not bring it up: ") && containsAll(line, c.causes) {
			notUp++
		}
	}
	if notUp != 3 || !strings.Contains(log, "gave up restarting the web service") {
		t.Errorf("%s: %d not-up lines quoting the cause (want 3) and the give-up notice in service.log", c.tool, notUp)
	}
	for _, p := range pages {
		if p.Labels["tool"] == c.tool {
			t.Logf("%s's page: %s", c.tool, p.Annotations["description"])
			if !containsAll(p.Annotations["description"], append([]string{"not-up. Last attempt: not up within 15s"}, c.causes...)) {
				t.Errorf("%s's page does not quote the cause %q: %s", c.tool, c.causes, p.Annotations["description"])
			}
			return
		}
	}
	t.Errorf("%s was not paged", c.tool)
}

func containsAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// gridSampler watches tools' jobs and registrations while a scenario runs.
type gridSampler struct {
	stopOnce   sync.Once
	done, quit chan struct{}
	maxJobs    map[string]int
	registered map[string]bool
}

// sampleGrid notes, twice a second until stopped, the most jobs each tool
// had at once and whether it was ever registered with the proxy.
func (w *world) sampleGrid(tools ...string) *gridSampler {
	s := &gridSampler{done: make(chan struct{}), quit: make(chan struct{}),
		maxJobs: map[string]int{}, registered: map[string]bool{}}
	go func() {
		defer close(s.done)
		for {
			jobs, err := w.tryJobs()
			regs := w.proxy.Registered()
			for _, tool := range tools {
				if err == nil {
					s.maxJobs[tool] = max(s.maxJobs[tool], countJobs(jobs, tool))
				}
				if _, ok := regs[tool]; ok {
					s.registered[tool] = true
				}
			}
			select {
			case <-s.quit:
				return
			case <-time.After(500 * time.Millisecond):
			}
		}
	}()
	w.t.Cleanup(func() { s.stop() })
	return s
}

func (s *gridSampler) stop() (maxJobs map[string]int, registered map[string]bool) {
	s.stopOnce.Do(func() { close(s.quit) })
	<-s.done
	return s.maxJobs, s.registered
}

// Scenario: a manifest without release is restarted with the default
// release the grid offers; one asking for a release the grid does not offer
// is skipped, told once in its service.log, and never restarted.
func TestReleasesAreTheGrids(t *testing.T) {
	w := newWorld(t)
	w.manifestWithRelease("alpha", "lighttpd", "")
	w.manifestWithRelease("echo", "lighttpd", "stretch")

	a := w.audit()
	w.expect(a, "alpha", "restart", "no-job")
	echo := w.expect(a, "echo", "skip", "release-not-offered")
	if !strings.Contains(echo.Reason, `release "stretch" is not offered by the grid (offered: buster)`) {
		t.Errorf("echo's reason: %q", echo.Reason)
	}

	w.once()
	w.once()
	got := w.restarts()
	if len(got["alpha"]) != 1 || len(got["echo"]) != 0 {
		t.Fatalf("restarts = %v, want alpha once and echo never", got)
	}
	argv := got["alpha"][0].Args
	t.Logf("the restart argv of a manifest without release: %q", argv)
	if !containsAll(strings.Join(argv, " "), []string{"--release=buster", "restart"}) {
		t.Errorf("alpha's restart argv %q lacks --release=buster", argv)
	}
	w.expectUp("alpha")
	notices := 0
	for _, line := range strings.Split(readFile(t, filepath.Join(w.home("echo"), "service.log")), "\n") {
		if strings.Contains(line, `service.manifest ignored: `) && strings.Contains(line, `release "stretch" is not offered`) {
			notices++
		}
	}
	if notices != 1 {
		t.Errorf("echo's service.log has %d notices of its release, want exactly 1", notices)
	}
	if jobs := w.jobsOf("echo"); len(jobs) != 0 {
		t.Errorf("echo has jobs: %+v", jobs)
	}
}
