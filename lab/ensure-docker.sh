#!/usr/bin/env bash
# Make sure a Docker engine answers, for the lab and the Molecule scenarios.
#
# - An engine that already answers is left alone.
# - Otherwise Debian's docker.io is installed when dockerd is missing, and the
#   engine is started: through systemd where systemd runs, or else as a
#   background dockerd that logs to $LAB_STATE/dockerd.log.
# Any failure ends with one line on stderr that says why.
set -euo pipefail

LAB_STATE=${LAB_STATE:-$(cd "$(dirname "$0")/.." && pwd)/.cache/lab}
SOCK=${DOCKER_SOCK:-/var/run/docker.sock}
WAIT=${DOCKER_WAIT_SECONDS:-60}

die() { echo "lab: Docker is unusable: $*" >&2; exit 1; }

engine_answers() { timeout 20 docker info >/dev/null 2>&1; }

command -v docker >/dev/null 2>&1 && engine_answers && exit 0

if ! command -v dockerd >/dev/null 2>&1; then
  [ "$(id -u)" = 0 ] || die "no engine answers and dockerd is not installed; install docker.io (needs root) or start your engine"
  command -v apt-get >/dev/null 2>&1 || die "no engine answers and dockerd is not installed, and this host has no apt-get; install Docker yourself"
  echo "lab: installing Debian's docker.io" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null || die "apt-get update failed; check the Debian archive is reachable"
  apt-get install -y -qq docker.io >/dev/null || die "apt-get install docker.io failed"
fi

if [ -d /run/systemd/system ]; then
  systemctl start docker || die "systemctl start docker failed; see journalctl -u docker"
else
  [ "$(id -u)" = 0 ] || die "dockerd is not running and starting it needs root"
  mkdir -p "$LAB_STATE"
  if ! pgrep -x dockerd >/dev/null 2>&1; then
    echo "lab: no init system; starting dockerd in the background (log: $LAB_STATE/dockerd.log)" >&2
    nohup dockerd >"$LAB_STATE/dockerd.log" 2>&1 &
  fi
fi

for _ in $(seq "$WAIT"); do
  if engine_answers; then exit 0; fi
  sleep 1
done
where=${DOCKER_HOST:-unix://$SOCK}
if [ -d /run/systemd/system ]; then
  die "the engine did not answer at $where within ${WAIT}s; see journalctl -u docker"
fi
die "the engine did not answer at $where within ${WAIT}s; see $LAB_STATE/dockerd.log"
