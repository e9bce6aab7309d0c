package monitor

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"webservicemonitor/state"
)

// CauseFinder looks for why a restarted tool was not seen up, where the
// platform leaves the cause: the real webservice exits 0 whatever became
// of the job, and the reason sits in qstat -j or the tool's error.log.
type CauseFinder interface {
	// Cause is what it found, in one line for people; "" for nothing.
	Cause(ctx context.Context, d Decision) string
}

// Bounds on a cycle's search for causes: each cause costs a qstat -j and a
// read in a home on NFS, and a platform-wide outage settles thousands of
// restarts not-up at once; the first few say what the rest would.
const (
	MaxCausesPerCycle = 32
	CausesDeadline    = 20 * time.Second
	causeWorkers      = 4
)

// explainNotUp adds, to each restart this cycle settled not-up (at most
// MaxCausesPerCycle), the cause its CauseFinder finds: in the settled
// attempt, and in the tool's next record, which is what service.log, the
// audit, the logs and the give-up alert show.
func (c *Cycle) explainNotUp(ctx context.Context, plan *Plan) {
	if c.Causes == nil {
		return
	}
	var notUp []*Decision
	for i := range plan.Decisions {
		d := &plan.Decisions[i]
		if d.Settled != nil && d.Settled.Outcome == state.OutcomeNotUp && len(notUp) < MaxCausesPerCycle {
			notUp = append(notUp, d)
		}
	}
	if len(notUp) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, CausesDeadline)
	defer cancel()
	causes := make([]string, len(notUp))
	var wg sync.WaitGroup
	queue := make(chan int)
	for range min(causeWorkers, len(notUp)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range queue {
				causes[i] = c.Causes.Cause(ctx, *notUp[i])
			}
		}()
	}
	for i := range notUp {
		queue <- i
	}
	close(queue)
	wg.Wait()
	for i, d := range notUp {
		if causes[i] != "" {
			addCause(d, causes[i])
		}
	}
}

// addCause appends the cause to the settled attempt's detail, in the
// decision and in its next record.
func addCause(d *Decision, cause string) {
	settled := *d.Settled
	settled.Detail += "; " + cause
	for i := len(d.Next.Attempts) - 1; i >= 0; i-- {
		if a := &d.Next.Attempts[i]; a.At.Equal(settled.At) && a.Outcome == settled.Outcome {
			a.Detail = settled.Detail
			break
		}
	}
	d.Settled = &settled
}

// JobCauses finds a not-up restart's cause: SGE's error reason for a job
// in error, and the last lines of the tool's error.log (where the web
// server's own complaints go). Either may be nil.
type JobCauses struct {
	ErrorReason  func(ctx context.Context, job int) (string, error)
	ErrorLogTail func(ctx context.Context, home string, uid int) (string, error)
	Log          zerolog.Logger
}

// Cause implements CauseFinder.
func (j JobCauses) Cause(ctx context.Context, d Decision) string {
	var parts []string
	if j.ErrorReason != nil && d.JobNumber > 0 && Classify(d.GridState) == PhaseError {
		switch reason, err := j.ErrorReason(ctx, d.JobNumber); {
		case err != nil:
			j.Log.Warn().Err(err).Str("tool", d.Tool).Msg("could not read the job's error reason")
			parts = append(parts, "SGE's error reason unavailable: "+err.Error())
		case reason != "":
			parts = append(parts, "SGE: "+reason)
		}
	}
	if j.ErrorLogTail != nil && d.Home != "" && d.Account != "" {
		switch tail, err := j.ErrorLogTail(ctx, d.Home, d.UID); {
		case err != nil:
			j.Log.Warn().Err(err).Str("tool", d.Tool).Msg("could not read the tool's error.log")
			parts = append(parts, "error.log unreadable: "+err.Error())
		case tail != "":
			parts = append(parts, "error.log: "+tail)
		}
	}
	return strings.Join(parts, "; ")
}
