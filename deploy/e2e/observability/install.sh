#!/usr/bin/env bash
# Installs what the observability end-to-end suite runs against: Debian's
# Prometheus (with promtool) and Alertmanager. Skips when they are there.
# The packages' own services (if systemd starts them) are left alone: the
# suite starts its own copies on free 127.0.0.1 ports with temp storage.
set -euo pipefail
missing=()
command -v prometheus >/dev/null && command -v promtool >/dev/null || missing+=(prometheus)
command -v prometheus-alertmanager >/dev/null || missing+=(prometheus-alertmanager)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "e2e-observability: ${missing[*]} missing; run as root to install, or: apt-get install --no-install-recommends ${missing[*]}" >&2
  exit 1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
