#!/usr/bin/env bash
# Start (installing if needed) a local redis-server on 127.0.0.1 for the feature store's online-store tests,
# idempotently, and print its URL on stdout; progress goes to stderr.
# Usage: export NBMLOPS_TEST_REDIS_URL="$(.ci/redis.sh)"
set -euo pipefail

PORT="${NBMLOPS_REDIS_PORT:-6379}"
URL="redis://127.0.0.1:${PORT}/0"
DIR="${NBMLOPS_REDIS_DIR:-/tmp/nbmlops-redis}"
log() { echo "redis.sh: $*" >&2; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

ping() { redis-cli -h 127.0.0.1 -p "$PORT" ping 2>/dev/null | grep -q PONG; }

if command -v redis-cli >/dev/null 2>&1 && ping; then
  log "already running at 127.0.0.1:${PORT}"
  echo "$URL"
  exit 0
fi

if ! command -v redis-server >/dev/null 2>&1; then
  log "installing redis-server (apt-get)"
  $SUDO apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server >&2
fi

mkdir -p "$DIR"
# Our own daemon (not the distro service): bound to loopback, no persistence, pid and log in $DIR.
redis-server --bind 127.0.0.1 --port "$PORT" --daemonize yes --save '' --appendonly no \
  --dir "$DIR" --pidfile "$DIR/redis.pid" --logfile "$DIR/redis.log" >&2

for _ in $(seq 1 50); do
  if ping; then break; fi
  sleep 0.1
done
if ! ping; then
  log "redis-server did not answer on 127.0.0.1:${PORT} (see $DIR/redis.log)"
  exit 1
fi
log "ready at 127.0.0.1:${PORT}"
echo "$URL"
