#!/usr/bin/env bash
# Start (installing if needed) a local PostgreSQL on 127.0.0.1 for the store tests, idempotently, and print its
# SQLAlchemy URL on stdout; progress goes to stderr. Usage: export NBMLOPS_TEST_PG_URL="$(.ci/postgres.sh)"
set -euo pipefail

PORT="${NBMLOPS_PG_PORT:-5432}"
ROLE=nbmlops
PASSWORD=nbmlops
DB=nbmlops_test
URL="postgresql+psycopg://${ROLE}:${PASSWORD}@127.0.0.1:${PORT}/${DB}"
log() { echo "postgres.sh: $*" >&2; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
as_postgres() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi; }

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }

reachable() { PGPASSWORD="$PASSWORD" psql -h 127.0.0.1 -p "$PORT" -U "$ROLE" -d "$DB" -tAc 'select 1' >/dev/null 2>&1; }

if command -v psql >/dev/null 2>&1 && reachable; then
  log "already running at 127.0.0.1:${PORT}"
  echo "$URL"
  exit 0
fi

if [ -z "$(pg_bin)" ]; then
  log "installing postgresql (apt-get)"
  $SUDO apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >&2
fi
BIN="$(pg_bin)"
VERSION="$(basename "$(dirname "$BIN")")"

if command -v pg_ctlcluster >/dev/null 2>&1; then
  # Debian's wrapper: a cluster 'main' owned by postgres, listening on localhost (127.0.0.1 included).
  if ! pg_lsclusters -h 2>/dev/null | awk '{print $1" "$2}' | grep -qx "$VERSION main"; then
    log "creating cluster $VERSION/main"
    $SUDO pg_createcluster "$VERSION" main --port "$PORT" >&2
  fi
  if ! pg_lsclusters -h | awk -v v="$VERSION" '$1==v && $2=="main" {print $4}' | grep -q online; then
    log "starting cluster $VERSION/main"
    $SUDO pg_ctlcluster "$VERSION" main start >&2
  fi
  SOCKET_ARGS=()
else
  # No Debian wrapper: a private cluster in a folder owned by postgres.
  DATA="${NBMLOPS_PG_DATA:-/tmp/nbmlops-pg}"
  if [ ! -f "$DATA/PG_VERSION" ]; then
    $SUDO mkdir -p "$DATA" && $SUDO chown postgres "$DATA"
    as_postgres "$BIN/initdb" -D "$DATA" -A scram-sha-256 --pwfile=<(echo postgres) -U postgres >&2
  fi
  if ! as_postgres "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
    as_postgres "$BIN/pg_ctl" -D "$DATA" -l "$DATA/server.log" -w \
      -o "-h 127.0.0.1 -p $PORT -k $DATA" start >&2
  fi
  SOCKET_ARGS=(-h "$DATA")
  export PGPASSWORD=postgres
fi

for _ in $(seq 1 60); do
  if "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT"; then break; fi
  sleep 0.5
done
"$BIN/pg_isready" -h 127.0.0.1 -p "$PORT" >&2

psql_admin() { as_postgres env PGPASSWORD="${PGPASSWORD:-}" psql "${SOCKET_ARGS[@]}" -p "$PORT" -v ON_ERROR_STOP=1 -qtA "$@"; }
psql_admin -c "DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${ROLE}') THEN
    CREATE ROLE ${ROLE} LOGIN PASSWORD '${PASSWORD}';
  ELSE
    ALTER ROLE ${ROLE} LOGIN PASSWORD '${PASSWORD}';
  END IF;
END \$\$;" >&2
if [ "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = '${DB}'")" != "1" ]; then
  psql_admin -c "CREATE DATABASE ${DB} OWNER ${ROLE}" >&2
fi

if ! reachable; then
  log "PostgreSQL started but ${ROLE}@127.0.0.1:${PORT}/${DB} does not accept the password login"
  exit 1
fi
log "ready at 127.0.0.1:${PORT}"
echo "$URL"
