#!/bin/bash
# capture-qstat.sh — put jobs of the local cell (e2e/grid/sge-cell.sh up)
# into every state we can produce and save `qstat -u '*' -xml` after each
# step, byte for byte, into testdata/qstat/ (or $1). The parser
# tests (sources/qstat/real_test.go) check every capture's job numbers,
# names, owners and state letters; after a re-capture, update their table
# from the summary this script prints.
#
# States, in the order they are produced (each capture holds every job the
# grid has at that moment):
#   zero-jobs        nothing submitted
#   running          r    lighttpd-alpha runs
#   pending          qw   uwsgi-python-bravo asks for a release no queue offers
#   held-pending     hqw  generic-charlie submitted with a hold
#   error            Eqw  lighttpd-delta's output path cannot be opened
#   suspended-job    s    lighttpd-echo suspended with qmod -sj
#   held-running     hr   lighttpd-foxtrot held with qhold while running
#   rescheduled      Rq   lighttpd-golf after qmod -rj, then
#   rescheduled-running  Rr  once it runs again
#   suspended-queue  S    generic-hotel's queue suspended with qmod -sq
#   deleting         dr   (execd stopped) lighttpd-alpha deleted
#   transferring     t    (execd stopped) lighttpd-india dispatched
#   mixed            everything after execd continues
#   qmaster-down     qstat's stdout (empty), stderr and exit status with the
#                    qmaster stopped
#
# And `qstat -j <job>` (one job's detail, read for its "error reason"
# lines; sources/qstat/jobreason_test.go) byte for byte, into
# sources/qstat/testdata/job-detail/ (or $2) — not beside the -xml captures,
# whose test insists every file there is an -xml capture of its table:
#   qstat-j-running.txt  lighttpd-alpha while it runs
#   qstat-j-pending.txt  uwsgi-python-bravo while it waits
#   qstat-j-error.txt    lighttpd-delta in Eqw (its error reason)
#   qstat-j-unknown-job.{stdout,stderr,exit}  a job number the cell never had
set -euo pipefail
eval "$("$(dirname "$0")/sge-cell.sh" env)"
OUT=${1:-$(cd "$(dirname "$0")/../.." && pwd)/testdata/qstat}
JOBS_OUT=${2:-$(cd "$(dirname "$0")/../.." && pwd)/sources/qstat/testdata/job-detail}
mkdir -p "$OUT" "$JOBS_OUT"
HOMES=$WSM_GRID_HOMES
EXECD=$(tr -dc 0-9 <"$WSM_GRID_EXECD_PIDFILE")

log() { echo "$(date +%H:%M:%S.%3N) capture: $*" >&2; }
cleanup() {
	kill -CONT "$EXECD" 2>/dev/null || true
	qmod -usq webgrid-generic >/dev/null 2>&1 || true
	qdel -f -u '*' >/dev/null 2>&1 || true
}
trap cleanup EXIT

# state_of NAME: the state letters of the job named NAME ("" if none).
state_of() {
	qstat -u '*' -xml | awk -v n="$1" '
		/<JB_name>/ { gsub(/.*<JB_name>|<\/JB_name>.*/, ""); name = $0 }
		/<state>/ { gsub(/.*<state>|<\/state>.*/, ""); if (name == n) print }'
}
# wait_state NAME STATE: poll until the job named NAME is in STATE.
wait_state() {
	local i
	for i in $(seq 300); do
		[ "$(state_of "$1")" = "$2" ] && { log "$1 is $2"; return; }
		sleep 0.1
	done
	echo "capture: $1 never reached state $2 (now: $(state_of "$1"))" >&2
	exit 1
}
submit() { # submit TOOL NAME QSUB-ARGS...
	local tool=$1 name=$2
	shift 2
	(cd "$HOMES/$tool" && runuser -u "tools.$tool" -- qsub -terse -b y -N "$name" "$@" /bin/sleep 3600)
}
capture() {
	qstat -u '*' -xml >"$OUT/$1.xml"
	log "captured $1.xml: $(qstat -u '*' | awk 'NR>2 {printf "%s %s %s %s; ", $1, $3, $4, $5}')"
}
# capture_job NAME JOB: `qstat -j JOB` into qstat-j-NAME.txt.
capture_job() {
	qstat -j "$2" >"$JOBS_OUT/qstat-j-$1.txt"
	log "captured qstat-j-$1.txt (job $2): $(grep -c . "$JOBS_OUT/qstat-j-$1.txt") lines"
}
web() { echo -q webgrid-lighttpd -l release="$WSM_GRID_RELEASE" -o /dev/null -e /dev/null; }

qdel -f -u '*' >/dev/null 2>&1 || true
for i in $(seq 100); do [ -z "$(qstat -u '*')" ] && break; sleep 0.1; done
capture zero-jobs

alpha_job=$(submit alpha lighttpd-alpha $(web))
wait_state lighttpd-alpha r
capture running
capture_job running "$alpha_job"

bravo_job=$(submit bravo uwsgi-python-bravo -q webgrid-generic -l release=stretch -o /dev/null -e /dev/null)
sleep 2 # two scheduler runs: it stays pending
wait_state uwsgi-python-bravo qw
capture pending
capture_job pending "$bravo_job"

submit charlie generic-charlie -h -q webgrid-generic -l release="$WSM_GRID_RELEASE" -o /dev/null -e /dev/null >/dev/null
wait_state generic-charlie hqw
capture held-pending

delta_job=$(submit delta lighttpd-delta -q webgrid-lighttpd -l release="$WSM_GRID_RELEASE" -o /nonexistent/lighttpd.out)
wait_state lighttpd-delta Eqw
capture error
capture_job error "$delta_job"

# A job number the cell never had (far above any it handed out).
set +e
qstat -j 99999 >"$JOBS_OUT/qstat-j-unknown-job.stdout" 2>"$JOBS_OUT/qstat-j-unknown-job.stderr"
echo $? >"$JOBS_OUT/qstat-j-unknown-job.exit"
set -e
log "qstat -j 99999: exit $(cat "$JOBS_OUT/qstat-j-unknown-job.exit"), stdout: $(cat "$JOBS_OUT/qstat-j-unknown-job.stdout"), stderr: $(cat "$JOBS_OUT/qstat-j-unknown-job.stderr")"

echo_job=$(submit echo lighttpd-echo $(web))
wait_state lighttpd-echo r
qmod -sj "$echo_job" >/dev/null
wait_state lighttpd-echo s
capture suspended-job

foxtrot_job=$(submit foxtrot lighttpd-foxtrot $(web))
wait_state lighttpd-foxtrot r
qhold "$foxtrot_job" >/dev/null
wait_state lighttpd-foxtrot hr
capture held-running

golf_job=$(submit golf lighttpd-golf -r y $(web))
wait_state lighttpd-golf r
qmod -rj "$golf_job" >/dev/null
wait_state lighttpd-golf Rq
capture rescheduled
wait_state lighttpd-golf Rr
capture rescheduled-running

submit hotel generic-hotel -q webgrid-generic -l release="$WSM_GRID_RELEASE" -o /dev/null -e /dev/null >/dev/null
wait_state generic-hotel r
qmod -sq webgrid-generic >/dev/null
wait_state generic-hotel S
capture suspended-queue
qmod -usq webgrid-generic >/dev/null
wait_state generic-hotel r

# With the execd stopped, the qmaster's orders are never acknowledged:
# a deleted job stays "d", a dispatched one stays "t".
kill -STOP "$EXECD"
qdel "$alpha_job" >/dev/null
wait_state lighttpd-alpha dr
capture deleting
submit india lighttpd-india $(web) >/dev/null
wait_state lighttpd-india t
capture transferring
kill -CONT "$EXECD"
wait_state lighttpd-india r
for i in $(seq 100); do [ -z "$(state_of lighttpd-alpha)" ] && break; sleep 0.1; done
capture mixed

# The qmaster stopped: nothing on stdout, a complaint on stderr, exit 1.
"$(dirname "$0")/sge-cell.sh" stop-qmaster
set +e
qstat -u '*' -xml >"$OUT/qmaster-down.stdout" 2>"$OUT/qmaster-down.stderr"
echo $? >"$OUT/qmaster-down.exit"
set -e
log "qmaster down: exit $(cat "$OUT/qmaster-down.exit"), stdout $(wc -c <"$OUT/qmaster-down.stdout") bytes, stderr: $(cat "$OUT/qmaster-down.stderr")"
"$(dirname "$0")/sge-cell.sh" up
log "captures in $OUT and $JOBS_OUT"
