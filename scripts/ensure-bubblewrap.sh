#!/usr/bin/env bash
# Make sure bubblewrap and socat are installed and bwrap can start a sandbox here: Claude Code's
# Bash sandbox needs them, and the agentic claude-code tests run every session in it.
set -euo pipefail
log() { echo "ensure-bubblewrap: $*" >&2; }

if ! command -v bwrap >/dev/null 2>&1 || ! command -v socat >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then
    log "install bubblewrap and socat (sudo apt-get install bubblewrap socat)"
    exit 1
  fi
  log "installing bubblewrap and socat"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2 && apt-get install -y -qq bubblewrap socat >&2
fi
# What experiments/sessions/sandbox.py checks before a run (user namespaces must be allowed).
bwrap --ro-bind / / --dev /dev --proc /proc --unshare-net --unshare-pid true
bwrap --version >&2
