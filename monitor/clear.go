package monitor

import (
	"strconv"
	"strings"
	"time"

	"webservicemonitor/sources/qstat"
)

// Stuck jobs are cleared, never piled up. The platform's webservice
// command deletes a running job before it resubmits, but submits a second
// job beside one that is not running: left alone, a job in Eqw or stuck in
// dr stays forever, and every restart while its cause persists adds one
// more. So the supervisor removes such jobs by number itself: before a
// restart, and beside a job that serves.

// MaxClearsPerTool bounds the stuck jobs cleared for one tool in one cycle,
// each a command under the restart timeout: a tool that piled up more has
// the rest cleared in the next cycles.
const MaxClearsPerTool = 3

// jobsToClear lists the jobs of a tool the decision restarts that must go
// first: those in error, those stuck being deleted, and, when its last
// restart did not bring it up, the one that restart left queued.
func jobsToClear(v *toolView, d *Decision, now time.Time, p *Policy) []StuckJob {
	if v.job == nil {
		return nil
	}
	deleting := now.Sub(downSince(d, now)) >= p.DeletingTooLong
	requeue := d.Code == CodeQueuedAfterRestart
	return stuckAmong(append([]*qstat.Job{v.job}, v.others...), func(ph Phase) bool {
		return ph == PhaseError || (ph == PhaseDeleting && deleting) || (ph == PhasePending && requeue)
	})
}

// straysToClear lists the jobs stuck beside the job that serves an up
// tool: those in error, and those being deleted since before the tool came
// up, longer than the policy allows.
func straysToClear(v *toolView, d *Decision, now time.Time, p *Policy) []StuckJob {
	since := d.Previous.UpSince
	deleting := !since.IsZero() && !since.After(now) && now.Sub(since) >= p.DeletingTooLong
	return stuckAmong(v.others, func(ph Phase) bool {
		return ph == PhaseError || (ph == PhaseDeleting && deleting)
	})
}

// stuckAmong lists the jobs whose phase is stuck, at most MaxClearsPerTool.
func stuckAmong(jobs []*qstat.Job, stuck func(Phase) bool) []StuckJob {
	var out []StuckJob
	for _, job := range jobs {
		if len(out) == MaxClearsPerTool {
			break
		}
		if stuck(Classify(job.State)) {
			out = append(out, StuckJob{Number: job.Number, State: job.State})
		}
	}
	return out
}

// downSince is when the tool's down streak began, as its history has it;
// now when it has none.
func downSince(d *Decision, now time.Time) time.Time {
	if s := d.Previous.DownSince; !s.IsZero() && !s.After(now) {
		return s
	}
	return now
}

// clearingText names the jobs to clear in a sentence: "job 41 (Eqw)",
// "jobs 41 (Eqw) and 40 (dr)".
func clearingText(jobs []StuckJob) string {
	var b strings.Builder
	if len(jobs) == 1 {
		b.WriteString("job ")
	} else {
		b.WriteString("jobs ")
	}
	for i, j := range jobs {
		switch {
		case i > 0 && i == len(jobs)-1:
			b.WriteString(" and ")
		case i > 0:
			b.WriteString(", ")
		}
		b.WriteString(strconv.Itoa(j.Number) + " (" + j.State + ")")
	}
	return b.String()
}
