#!/usr/bin/env bash
# Sets up a fresh Debian machine and runs genidd's whole test suite:
#   1. the format check (swift format lint --strict);
#   2. the self-test of the /dev/sysgenid FUSE emulation (root and /dev/fuse);
#   3. every Swift test: unit tests, and tests that start the real daemon and
#      talk HTTP to it over TCP and Unix sockets;
#   4. the proof on a real VM (scripts/vm-e2e.sh: QEMU restores a real guest);
#   5. the API contract (scripts/check-api.sh: api/openapi.yaml validated, and
#      schemathesis plus direct probes against a live release build);
#   6. the client examples (scripts/check-examples.sh: Python with httpx-sse,
#      Node's eventsource, Go's standard library and sseclient-py against a
#      live daemon, and a Python client generated from the OpenAPI file);
#   7. browsers (scripts/check-browser.sh: Debian's chromium, headless, over
#      the DevTools protocol: the status page, a page on another origin with
#      CORS and resumption across a restart, and the refusal without CORS);
#   8. the packaging (scripts/check-packaging.sh: systemd-analyze verify,
#      hadolint, compose and Kubernetes schemas);
#   9. the link order (scripts/link-order.sh --check: the functions the
#      daemon runs, profiled under valgrind now, are those
#      scripts/link-order.txt places together in release builds);
#  10. the image (scripts/image-smoke.sh: builds docker/Dockerfile and runs
#      it as compose does), only where podman or docker works: elsewhere it
#      is reported as not run, and counts neither as passed nor as failed.
# Set GENIDD_SKIP_VM=1 to skip step 4 (it needs root for apt-get and ~1-3 min).
# Ends with one line "genidd: N passed, N failed" and exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
# libfuse3 and fuse3 for the /dev/sysgenid emulation; python3 sends the forged
# uevent; curl talks to the Unix socket as a second user; promtool (prometheus)
# checks the metrics exposition.
source scripts/setup.sh libfuse3-dev fuse3 gcc python3 curl prometheus

status=0
extra_passed=0
extra_failed=0
stage() { # stage NAME COMMAND...: runs a stage that counts as one test
    echo "test: $1" >&2
    if "${@:2}"; then
        extra_passed=$((extra_passed + 1))
    else
        echo "test: FAILED: $1" >&2
        extra_failed=$((extra_failed + 1))
        status=1
    fi
}

stage "swift format lint --strict" swift format lint --strict --recursive Package.swift Sources Tests
if [ "$(id -u)" -eq 0 ] && [ -e /dev/fuse ]; then
    stage "the sysgenid FUSE emulation's self-test" bash Tests/Fixtures/sysgenid-fuse/selftest.sh
fi

echo "test: building" >&2
swift build --build-tests 2>&1 | tail -n 3
echo "test: swift test" >&2
log=$(mktemp)
trap 'rm -f "$log"' EXIT
swift test --skip-build 2>&1 | tee "$log" || status=1
total=$(sed -n 's/.*Test run with \([0-9]*\) tests\{0,1\} in .*/\1/p' "$log" | tail -n 1)
failed=$(grep -c '^✘ Test .* failed' "$log" || true)
# A skipped test is not a passed one: count and name them.
skipped=$(grep -cE '^[^ ]+ Test .* skipped' "$log" || true)
if [ "${skipped:-0}" -gt 0 ]; then
    echo "test: skipped (not counted as passed):" >&2
    grep -E '^[^ ]+ Test .* skipped' "$log" | sed 's/^/test:   /' >&2
fi

if [ "${GENIDD_SKIP_VM:-0}" != 1 ]; then
    stage "the proof on a real VM (scripts/vm-e2e.sh)" bash scripts/vm-e2e.sh
fi
stage "the API contract (scripts/check-api.sh)" env CHECK_API_BUILD=1 bash scripts/check-api.sh
stage "the client examples (scripts/check-examples.sh)" bash scripts/check-examples.sh
stage "browsers (scripts/check-browser.sh)" bash scripts/check-browser.sh
stage "the packaging (scripts/check-packaging.sh)" bash scripts/check-packaging.sh
stage "the link order (scripts/link-order.sh --check)" bash scripts/link-order.sh --check
engine=""
for candidate in podman docker; do
    if command -v "$candidate" >/dev/null && "$candidate" info >/dev/null 2>&1; then
        engine=$candidate
        break
    fi
done
if [ -n "$engine" ]; then
    stage "the image (scripts/image-smoke.sh $engine)" bash scripts/image-smoke.sh "$engine"
else
    echo "test: NOT RUN: the image (scripts/image-smoke.sh): no container engine works here (podman info, docker info)" >&2
fi

# One plain closing line for CI.
echo "genidd: $((${total:-0} - failed - ${skipped:-0} + extra_passed)) passed, $((failed + extra_failed)) failed, ${skipped:-0} skipped"
exit "$status"
