#!/bin/bash
# portreleaser.sh — the web queues' epilog in the real-grid cell
# (sge-cell.sh installs it as $WSM_GRID_DIR/bin/portreleaser): when a web
# job ends, unregister its tool's route from the stand-in front proxy, as the
# platform's portreleaser does. Without it a route would outlive its job for
# ever, since the proxy keeps a route until it is unregistered.
#
#   epilog root@$WSM_GRID_DIR/bin/portreleaser $job_owner $job_name $job_id
#
# The tool is the job owner's tools.<tool>, and the job must be named
# <web>-<tool>. The proxy's registration address (host:port) is the job's
# WSM_FRONTPROXY (the epilog runs in the job's environment; the stand-in
# webservice submits with -v WSM_FRONTPROXY=...), else the first line of
# $WSM_GRID_DIR/front-proxy. It sends "unregister <tool>" (frontproxy's
# line protocol) and logs what happened to $WSM_GRID_DIR/portreleaser.log.
#
# It always exits 0: a failing epilog would put the queue in error state,
# and one stale route is a smaller harm than a dead queue.
owner=${1:-${USER:-}}
name=${2:-${JOB_NAME:-}}
job=${3:-${JOB_ID:-}}
dir=$(cd "$(dirname "$0")/.." 2>/dev/null && pwd)

log() {
	echo "$(date '+%F %T') job $job ($name of $owner): $*" >>"$dir/portreleaser.log" 2>/dev/null || true
}

release() {
	local tool proxy reply
	case $owner in
	tools.?*) tool=${owner#tools.} ;;
	*) log "not a tool's job: nothing to unregister"; return ;;
	esac
	case $name in
	?*-"$tool") ;;
	*) log "not a web job of $tool: nothing to unregister"; return ;;
	esac
	proxy=${WSM_FRONTPROXY:-}
	if [ -z "$proxy" ] && [ -r "$dir/front-proxy" ]; then
		read -r proxy <"$dir/front-proxy" || true
	fi
	case $proxy in
	?*:[0-9]*) ;;
	*) log "no front proxy address (WSM_FRONTPROXY or $dir/front-proxy): nothing unregistered"; return ;;
	esac
	# bash's /dev/tcp: no netcat needed; timeout bounds a hung proxy.
	reply=$(timeout 5 bash -c 'exec 3<>"/dev/tcp/$1/$2" && printf "unregister %s\n" "$3" >&3 && head -n1 <&3' \
		portreleaser "${proxy%:*}" "${proxy##*:}" "$tool" 2>&1)
	log "unregister $tool at $proxy: ${reply:-no answer}"
}

release || true
exit 0
