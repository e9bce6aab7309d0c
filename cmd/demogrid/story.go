package main

// The demo's story: while the daemon runs, demo-admin pauses restarts for a
// grid maintenance, sees the pause end by itself, looks at the tool that was
// given up and forgets it once its quota is raised. Every step waits for
// what the daemon does by polling `status --output json`, never for a fixed
// time: a loaded machine makes the demo slower, not wrong.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"time"

	shellquote "github.com/kballard/go-shellquote"

	"webservicemonitor/internal/demo"
	"webservicemonitor/monitor"
	"webservicemonitor/state"
)

const (
	// demoAdmin is who the admin commands say ran them (as sudo would).
	demoAdmin = "demo-admin"
	// pollEvery is how often a step asks status whether the daemon did
	// what the step waits for.
	pollEvery = 300 * time.Millisecond
	// lockWait lets an admin command outwait a cycle that holds the state
	// file longer than usual on a loaded machine.
	lockWait = "10s"
	// maintenanceJob is alpha's job, which the maintenance takes down.
	maintenanceJob = 901
)

// story is one telling of the demo against a running daemon.
type story struct {
	ctx        context.Context
	monitorBin string
	configFile string
	dir        string // the demo platform's directory
	grid       demo.Store
	wait       time.Duration // the longest wait for one step
	out        io.Writer
}

// tell runs the steps in order; the first that fails ends the story.
func (s *story) tell() error {
	steps := []func() error{s.firstCycle, s.pause, s.maintenance, s.pauseEnds, s.givenUp, s.forget}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

// firstCycle waits for the first cycle's restarts to be over: echo's
// attempt is recorded as started before its command runs, and as failed
// once it has.
func (s *story) firstCycle() error {
	return s.waitFor("the first cycle's restarts", func(r statusReport) bool {
		return r.tool("echo").lastOutcome() == state.OutcomeFailed
	})
}

func (s *story) pause() error {
	s.heading("demo-admin pauses every restart for an 8s grid maintenance")
	if err := s.admin("pause", "--reason", "grid maintenance", "--for", "8s"); err != nil {
		return err
	}
	return s.waitFor("the daemon to see the pause", func(r statusReport) bool {
		p, ok := r.tool("echo").action(state.ActionPause)
		return ok && (!p.Seen.IsZero() || !p.Ended.IsZero())
	})
}

// maintenance takes alpha's job down while restarts are paused, and shows
// the audit saying who paused them and why.
func (s *story) maintenance() error {
	s.heading(fmt.Sprintf("The maintenance drains a node: alpha's job %d is gone; paused, nothing is restarted", maintenanceJob))
	err := s.grid.Update(func(g *demo.Grid) error {
		g.Jobs = slices.DeleteFunc(g.Jobs, func(j demo.Job) bool { return j.Number == maintenanceJob })
		return nil
	})
	if err != nil {
		return fmt.Errorf("taking alpha's job down: %w", err)
	}
	fmt.Fprintf(s.out, "%s$ webservicemonitor --dry-run   (its PAUSED line and the rows of alpha and echo)\n", demoAdmin)
	return s.auditExcerpt("PAUSED:", "TOOL ", "alpha ", "echo ")
}

func (s *story) pauseEnds() error {
	s.heading("The pause ends by itself at its declared end; restarts resume and alpha comes back")
	return s.waitFor("the pause to end and alpha to be seen up", func(r statusReport) bool {
		p, ok := r.tool("alpha").action(state.ActionPause)
		return ok && !p.Ended.IsZero() && r.tool("alpha").lastOutcome() == state.OutcomeSucceeded
	})
}

// givenUp waits for the daemon to give echo up. Status alone would say so
// as soon as the third attempt is charged, before the daemon's cycle has
// recorded it; the line in echo's service.log is written after that cycle
// recorded the give-up, so a forget cannot cross it.
func (s *story) givenUp() error {
	s.heading("echo's restarts keep failing (its quota is exhausted): given up after 3")
	err := s.until("the daemon to give echo up", func() (bool, error) {
		log, err := os.ReadFile(s.serviceLog("echo"))
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		return bytes.Contains(log, []byte("gave up restarting")), err
	})
	if err != nil {
		return err
	}
	s.heading("demo-admin asks what happened to echo")
	return s.admin("status", "echo")
}

// forget raises echo's quota on the grid, then forgets its failures: the
// next cycle restarts it, and it comes up.
func (s *story) forget() error {
	s.heading("The grid admins raise echo's quota; demo-admin forgets echo's failures")
	err := s.grid.Update(func(g *demo.Grid) error {
		g.Broken = slices.DeleteFunc(g.Broken, func(t string) bool { return t == "echo" })
		return nil
	})
	if err != nil {
		return fmt.Errorf("raising echo's quota: %w", err)
	}
	if err := s.admin("forget", "--reason", "quota raised", "echo"); err != nil {
		return err
	}
	s.heading("The next cycle restarts echo, and it comes up")
	err = s.waitFor("echo to be restarted and seen up", func(r statusReport) bool {
		return r.tool("echo").lastOutcome() == state.OutcomeSucceeded
	})
	if err != nil {
		return err
	}
	s.heading("demo-admin looks at echo again")
	return s.admin("status", "echo")
}

func (s *story) serviceLog(tool string) string {
	return filepath.Join(s.dir, "homes", tool, "service.log")
}

func (s *story) heading(text string) {
	fmt.Fprintf(s.out, "\n=== %s ===\n", text)
}

// admin runs a webservicemonitor command as demo-admin would, after
// printing it, and prints its output in one piece so that the daemon's log
// lines do not split it.
func (s *story) admin(args ...string) error {
	fmt.Fprintf(s.out, "%s$ webservicemonitor %s\n", demoAdmin, shellquote.Join(args...))
	out, err := s.monitor(args...)
	s.out.Write(out)
	if err != nil {
		return fmt.Errorf("webservicemonitor %s: %w", shellquote.Join(args...), err)
	}
	return nil
}

// auditExcerpt prints the lines of a read-only audit that begin with one
// of prefixes. The audit's exit status is not the point here.
func (s *story) auditExcerpt(prefixes ...string) error {
	out, err := s.monitor("--dry-run", "--log-level", "warn")
	if err != nil && !errors.As(err, new(*exec.ExitError)) {
		return fmt.Errorf("running the audit: %w", err)
	}
	var excerpt bytes.Buffer
	for line := range bytes.Lines(out) {
		if slices.ContainsFunc(prefixes, func(p string) bool { return bytes.HasPrefix(line, []byte(p)) }) {
			excerpt.Write(line)
		}
	}
	s.out.Write(excerpt.Bytes())
	return nil
}

// monitor runs webservicemonitor against the demo's configuration as
// demo-admin, bounded by the step's wait, and returns what it printed.
func (s *story) monitor(args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(s.ctx, s.wait)
	defer cancel()
	full := append([]string{"--config", s.configFile, "--state-lock-wait", lockWait}, args...)
	cmd := exec.CommandContext(ctx, s.monitorBin, full...)
	cmd.Env = append(os.Environ(), "SUDO_USER="+demoAdmin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.Bytes(), err
}

// waitFor polls status until done says the daemon got there, for at most
// the step's wait.
func (s *story) waitFor(what string, done func(statusReport) bool) error {
	return s.until(what, func() (bool, error) {
		r, err := s.status()
		return err == nil && done(r), err
	})
}

// until polls done until it says yes, for at most the step's wait. An
// error of one poll is not the end: the next may succeed.
func (s *story) until(what string, done func() (bool, error)) error {
	deadline := time.Now().Add(s.wait)
	var last error
	for {
		ok, err := done()
		if ok {
			return nil
		}
		if err != nil {
			last = err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("waited %s for %s (last error: %v)", s.wait, what, last)
		}
		select {
		case <-s.ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, s.ctx.Err())
		case <-time.After(pollEvery):
		}
	}
}

// status is what `status --output json` says of every tool now.
func (s *story) status() (statusReport, error) {
	var r statusReport
	out, err := s.monitor("status", "--output", "json")
	if err != nil {
		return r, fmt.Errorf("webservicemonitor status: %w: %s", err, bytes.TrimSpace(out))
	}
	if err := json.Unmarshal(out, &r); err != nil {
		return r, fmt.Errorf("reading the output of webservicemonitor status: %w", err)
	}
	return r, nil
}

// statusReport is the part of `status --output json` the story reads.
type statusReport struct {
	Tools []toolReport `json:"tools"`
}

type toolReport struct {
	Tool     string         `json:"tool"`
	Action   monitor.Action `json:"action"`
	Attempts []struct {
		Outcome state.Outcome `json:"outcome"`
	} `json:"attempts"`
	Actions []state.Action `json:"admin_actions"`
}

func (r statusReport) tool(name string) toolReport {
	for _, t := range r.Tools {
		if t.Tool == name {
			return t
		}
	}
	return toolReport{Tool: name}
}

// lastOutcome is the outcome of the tool's latest attempt, "" when none.
func (t toolReport) lastOutcome() state.Outcome {
	if len(t.Attempts) == 0 {
		return ""
	}
	return t.Attempts[len(t.Attempts)-1].Outcome
}

// action is the tool's latest admin action of that kind.
func (t toolReport) action(kind state.ActionKind) (state.Action, bool) {
	for i := len(t.Actions) - 1; i >= 0; i-- {
		if t.Actions[i].Kind == kind {
			return t.Actions[i], true
		}
	}
	return state.Action{}, false
}
