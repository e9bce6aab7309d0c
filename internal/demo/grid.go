// Package demo is the built-in demo platform: a fake grid whose state lives
// in one JSON file, a qstat that prints it in SGE's XML shape, a webservice
// whose restart really changes it, and a proxy /list that reflects it. It
// lets `make demo` and the integration tests run the real supervisor binary
// with no root, no grid and no network beyond loopback.
//
// It is a stand-in for the outside world only; nothing in it is used by the
// supervisor itself.
package demo

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// Job is one job of the fake grid.
type Job struct {
	Number     int       `json:"number"`
	Name       string    `json:"name"`
	Owner      string    `json:"owner"`
	State      string    `json:"state"`
	Queue      string    `json:"queue,omitempty"`
	Started    time.Time `json:"started,omitzero"`
	Submitted  time.Time `json:"submitted"`
	Registered bool      `json:"registered"` // the job registered itself with the proxy
	// ErrorReason is what SGE says of a job in error (qstat -j).
	ErrorReason string `json:"error_reason,omitempty"`
}

// Grid is the fake grid's whole state.
type Grid struct {
	NextJob int   `json:"next_job"`
	Jobs    []Job `json:"jobs"`
	// Broken lists tools whose webservice restart always fails.
	Broken []string `json:"broken,omitempty"`
	// Hanging lists tools whose webservice restart never returns.
	Hanging []string `json:"hanging,omitempty"`
	// ExtraRegistrations are proxy entries with no grid job behind them.
	ExtraRegistrations []string `json:"extra_registrations,omitempty"`
	// Restarts counts restarts per tool, for tests.
	Restarts map[string]int `json:"restarts,omitempty"`
}

// Store is the fake grid's state file; every change happens under an
// exclusive flock, because the supervisor restarts tools in parallel.
type Store struct{ Dir string }

func (s Store) path() string { return filepath.Join(s.Dir, "grid.json") }

// Update applies f to the grid under the lock and saves the result.
func (s Store) Update(f func(*Grid) error) error {
	lock, err := os.OpenFile(filepath.Join(s.Dir, "grid.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("opening demo grid lock: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("locking demo grid: %w", err)
	}
	g, err := s.load()
	if err != nil {
		return err
	}
	if err := f(&g); err != nil {
		return err
	}
	data, err := json.MarshalIndent(g, "", "  ")
	if err != nil {
		return err
	}
	tmp := s.path() + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("writing demo grid: %w", err)
	}
	return os.Rename(tmp, s.path())
}

// Load reads the grid (a consistent snapshot: writes are atomic renames).
func (s Store) Load() (Grid, error) { return s.load() }

func (s Store) load() (Grid, error) {
	var g Grid
	data, err := os.ReadFile(s.path())
	if err != nil {
		return g, fmt.Errorf("reading demo grid: %w", err)
	}
	if err := json.Unmarshal(data, &g); err != nil {
		return g, fmt.Errorf("reading demo grid %s: %w", s.path(), err)
	}
	return g, nil
}

// WriteQstatXML prints the grid the way `qstat -u '*' -xml` of SGE 8.1.9
// does: running jobs under queue_info, pending ones under the nested
// job_info, local times without a zone.
func WriteQstatXML(w io.Writer, g Grid) error {
	var b strings.Builder
	b.WriteString("<?xml version='1.0'?>\n")
	b.WriteString(`<job_info  xmlns:xsd="http://arc.liv.ac.uk/repos/darcs/sge/source/dist/util/resources/schemas/qstat/qstat.xsd">` + "\n")
	b.WriteString("  <queue_info>\n")
	for _, j := range g.Jobs {
		if !j.Started.IsZero() {
			writeJob(&b, j, "running")
		}
	}
	b.WriteString("  </queue_info>\n  <job_info>\n")
	for _, j := range g.Jobs {
		if j.Started.IsZero() {
			writeJob(&b, j, "pending")
		}
	}
	b.WriteString("  </job_info>\n</job_info>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func writeJob(b *strings.Builder, j Job, side string) {
	esc := func(s string) string {
		var e strings.Builder
		_ = xml.EscapeText(&e, []byte(s))
		return e.String()
	}
	fmt.Fprintf(b, "    <job_list state=%q>\n", side)
	fmt.Fprintf(b, "      <JB_job_number>%d</JB_job_number>\n", j.Number)
	b.WriteString("      <JAT_prio>0.25000</JAT_prio>\n")
	fmt.Fprintf(b, "      <JB_name>%s</JB_name>\n", esc(j.Name))
	fmt.Fprintf(b, "      <JB_owner>%s</JB_owner>\n", esc(j.Owner))
	fmt.Fprintf(b, "      <state>%s</state>\n", esc(j.State))
	if side == "running" {
		fmt.Fprintf(b, "      <JAT_start_time>%s</JAT_start_time>\n", j.Started.Local().Format("2006-01-02T15:04:05"))
		fmt.Fprintf(b, "      <queue_name>%s</queue_name>\n", esc(j.Queue))
	} else {
		fmt.Fprintf(b, "      <JB_submission_time>%s</JB_submission_time>\n", j.Submitted.Local().Format("2006-01-02T15:04:05"))
		b.WriteString("      <queue_name></queue_name>\n")
	}
	b.WriteString("      <slots>1</slots>\n    </job_list>\n")
}

// Registrations is what the fake proxy's /list shows: every running job
// that registered, plus the extra entries.
func Registrations(g Grid) map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, j := range g.Jobs {
		if j.Registered && strings.ContainsAny(j.State, "rt") && !strings.ContainsAny(j.State, "Ed") {
			if tool, ok := strings.CutPrefix(j.Owner, "tools."); ok {
				out[tool] = map[string]string{"status": "active"}
			}
		}
	}
	for _, t := range g.ExtraRegistrations {
		out[t] = map[string]string{"status": "active"}
	}
	return out
}

// ErrRestartFailed is what a broken tool's restart returns.
var ErrRestartFailed = errors.New("Unable to run job: job rejected: the tool's quota is exhausted")

// Restart does what `webservice restart` does on the grid: delete the tool's
// web job, submit it again, and (the job playing webservice-runner) register
// with the proxy once it runs. ctx bounds the whole restart.
func (s Store) Restart(ctx context.Context, tool, web string, now func() time.Time) error {
	name, owner := web+"-"+tool, "tools."+tool
	var broken, hanging bool
	err := s.Update(func(g *Grid) error {
		kept := g.Jobs[:0]
		for _, j := range g.Jobs {
			if j.Name != name || j.Owner != owner {
				kept = append(kept, j)
			}
		}
		g.Jobs = kept
		if g.Restarts == nil {
			g.Restarts = map[string]int{}
		}
		g.Restarts[tool]++
		broken, hanging = contains(g.Broken, tool), contains(g.Hanging, tool)
		return nil
	})
	if err != nil {
		return err
	}
	if hanging {
		<-ctx.Done()
		return ctx.Err()
	}
	// qdel and qsub take a moment on a real grid.
	select {
	case <-time.After(300 * time.Millisecond):
	case <-ctx.Done():
		return ctx.Err()
	}
	if broken {
		return ErrRestartFailed
	}
	return s.Update(func(g *Grid) error {
		g.NextJob++
		t := now()
		g.Jobs = append(g.Jobs, Job{
			Number: g.NextJob, Name: name, Owner: owner, State: "r",
			Queue:   "webgrid-" + queueFor(web) + "@demo-webgrid-01.tools.example",
			Started: t, Submitted: t, Registered: true,
		})
		sort.Slice(g.Jobs, func(a, b int) bool { return g.Jobs[a].Number < g.Jobs[b].Number })
		return nil
	})
}

// Delete does what qdel of one job does, as its owner: the job goes, or
// the refusal says why.
func (s Store) Delete(number int, owner string) error {
	return s.Update(func(g *Grid) error {
		for i, j := range g.Jobs {
			if j.Number != number {
				continue
			}
			if owner != "" && j.Owner != owner {
				return fmt.Errorf("%s - you do not have the necessary privileges to delete the job \"%d\"", owner, number)
			}
			g.Jobs = append(g.Jobs[:i], g.Jobs[i+1:]...)
			return nil
		}
		return fmt.Errorf("denied: job \"%d\" does not exist", number)
	})
}

// WriteJobDetail prints one job the way `qstat -j <job>` of SGE 8.1.9
// does, as far as the supervisor reads it: its number, name, owner and, in
// error, SGE's error reason.
func WriteJobDetail(w io.Writer, g Grid, number int) error {
	for _, j := range g.Jobs {
		if j.Number != number {
			continue
		}
		fmt.Fprintln(w, "==============================================================")
		fmt.Fprintf(w, "job_number:                 %d\n", j.Number)
		fmt.Fprintf(w, "owner:                      %s\n", j.Owner)
		fmt.Fprintf(w, "job_name:                   %s\n", j.Name)
		if j.ErrorReason != "" {
			fmt.Fprintf(w, "error reason          1:      %s [%d:%d]: error: %s\n",
				j.Submitted.Format("01/02/2006 15:04:05"), 50000+j.Number%1000, 4000+j.Number, j.ErrorReason)
			fmt.Fprintln(w, "scheduling info:            Job is in error state")
		}
		return nil
	}
	return fmt.Errorf("Following jobs do not exist: \n%d", number)
}

func queueFor(web string) string {
	if strings.HasPrefix(web, "lighttpd") {
		return "lighttpd"
	}
	return "generic"
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
