package qstat

import "time"

// Job is one grid job as qstat reports it. State holds the raw SGE letters of
// the <state> element (e.g. "r", "Eqw", "dr", "hqw"); classifying them is the
// planner's business, not the parser's.
type Job struct {
	Number    int       // JB_job_number
	Name      string    // JB_name, unescaped where SGE escaped it (%lt; -> <)
	Owner     string    // JB_owner
	State     string    // raw letters from <state>
	Queue     string    // queue_name, e.g. "webgrid-lighttpd@host"; empty while pending
	Slots     int       // slots
	Tasks     string    // array job task range, empty for plain jobs
	Started   time.Time // JAT_start_time (running side), zero when absent
	Submitted time.Time // JB_submission_time (pending side), zero when absent
	Running   bool      // listed under queue_info (job_list state="running")
}
