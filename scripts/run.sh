#!/usr/bin/env bash
# Sets up a fresh Debian machine, builds genidd as it ships (release, static
# Swift runtime, stripped: scripts/build-release.sh) and runs the daemon.
# Arguments go to `genidd serve` (default: --source auto, listening on
# 127.0.0.1:8080 and STATE_DIR/genidd.sock).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
echo "run: building genidd (release)" >&2
bash scripts/build-release.sh .build/genidd-release
exec .build/genidd-release/genidd serve "$@"
