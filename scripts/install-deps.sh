#!/usr/bin/env bash
# Installs what batchlet's build, tests and examples need on a Debian
# machine: gcc and the static C library (the shim's sandbox init step is C,
# linked statically), busybox (the busybox image profile), Math::BigInt for the seeds' perl pi
# Job, ping for the pod-to-pod tutorial, and for the work-queue tutorials
# Redis (redis-server, redis-cli), RabbitMQ (rabbitmq-server) and amqp-tools.
# Only missing packages are installed. The servers run as batchlet pods, so
# the system services the packages would start are kept from starting (or
# stopped), leaving ports 6379 and 5672 free.
set -euo pipefail

want=(gcc libc6-dev busybox-static libmath-bigint-perl redis-server redis-tools iputils-ping rabbitmq-server amqp-tools)
services=(redis-server rabbitmq-server)

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: need root to install: ${missing[*]}" >&2
  exit 1
fi

# invoke-rc.d consults policy-rc.d: exit 101 forbids starting services while
# the packages install. An existing policy is left as it is.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod 0755 "$policy"
  trap 'rm -f "$policy"' EXIT
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

# Where a service started anyway (no policy support), stop and disable it.
for s in "${services[@]}"; do
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    systemctl disable --now "$s" >/dev/null 2>&1 || true
  elif [ -x "/etc/init.d/$s" ]; then
    "/etc/init.d/$s" stop >/dev/null 2>&1 || true
    update-rc.d "$s" disable >/dev/null 2>&1 || true
  fi
done
# rabbitmq-server's package may leave the Erlang port mapper running.
if command -v epmd >/dev/null 2>&1; then
  epmd -kill >/dev/null 2>&1 || true
fi
