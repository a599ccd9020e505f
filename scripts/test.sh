#!/usr/bin/env bash
# Sets up a fresh Debian machine and runs genidd's whole test suite: the
# format check, then every Swift test (unit tests and tests that start the
# real daemon and talk HTTP to it). Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
# libfuse3 and fuse3 for the /dev/sysgenid emulation; python3 sends the forged uevent.
source scripts/setup.sh libfuse3-dev fuse3 gcc python3

echo "test: swift format lint --strict" >&2
swift format lint --strict --recursive Package.swift Sources Tests

if [ "$(id -u)" -eq 0 ] && [ -e /dev/fuse ]; then
    echo "test: the sysgenid FUSE emulation's self-test" >&2
    bash Tests/Fixtures/sysgenid-fuse/selftest.sh | tail -n 1
fi

echo "test: building" >&2
swift build --build-tests 2>&1 | tail -n 3
echo "test: swift test" >&2
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
swift test --skip-build 2>&1 | tee "$log" || status=$?
# One plain closing line for CI: "N passed, N failed" from Swift Testing's summary.
total=$(sed -n 's/.*Test run with \([0-9]*\) tests\{0,1\} in .*/\1/p' "$log" | tail -n 1)
failed=$(grep -c '^✘ Test .* failed' "$log" || true)
echo "genidd: $((${total:-0} - failed)) passed, $failed failed"
exit "$status"
