#!/usr/bin/env bash
# `npm run setup`: installs the system packages `npm test` and the server need (the list and the reasons are in
# scripts/prerequisites.mjs). Idempotent: only what is missing is installed, so a second run does nothing.
# Debian/Ubuntu (apt-get); elsewhere it prints what to install.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
need=$(node scripts/prerequisites.mjs --apt)
if [ -z "$need" ]; then
  echo "setup: system packages already installed"
  # The Modal emulator's sandbox network (an address on lo; gone after a reboot). Idempotent.
  $SUDO node packages/backend-modal/bin/modal-emulator.js setup
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup: no apt-get here; install these (or your system's equivalents) by hand: $need" >&2
  exit 1
fi
echo "setup: apt-get install $need"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086 # one word per package
$SUDO apt-get install -y -qq --no-install-recommends $need >/dev/null
$SUDO node packages/backend-modal/bin/modal-emulator.js setup
node scripts/prerequisites.mjs
