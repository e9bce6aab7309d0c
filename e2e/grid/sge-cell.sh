#!/bin/bash
# sge-cell.sh — a single-host Son of Grid Engine cell for the real-grid
# end-to-end tests (make e2e-grid), built from Debian's gridengine-master,
# gridengine-exec and gridengine-client (8.1.9). Run as root.
#
#   sge-cell.sh up      install (if needed), configure and start the cell;
#                       idempotent: a running cell is reconfigured, not restarted
#   sge-cell.sh down    delete every job, stop sge_execd then sge_qmaster by PID
#   sge-cell.sh env     print the environment the tests read (eval it)
#   sge-cell.sh suite CMD...  one run (make e2e-grid): wait for the cell's
#                       lock, finish, up, CMD with the env, finish, pass or fail
#   sge-cell.sh status  say what runs
#   sge-cell.sh stop-qmaster   stop only the qmaster (tests of a grid without it)
#   sge-cell.sh start-qmaster  start it again
#   sge-cell.sh finish  down, then remove what a run created: its processes,
#                       the tool accounts and groups, WSM_GRID_DIR (purge: the same)
#
# What it sets up, and why (each learned the hard way):
#   * debconf answers shared/gridengineconfig=true, shared/gridenginecell=default,
#     shared/gridenginemaster=<host name>, so the packages build the cell
#     without asking;
#   * the script starts the daemons itself (no systemd): sge_qmaster, then
#     sge_execd;
#   * when the host name resolves to a loopback address the qmaster sees
#     clients as "localhost" and refuses them: common/host_aliases maps
#     localhost to the host name;
#   * h_vmem is a consumable with a non-zero default (0 would kill every job);
#   * the scheduler runs every second (the default 15 s makes tests crawl);
#   * queues webgrid-lighttpd and webgrid-generic (no load threshold: a busy
#     CI machine would put them in alarm state), a requestable "release"
#     complex that both offer as $WSM_GRID_RELEASE (a job asking for another
#     release stays pending, as on the real grid);
#   * as on the real webgrid the web queues do not rerun jobs (rerun FALSE)
#     and their epilog is portreleaser.sh, installed as
#     $WSM_GRID_DIR/bin/portreleaser (a stable path: a missing epilog puts
#     the queue in error), which unregisters a web job's route from the
#     stand-in front proxy when the job ends; it finds the proxy in the
#     job's WSM_FRONTPROXY, else in $WSM_GRID_DIR/front-proxy (exported as
#     WSM_GRID_FRONTPROXY_FILE) and logs to $WSM_GRID_DIR/portreleaser.log;
#   * tool accounts tools.<name> (uid >= 50000) with homes under
#     $WSM_GRID_DIR/homes, standing in for NFS. An account of that name
#     left with another home (a run that never finished, another job) is
#     moved here when nothing runs as it; else `up` stops at once, naming
#     the account and its home (the webservice writes manifests in the home
#     passwd gives: every scenario would fail on "permission denied");
#   * `finish` removes all a run created (see finish below); `suite`
#     runs it before `up` and, in a trap, at the end, pass or fail;
#   * one run at a time per machine (`suite` holds a lock): a second run
#     on the same cell would delete the first one's jobs and manifests;
#   * the packages' own services do not start (a policy-rc.d while apt-get
#     runs, unless the machine has one): this script starts the daemons.
#
# Settings (environment): WSM_GRID_DIR (default /var/tmp/wsm-grid),
# WSM_GRID_TOOLS (default: 16 tool names), WSM_GRID_RELEASE (buster).
set -euo pipefail

export SGE_ROOT=/var/lib/gridengine
export SGE_CELL=default
export PATH=/usr/bin:/usr/sbin:/bin:/sbin:$PATH
WSM_GRID_DIR=${WSM_GRID_DIR:-/var/tmp/wsm-grid}
WSM_GRID_TOOLS=${WSM_GRID_TOOLS:-alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa}
WSM_GRID_RELEASE=${WSM_GRID_RELEASE:-buster}
FIRST_UID=${WSM_GRID_FIRST_UID:-51000}
MIN_UID=50000 # the supervisor's --min-uid in the scenarios
HOST=$(hostname)
COMMON=$SGE_ROOT/$SGE_CELL/common
QMASTER_PIDFILE=/var/spool/gridengine/qmaster/qmaster.pid
PACKAGES="gridengine-master gridengine-exec gridengine-client"
LOG=$WSM_GRID_DIR/cell.log
EPILOG=$WSM_GRID_DIR/bin/portreleaser
HERE=$(cd "$(dirname "$0")" && pwd)

log() {
	local line
	line="$(date +%H:%M:%S.%3N) sge-cell: $*"
	echo "$line" >&2
	if [ -d "$WSM_GRID_DIR" ]; then echo "$line" >>"$LOG"; fi
}
die() { log "ERROR: $*"; exit 1; }

# wait_for SECONDS WHAT CMD...: poll CMD every 100 ms until it succeeds.
wait_for() {
	local limit=$1 what=$2 start
	shift 2
	start=$(date +%s%N)
	while ! "$@" >/dev/null 2>&1; do
		if (($(date +%s%N) - start > limit * 1000000000)); then
			die "timed out after ${limit}s waiting for $what"
		fi
		sleep 0.1
	done
	log "$what after $((($(date +%s%N) - start) / 1000000)) ms"
}

alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }
# children_of PID: the pids whose parent is PID (from /proc: no procps needed).
children_of() {
	local stat
	for stat in /proc/[0-9]*/stat; do
		awk -v p="$1" '{ sub(/^.*\) /, ""); if ($2 == p) { split(FILENAME, f, "/"); print f[3] } }' "$stat" 2>/dev/null || true
	done
}
pid_of_file() { [ -r "$1" ] && tr -dc '0-9' <"$1" || true; }
qmaster_pid() { pid_of_file "$QMASTER_PIDFILE"; }
execd_pidfile() {
	# execd spools under the name it resolves itself to (localhost here),
	# so find its pid file rather than guess the directory.
	ls /var/spool/gridengine/execd/*/execd.pid 2>/dev/null | head -n1 || true
}
execd_pid() {
	local f
	f=$(execd_pidfile)
	if [ -n "$f" ]; then pid_of_file "$f"; fi
}
# The pid in a pid file is only ours if it still runs the right program.
running() { # running PID PROGRAM
	alive "$1" && [ "$(readlink "/proc/$1/exe" 2>/dev/null)" = "/usr/lib/gridengine/$2" ]
}

install_packages() {
	local missing="" p
	for p in $PACKAGES; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
	done
	if [ -z "$missing" ]; then
		log "packages already installed: $PACKAGES"
		return
	fi
	log "installing$missing (debconf: gridengineconfig=true, cell=default, master=$HOST)"
	debconf-set-selections <<-EOF
		gridengine-common shared/gridengineconfig boolean true
		gridengine-common shared/gridenginecell string default
		gridengine-common shared/gridenginemaster string $HOST
		gridengine-client shared/gridengineconfig boolean true
		gridengine-master shared/gridengineconfig boolean true
	EOF
	# Nothing the packages ship may start (the cell's daemons are started,
	# and stopped by PID, here): a policy-rc.d refusing every start while
	# apt-get runs, unless the machine has one.
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		trap 'rm -f /usr/sbin/policy-rc.d' EXIT
		printf '#!/bin/sh\n# sge-cell.sh: no service starts while it installs gridengine.\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod 0755 /usr/sbin/policy-rc.d
	fi
	if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -print -quit)" ]; then
		apt-get -o DPkg::Lock::Timeout=300 update -q
	fi
	local try
	for try in 1 2; do
		if DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -q \
			--no-install-recommends $missing >>"$LOG" 2>&1; then
			log "installed$missing"
			return
		fi
		log "apt-get install failed (try $try), see $LOG"
		[ "$try" = 2 ] || apt-get -o DPkg::Lock::Timeout=300 update -q >>"$LOG" 2>&1 || true
	done
	die "could not install$missing"
}

write_host_files() {
	[ -d "$COMMON" ] || die "$COMMON missing: the gridengine-master package did not create the cell (debconf?)"
	getent hosts "$HOST" >/dev/null || die "the host name $HOST does not resolve (add it to /etc/hosts): SGE needs it"
	# The clients must find the qmaster under the host name, and the qmaster
	# must accept clients whose address resolves to localhost as this host.
	echo "$HOST" >"$COMMON/act_qmaster"
	printf '%s localhost\n' "$HOST" >"$COMMON/host_aliases"
	chown sgeadmin:sgeadmin "$COMMON/act_qmaster" "$COMMON/host_aliases"
	log "act_qmaster=$HOST; host_aliases: localhost is $HOST ($(getent hosts "$HOST" | awk '{print $1}'))"
}

start_qmaster() {
	local pid
	pid=$(qmaster_pid)
	if running "$pid" sge_qmaster; then
		log "sge_qmaster already runs (pid $pid)"
	else
		mkdir -p /var/run/gridengine
		chown sgeadmin:sgeadmin /var/run/gridengine
		log "starting sge_qmaster"
		/usr/sbin/sge_qmaster
	fi
	wait_for 60 "qmaster answering" qstat -u '*' -xml
	log "sge_qmaster pid $(qmaster_pid)"
}

start_execd() {
	local pid
	pid=$(execd_pid)
	if running "$pid" sge_execd; then
		log "sge_execd already runs (pid $pid)"
	else
		log "starting sge_execd"
		/usr/sbin/sge_execd
	fi
	# The host reports load once its execd has registered.
	wait_for 60 "execd of $HOST reporting" \
		sh -c "qhost -h '$HOST' | awk 'NR>3 && \$1==\"$HOST\" && \$7!=\"-\" {ok=1} END {exit !ok}'"
}

configure() {
	local dir
	dir=$(mktemp -d)
	# shellcheck disable=SC2064
	trap "rm -rf '$dir'" RETURN

	qconf -sh | grep -qx "$HOST" || qconf -ah "$HOST" >>"$LOG" 2>&1
	qconf -ss 2>/dev/null | grep -qx "$HOST" || qconf -as "$HOST" >>"$LOG" 2>&1

	# qconf -Mconf takes the configuration's name from the file's name.
	qconf -sconf global >"$dir/global"
	sed -i -e 's/^mailer .*/mailer                       \/bin\/true/' \
		-e 's/^load_report_time .*/load_report_time             00:00:05/' "$dir/global"
	qconf -Mconf "$dir/global" >>"$LOG" 2>&1
	log "global configuration: mailer /bin/true, load_report_time 5s"

	qconf -ssconf >"$dir/sched"
	sed -i -e 's/^schedule_interval .*/schedule_interval                 0:0:1/' \
		-e 's/^flush_submit_sec .*/flush_submit_sec                  1/' \
		-e 's/^flush_finish_sec .*/flush_finish_sec                  1/' "$dir/sched"
	qconf -Msconf "$dir/sched" >>"$LOG" 2>&1
	log "scheduler: interval 1s, flush on submit and finish"

	# h_vmem consumable with a non-zero default; release requestable.
	qconf -sc | grep -v -e '^h_vmem ' -e '^release ' >"$dir/complexes"
	cat >>"$dir/complexes" <<-'EOF'
		h_vmem              h_vmem     MEMORY      <=    YES         YES        4G       0
		release             release    RESTRING    ==    YES         NO         NONE     0
	EOF
	qconf -Mc "$dir/complexes" >>"$LOG" 2>&1
	log "complexes: h_vmem consumable (default 4G), release requestable"

	install_epilog
	local q
	for q in webgrid-lighttpd webgrid-generic; do
		cat >"$dir/$q" <<-EOF
			qname                 $q
			hostlist              $HOST
			seq_no                0
			load_thresholds       NONE
			suspend_thresholds    NONE
			nsuspend              1
			suspend_interval      00:05:00
			priority              0
			min_cpu_interval      00:05:00
			processors            UNDEFINED
			qtype                 BATCH INTERACTIVE
			ckpt_list             NONE
			pe_list               NONE
			rerun                 FALSE
			slots                 40
			tmpdir                /tmp
			shell                 /bin/sh
			prolog                NONE
			epilog                root@$EPILOG \$job_owner \$job_name \$job_id
			shell_start_mode      posix_compliant
			starter_method        NONE
			suspend_method        NONE
			resume_method         NONE
			terminate_method      NONE
			notify                00:00:60
			owner_list            NONE
			user_lists            NONE
			xuser_lists           NONE
			subordinate_list      NONE
			complex_values        release=$WSM_GRID_RELEASE
			projects              NONE
			xprojects             NONE
			calendar              NONE
			initial_state         default
			s_rt                  INFINITY
			h_rt                  INFINITY
			s_cpu                 INFINITY
			h_cpu                 INFINITY
			s_fsize               INFINITY
			h_fsize               INFINITY
			s_data                INFINITY
			h_data                INFINITY
			s_stack               INFINITY
			h_stack               INFINITY
			s_core                INFINITY
			h_core                INFINITY
			s_rss                 INFINITY
			h_rss                 INFINITY
			s_vmem                INFINITY
			h_vmem                INFINITY
		EOF
		if qconf -sql 2>/dev/null | grep -qx "$q"; then
			qconf -Mq "$dir/$q" >>"$LOG" 2>&1
			# A test may have left it suspended or disabled.
			qmod -usq "$q" >>"$LOG" 2>&1 || true
			qmod -e "$q" >>"$LOG" 2>&1 || true
		else
			qconf -Aq "$dir/$q" >>"$LOG" 2>&1
		fi
		log "queue $q on $HOST: 40 slots, rerun FALSE, no load threshold, release=$WSM_GRID_RELEASE, epilog $EPILOG"
	done
}

# install_epilog copies portreleaser.sh where the queues' epilog line
# points, root-owned and not writable by the tools (it runs as root).
install_epilog() {
	install -d -m 0755 -o root -g root "$WSM_GRID_DIR/bin"
	install -m 0755 -o root -g root "$HERE/portreleaser.sh" "$EPILOG"
	touch "$WSM_GRID_DIR/portreleaser.log"
	log "epilog: $EPILOG (unregisters a web job's route when it ends)"
}

create_tools() {
	mkdir -p "$WSM_GRID_DIR/homes"
	chmod 0755 "$WSM_GRID_DIR" "$WSM_GRID_DIR/homes"
	local uid=$FIRST_UID name account home created="" fixed=""
	for name in $WSM_GRID_TOOLS; do
		account=tools.$name
		home=$WSM_GRID_DIR/homes/$name
		if getent passwd "$account" >/dev/null; then
			claim_account "$account" "$home" && fixed="$fixed $account"
		else
			while getent passwd "$uid" >/dev/null; do uid=$((uid + 1)); done
			useradd --uid "$uid" --user-group --no-create-home --home-dir "$home" --shell /bin/bash "$account" ||
				die "could not create the account $account (uid $uid, home $home)"
			created="$created $account"
		fi
		install -d -m 0755 -o "$account" -g "$(id -g "$account")" "$home"
		uid=$((uid + 1))
	done
	log "tool accounts (uid >= $MIN_UID, homes under $WSM_GRID_DIR/homes): $WSM_GRID_TOOLS${created:+ (created:$created)}${fixed:+ (home moved here:$fixed)}"
}

# claim_account ACCOUNT HOME: an account of that name already exists (a run
# that never finished, another job): it becomes this cell's if nothing runs
# as it, its home moved to HOME (the stand-in webservice writes manifests in
# the home passwd gives); else the run stops here, naming it. Returns 0 when
# it moved the home, 1 when the account was already right.
claim_account() {
	local account=$1 home=$2 entry uid current procs
	entry=$(getent passwd "$account")
	uid=$(echo "$entry" | cut -d: -f3)
	current=$(echo "$entry" | cut -d: -f6)
	[ "$uid" -ge "$MIN_UID" ] ||
		die "the account $account exists with uid $uid (home $current), below the supervisor's --min-uid $MIN_UID: remove it (userdel $account) or set WSM_GRID_TOOLS"
	[ "$current" != "$home" ] || return 1
	procs=$(pids_of_uid "$uid" | tr '\n' ' ')
	[ -z "$procs" ] ||
		die "the account $account exists with home $current, not $home, and processes run as it (pids ${procs% }): another job uses it; stop it or remove the account (userdel $account)"
	usermod --home "$home" "$account" >>"$LOG" 2>&1 ||
		die "the account $account exists with home $current, not $home, and usermod could not move it (an account from LDAP?): remove it (userdel $account)"
	log "the account $account had home $current (another run?): now $home"
}

# pids_of_uid UID...: the processes whose real uid is one of UIDs (from
# /proc, with shell builtins: a process may vanish while it is read).
pids_of_uid() {
	local status key uid _ pid
	for status in /proc/[0-9]*/status; do
		pid=${status#/proc/}
		pid=${pid%/status}
		while read -r key uid _; do
			if [ "$key" = Uid: ]; then
				case " $* " in *" $uid "*) echo "$pid" ;; esac
				break
			fi
		done 2>/dev/null <"$status" || true
	done
}

# pids_of_run: processes running a program from $WSM_GRID_DIR (the stand-in
# webservice) or naming a scenario's run directory (a supervisor daemon of a
# test binary that died before its cleanups ran).
pids_of_run() {
	local p exe args
	for p in /proc/[0-9]*; do
		exe=$(readlink "$p/exe" 2>/dev/null) || continue
		args=$(tr '\0' ' ' 2>/dev/null <"$p/cmdline") || continue
		case "$exe $args" in
		"$WSM_GRID_DIR"/* | *"$WSM_GRID_DIR/runs/"*) echo "${p#/proc/}" ;;
		esac
	done
}

# cell_accounts: the tool accounts that are this cell's (home under
# $WSM_GRID_DIR/homes); an account of the same name living elsewhere is
# another job's, which `up` refused to take, and is left alone.
cell_accounts() {
	local name home
	for name in $WSM_GRID_TOOLS; do
		home=$(getent passwd "tools.$name" | cut -d: -f6)
		case $home in "$WSM_GRID_DIR/homes/"*) echo "tools.$name" ;; esac
	done
}

# kill_leftovers kills, by pid, what still runs as a cell account or from
# the run directories once the daemons are down, and waits (5 s at most)
# until they are gone.
kill_leftovers() {
	local uids="" account pid killed="" i
	for account in $(cell_accounts); do uids="$uids $(id -u "$account")"; done
	for pid in $( ([ -z "$uids" ] || pids_of_uid $uids) && pids_of_run); do
		[ "$pid" != $$ ] && alive "$pid" || continue
		log "killing leftover process $pid: $(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline")"
		kill -KILL "$pid" 2>/dev/null || true
		killed="$killed $pid"
	done
	for pid in $killed; do
		# A zombie has no exe: it is gone as far as the accounts care.
		for i in $(seq 50); do readlink "/proc/$pid/exe" >/dev/null 2>&1 || break; sleep 0.1; done
	done
}

# finish leaves the machine as it was before `up`, pass or fail: the cell
# down, no process of a run, no tool account or group of this cell, no
# $WSM_GRID_DIR (homes, run directories, the epilog, the logs). What stays,
# for the next run's speed, is what apt installed: the gridengine packages
# (their .debs in apt's cache), with the cell's configuration and spool
# under /var/lib/gridengine and /var/spool/gridengine, which `up`
# reconfigures. It fails, saying what, when something could not be removed.
finish() {
	local account name pid left="" removed="" others=""
	down
	kill_leftovers
	for account in $(cell_accounts); do
		if userdel "$account" >>"$LOG" 2>&1; then removed="$removed $account"; else left="$left account $account (userdel failed, see $LOG);"; fi
	done
	for name in $WSM_GRID_TOOLS; do
		account=$(getent passwd "tools.$name") || continue
		others="$others tools.$name (home $(echo "$account" | cut -d: -f6))"
	done
	for name in $WSM_GRID_TOOLS; do
		# userdel takes the user's group only when nobody else is in it.
		if getent group "tools.$name" >/dev/null && ! getent passwd "tools.$name" >/dev/null; then
			groupdel "tools.$name" 2>/dev/null || left="$left group tools.$name;"
		fi
	done
	rm -rf "$WSM_GRID_DIR" || left="$left $WSM_GRID_DIR;"
	for pid in $(pids_of_run); do left="$left process $pid;"; done
	[ -z "$left" ] || die "finish could not remove:$left"
	log "finished: cell down, no run process, $WSM_GRID_DIR removed; accounts and groups removed:${removed:- none}${others:+; left alone (homes elsewhere):$others}"
}

delete_all_jobs() {
	if ! qstat -u '*' -xml >/dev/null 2>&1; then return; fi
	if [ -n "$(qstat -u '*' 2>/dev/null)" ]; then
		log "deleting every job"
		qdel -f -u '*' >>"$LOG" 2>&1 || true
		local i
		for i in $(seq 100); do
			[ -z "$(qstat -u '*' 2>/dev/null)" ] && break
			sleep 0.1
		done
	fi
}

stop_pid() { # stop_pid PID NAME SECONDS
	local pid=$1 name=$2 limit=$3 start
	start=$(date +%s%N)
	kill -CONT "$pid" 2>/dev/null || true # a test may have stopped it
	kill -TERM "$pid" 2>/dev/null || true
	while alive "$pid"; do
		if (($(date +%s%N) - start > limit * 1000000000)); then
			log "$name (pid $pid) still runs after ${limit}s: SIGKILL"
			kill -KILL "$pid" 2>/dev/null || true
			sleep 0.2
			break
		fi
		sleep 0.1
	done
	log "$name (pid $pid) stopped after $((($(date +%s%N) - start) / 1000000)) ms"
}

down() {
	local pid child
	pid=$(qmaster_pid)
	if running "$pid" sge_qmaster; then
		kill -CONT "$pid" 2>/dev/null || true
		delete_all_jobs
	fi
	pid=$(execd_pid)
	if running "$pid" sge_execd; then
		kill -CONT "$pid" 2>/dev/null || true
		# Shepherds of jobs still running are this execd's children.
		local children
		children=$(children_of "$pid")
		stop_pid "$pid" sge_execd 20
		for child in $children; do
			if alive "$child"; then
				log "killing leftover job shepherd $child and its process group"
				kill -KILL -- "-$child" 2>/dev/null || kill -KILL "$child" 2>/dev/null || true
			fi
		done
	else
		log "sge_execd not running"
	fi
	pid=$(qmaster_pid)
	if running "$pid" sge_qmaster; then
		# Stopping the qmaster takes several seconds.
		stop_pid "$pid" sge_qmaster 30
	else
		log "sge_qmaster not running"
	fi
}

up() {
	local began
	mkdir -p "$WSM_GRID_DIR"
	began=$(date +%s%N)
	create_tools # first: an account it cannot take stops the run at once
	install_packages
	write_host_files
	start_qmaster
	configure
	start_execd
	log "cell up in $((($(date +%s%N) - began) / 1000000)) ms (host $HOST, SGE_ROOT $SGE_ROOT, cell $SGE_CELL)"
}

# suite CMD...: one whole run of the suite on the machine's only cell. It
# waits (30 min at most) while another run holds the cell (a lock: two runs
# would delete each other's jobs and manifests), clears what a killed run
# left (finish), brings the cell up, runs CMD with the cell's environment,
# and finishes, pass or fail; its status is CMD's, or 1 when finish fails.
suite() {
	local lock=/run/lock/wsm-grid-cell.lock
	[ -d /run/lock ] || lock=/tmp/wsm-grid-cell.lock
	exec 9>>"$lock"
	if ! flock -n 9; then
		log "another e2e-grid run holds the cell (lock $lock): waiting for it, 30 min at most"
		flock -w 1800 9 || die "another e2e-grid run still holds the cell after 30 min (lock $lock)"
	fi
	trap 'status=$?; trap - EXIT; finish || status=1; exit $status' EXIT
	trap 'exit 130' INT TERM
	finish
	# Nothing started from here keeps the lock: its descriptor is closed.
	(up) 9>&-
	eval "$(print_env)"
	"$@" 9>&-
}

print_env() {
	cat <<-EOF
		export SGE_ROOT=$SGE_ROOT
		export SGE_CELL=$SGE_CELL
		export WSM_GRID_DIR=$WSM_GRID_DIR
		export WSM_GRID_HOMES=$WSM_GRID_DIR/homes
		export WSM_GRID_TOOLS="$WSM_GRID_TOOLS"
		export WSM_GRID_HOST=$HOST
		export WSM_GRID_RELEASE=$WSM_GRID_RELEASE
		export WSM_GRID_FRONTPROXY_FILE=$WSM_GRID_DIR/front-proxy
		export WSM_GRID_EPILOG_LOG=$WSM_GRID_DIR/portreleaser.log
		export WSM_GRID_QMASTER_PIDFILE=$QMASTER_PIDFILE
		export WSM_GRID_EXECD_PIDFILE=$(execd_pidfile)
	EOF
}

status() {
	local pid
	pid=$(qmaster_pid)
	if running "$pid" sge_qmaster; then echo "sge_qmaster: running (pid $pid)"; else echo "sge_qmaster: stopped"; fi
	pid=$(execd_pid)
	if running "$pid" sge_execd; then echo "sge_execd: running (pid $pid)"; else echo "sge_execd: stopped"; fi
	qstat -u '*' -f 2>/dev/null || true
}

[ "$(id -u)" = 0 ] || { echo "sge-cell.sh: run as root" >&2; exit 1; }
case "${1:-}" in
up) up ;;
down) down ;;
suite)
	shift
	suite "$@"
	;;
stop-qmaster)
	# For tests of a grid without its qmaster; `up` starts it again.
	pid=$(qmaster_pid)
	if running "$pid" sge_qmaster; then stop_pid "$pid" sge_qmaster 30; else log "sge_qmaster not running"; fi
	;;
start-qmaster)
	# Start a stopped qmaster of a cell configured before (faster than up).
	write_host_files
	start_qmaster
	;;
env) print_env ;;
status) status ;;
finish | purge) finish ;;
*)
	echo "usage: $0 up|down|finish|suite CMD...|env|status|stop-qmaster|start-qmaster" >&2
	exit 2
	;;
esac
