#!/usr/bin/env bash
# Make sure Debian's Chromium is installed and print its path for the browser tests
# (Playwright drives it through executable_path; its own browser download is not used).
set -euo pipefail
log() { echo "ensure-chromium: $*" >&2; }

path=/usr/bin/chromium
if [ ! -x "$path" ]; then
  log "installing chromium"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2 && apt-get install -y -qq chromium >&2
fi
"$path" --version >&2
echo "$path"
