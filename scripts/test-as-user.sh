#!/usr/bin/env bash
# Run as root (CI does): the tests whose outcome depends on who runs them, again as an
# unprivileged user, since the people who use the registry are not root. Claude Code's sandbox,
# bubblewrap around the agentic checks, file permissions and read-only folders all behave
# differently for root, and a few tests only run for a user.
# Makes the user (registry-test), copies this working tree (tracked and untracked files, not the
# ignored ones) into its home, builds a virtualenv there with a Python the user may run, and
# runs those tests. Usage: bash scripts/test-as-user.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
log() { echo "test-as-user: $*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
  log "not root: the whole suite already ran as $(id -un)"
  exit 0
fi
TESTS=(
  tests/experiments/test_agentic_claude_code.py
  tests/experiments/test_router_claude_code.py
  tests/experiments/test_claude_code_runtime.py
  tests/experiments/test_capture.py
  tests/experiments/test_agentic_workspace.py
  tests/experiments/test_agentic.py
  tests/data/test_agentic_suite.py
  tests/registry/test_bad_input.py
  tests/registry/test_foreign_database.py
)
# Assigned before it is exported: `export X=$(...)` would hide a failure of the command.
pg="${REGISTRY_TEST_PG:-}"
if [ -z "$pg" ]; then
  pg=$(bash scripts/ensure-postgres.sh)
fi
export REGISTRY_TEST_PG="$pg"
name=registry-test
id -u "$name" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash "$name"
home=$(getent passwd "$name" | cut -d: -f6)
as_user() {
  runuser -u "$name" -- env -i HOME="$home" PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 \
    REGISTRY_TEST_PG="${REGISTRY_TEST_PG:-}" "$@"
}

# This project's interpreter may live where the user cannot reach it (pyenv in /root).
python=""
for candidate in "$(readlink -f .venv/bin/python)" /usr/local/bin/python3 /usr/bin/python3; do
  if [ -x "$candidate" ] && as_user "$candidate" -c 'import sys, venv, ensurepip
assert sys.version_info >= (3, 11)' 2>/dev/null; then
    python=$candidate
    break
  fi
done
if [ -z "$python" ]; then
  log "no Python 3.11 or newer with venv that $name may run (apt-get install python3 python3-venv)"
  exit 1
fi

checkout="$home/checkout"
rm -rf "$checkout"
mkdir -p "$checkout"
# Tracked files deleted in the working tree are left out; any other file that cannot be read fails.
while IFS= read -r -d '' file; do
  if [ -e "$file" ] || [ -L "$file" ]; then printf '%s\0' "$file"; fi
done < <(git ls-files -z --cached --others --exclude-standard) |
  tar --null -T - -cf - | tar -xf - -C "$checkout"
chown -R "$name:" "$checkout"
log "running ${#TESTS[@]} test files as $name with $python"
cd "$checkout"
as_user "$python" -m venv .venv
as_user .venv/bin/python -m pip install -q --upgrade pip >/dev/null
as_user .venv/bin/python -m pip install -q -e '.[dev,claude-code]'
as_user .venv/bin/python -m pytest -p no:cacheprovider "$@" "${TESTS[@]}"
