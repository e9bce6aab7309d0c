#!/usr/bin/env bash
# Installs what the end-to-end suites run against: Debian's Prometheus
# (with promtool) and Alertmanager, or only the packages named
# (`install.sh prometheus-alertmanager`: the real-grid suite needs only
# Alertmanager; the HA suite, `etcd-server`). Skips what is there. The packages' own services never
# start (a policy-rc.d refuses every start while apt-get runs, unless the
# machine has one): the suites start their own copies on free 127.0.0.1
# ports with temp storage, and leave nothing running.
set -euo pipefail
wanted=("$@")
[ ${#wanted[@]} -gt 0 ] || wanted=(prometheus prometheus-alertmanager)
missing=()
for pkg in "${wanted[@]}"; do
  case $pkg in
    prometheus) command -v prometheus >/dev/null && command -v promtool >/dev/null || missing+=(prometheus) ;;
    prometheus-alertmanager) command -v prometheus-alertmanager >/dev/null || missing+=(prometheus-alertmanager) ;;
    etcd-server) command -v etcd >/dev/null || missing+=(etcd-server) ;;
    *) echo "install.sh: unknown package $pkg (prometheus, prometheus-alertmanager, etcd-server)" >&2; exit 2 ;;
  esac
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "e2e: ${missing[*]} missing; run as root to install, or: apt-get install --no-install-recommends ${missing[*]}" >&2
  exit 1
fi
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  trap 'rm -f "$policy"' EXIT
  printf '#!/bin/sh\n# e2e: no service starts while the suites install their tools.\nexit 101\n' >"$policy"
  chmod 0755 "$policy"
fi
# Another apt run (a suite installing its own packages) may hold the lock.
apt-get -o DPkg::Lock::Timeout=300 update -qq
DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}"
