#!/usr/bin/env bash
# Installs what the package end-to-end suite needs on a clean Debian: dpkg
# tools (always there), sudo (the package depends on it, and dpkg -i does
# not fetch dependencies), systemd (for systemd-analyze verify; installing
# it does not make it PID 1), lintian (the package must pass it; it brings
# man and dpkg-parsechangelog, for the man page and changelog checks) and
# promtool (from Debian's prometheus package,
# for the fleet rule's unit test). Skips what is there.
#
# No service may start from these installs (the suite starts nothing but
# what it owns): a policy-rc.d that refuses every start is in place for the
# length of apt-get, unless the machine already has one.
set -euo pipefail
missing=()
command -v sudo >/dev/null || missing+=(sudo)
command -v systemd-analyze >/dev/null || missing+=(systemd)
command -v promtool >/dev/null || missing+=(prometheus)
command -v lintian >/dev/null || missing+=(lintian)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "e2e-package: ${missing[*]} missing; run as root to install, or: apt-get install --no-install-recommends ${missing[*]}" >&2
  exit 1
fi
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  trap 'rm -f "$policy"' EXIT
  printf '#!/bin/sh\n# e2e-package: no service starts while it installs its tools.\nexit 101\n' >"$policy"
  chmod 0755 "$policy"
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
