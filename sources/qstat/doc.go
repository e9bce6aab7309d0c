// Package qstat owns the grid source: it runs `qstat -u '*' -xml` (Son of
// Grid Engine 8.1.9) and turns the document it prints into a complete list
// of grid jobs, or into an error.
//
// It never returns a partial list: a qstat that failed, hung, printed
// nothing, printed too much or printed something that is not a whole
// job_info document is an error, because the planner must read a failed
// source as "don't know", never as "no jobs, so everything is down".
//
// It never interprets jobs: state letters are passed through raw, and which
// job belongs to which tool, or whether "dr" counts as up, is the monitor's
// business. It never submits, deletes or changes jobs.
package qstat
