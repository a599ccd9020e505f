#!/usr/bin/env bash
# Checks genidd with a real browser: Debian's chromium, headless, driven over
# the DevTools protocol by scripts/check-browser/browser_check.py:
#   (a) the status page (GET /) shows a change within 1 s;
#   (b) examples/browser.html, served from another origin that genidd allows
#       with --cors-origin, receives a change, reads the ETag and gets a 304
#       through a preflighted fetch, and resumes with Last-Event-ID after
#       genidd restarts (same state directory and port);
#   (c) the same page is refused by a genidd without --cors-origin.
#
# Installs chromium (apt, through scripts/setup.sh) and websocket-client into
# .venv-browser/ (git-ignored). Uses .build/release or .build/debug genidd
# (the newer one), or GENIDD_BIN; builds a debug binary when there is none
# (or CHECK_BROWSER_BUILD=1). Exit status 0 only when every check passed; the
# last line is a summary with the time taken.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
venv=$root/.venv-browser
export PYTHONDONTWRITEBYTECODE=1
start_time=$(date +%s)
say() { echo "check-browser: $*" >&2; }

# shellcheck source=scripts/setup.sh
source scripts/setup.sh chromium
if ! "$venv/bin/python" -c 'import websocket' 2>/dev/null; then
    if ! python3 -c 'import ensurepip' 2>/dev/null; then
        source scripts/setup.sh python3-venv
    fi
    say "installing websocket-client into .venv-browser/"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check websocket-client==1.9.2
fi
installed_time=$(date +%s)

# shellcheck source=scripts/genidd-binary.sh
source scripts/genidd-binary.sh
find_genidd CHECK_BROWSER_BUILD

work=$(mktemp -d /tmp/genidd-check-browser.XXXXXX)
trap 'rm -rf "$work"' EXIT
status=0
"$venv/bin/python" scripts/check-browser/browser_check.py "$root/$binary" "$root/examples" "$work" || status=$?
took="$(($(date +%s) - start_time)) s, of which $((installed_time - start_time)) s installing"
if [ "$status" -ne 0 ]; then
    echo "check-browser: FAIL — a browser check failed (see above; $took)"
    exit 1
fi
echo "check-browser: PASS — status page live within 1 s, CORS page resumes with Last-Event-ID, refused without CORS ($took)"
