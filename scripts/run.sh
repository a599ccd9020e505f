#!/usr/bin/env bash
# Sets up a fresh Debian machine, builds genidd in release mode and runs the
# daemon. Arguments go to `genidd serve` (default: --source auto, listening on
# 127.0.0.1:8080 and STATE_DIR/genidd.sock).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
echo "run: building genidd (release)" >&2
swift build -c release --product genidd
exec .build/release/genidd serve "$@"
