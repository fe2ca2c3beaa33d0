#!/usr/bin/env bash
# Make sure a PostgreSQL server answers on 127.0.0.1:5432 and print a URL for the tests.
# Uses the machine's server when there is one; installs Debian's package when there is none.
set -euo pipefail
log() { echo "ensure-postgres: $*" >&2; }

if ! command -v pg_lsclusters >/dev/null 2>&1; then
  log "installing postgresql"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2 && apt-get install -y -qq postgresql >&2
fi
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  if ! pg_lsclusters -h | grep -q "^$version main"; then
    pg_createcluster "$version" main >&2
  fi
  log "starting cluster $version/main"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start >&2 || true
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
url="postgresql://postgres:postgres@127.0.0.1:5432/postgres"
if ! PGCONNECT_TIMEOUT=5 psql "$url" -qtAc "select 1" >/dev/null 2>&1; then
  # A fresh install asks TCP clients for a password: give the superuser a known test one.
  su postgres -c "psql -qc \"ALTER USER postgres PASSWORD 'postgres'\"" >&2
fi
PGCONNECT_TIMEOUT=5 psql "$url" -qtAc "select 1" >/dev/null
echo "$url"
