#!/usr/bin/env bash
# Install everything the tests need on this machine, then run them all.
# Usage: bash scripts/test.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e '.[dev,claude-code]'

export REGISTRY_TEST_PG="${REGISTRY_TEST_PG:-$(bash scripts/ensure-postgres.sh)}"
bash scripts/ensure-bubblewrap.sh
if [ -f scripts/ensure-chromium.sh ]; then
  REGISTRY_TEST_CHROMIUM="${REGISTRY_TEST_CHROMIUM:-$(bash scripts/ensure-chromium.sh)}"
  export REGISTRY_TEST_CHROMIUM
fi

.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/python -m pytest "$@"
# As root, the tests that depend on who runs them run once more as an unprivileged user; not
# when the arguments pick tests of their own (anything but options).
picked=""
for arg in "$@"; do
  case "$arg" in -*) ;; *) picked=yes ;; esac
done
if [ -z "$picked" ]; then
  bash scripts/test-as-user.sh -q -rfEs
fi
