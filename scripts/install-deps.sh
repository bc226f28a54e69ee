#!/usr/bin/env bash
# Installs what batchlet's tests and examples need on a Debian machine:
# busybox (the busybox image profile), Math::BigInt for the seeds' perl pi
# Job, Redis for the work-queue tutorial, ping for the pod-to-pod tutorial.
# Only missing packages are installed.
set -euo pipefail

want=(busybox-static libmath-bigint-perl redis-server iputils-ping)
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: need root to install: ${missing[*]}" >&2
    exit 1
  fi
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
