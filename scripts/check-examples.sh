#!/usr/bin/env bash
# Runs the client examples against a live genidd, the way docs/browsers.md
# tells users to run them:
#   1. examples/python_watch.py (httpx-sse), examples/node_watch.mjs (Node's
#      eventsource package: Debian's node-eventsource), examples/go_watch
#      (Go's standard library only: Debian's golang-go), and sseclient-py
#      (scripts/check-examples/sseclient_check.py) subscribe at once; a
#      counter change follows. Each must print the initial state and then
#      the change, with its <instance>.<seq> id. genidd sends keepalives
#      every 200 ms meanwhile: an empty event would crash the examples' JSON
#      parsing, and the sseclient-py check fails on empty events and on
#      events without an id.
#   2. A Python client generated from api/openapi.yaml by openapi-python-client
#      (scripts/check-examples/generated_client.py) reads the generation
#      anonymously, gets a 304 with If-None-Match, lists the watchers and
#      reads the status.
# The browser example (examples/browser.html) runs in scripts/check-browser.sh.
#
# Python packages are pip-installed into .venv-examples/ (git-ignored). Uses
# .build/release or .build/debug genidd (the newer one), or GENIDD_BIN;
# builds a debug binary when there is none (or CHECK_EXAMPLES_BUILD=1).
# Exit status 0 only when everything passed; the last line is a summary.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
venv=$root/.venv-examples
export PYTHONDONTWRITEBYTECODE=1
# The versions the examples were checked with.
python_packages=(httpx==0.28.1 httpx-sse==0.4.3 sseclient-py==1.9.0 requests==2.34.2
    openapi-python-client==0.29.1 PyYAML==6.0.3)

say() { echo "check-examples: $*" >&2; }
fail() {
    echo "check-examples: FAIL — $*"
    exit 1
}
start_time=$(date +%s)

# --- tools -------------------------------------------------------------------
# Node (the machine's, else Debian's) with Debian's eventsource package, Go.
# shellcheck source=scripts/setup.sh
source scripts/setup.sh nodejs node-eventsource golang-go
export NODE_PATH=/usr/share/nodejs
if ! "$venv/bin/python" -c 'import httpx_sse, sseclient, openapi_python_client, yaml' 2>/dev/null; then
    if ! python3 -c 'import ensurepip' 2>/dev/null; then
        source scripts/setup.sh python3-venv
    fi
    say "installing ${python_packages[*]} into .venv-examples/"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "${python_packages[@]}"
fi

# shellcheck source=scripts/genidd-binary.sh
source scripts/genidd-binary.sh
find_genidd CHECK_EXAMPLES_BUILD

# --- the daemon ----------------------------------------------------------------
tmp=$(mktemp -d /tmp/genidd-check-examples.XXXXXX)
pids=()
cleanup() {
    local pid
    for pid in "${pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo 1 >"$tmp/counter"
"$root/$binary" serve --source "file:$tmp/counter" --state-dir "$tmp/state" --listen 127.0.0.1:0 --no-unix \
    --heartbeat 200ms --log-level notice >"$tmp/genidd.log" 2>&1 &
pids+=($!)
port=""
for _ in $(seq 100); do
    port=$(sed -n 's/.*listening address=127\.0\.0\.1:\([0-9]*\).*/\1/p' "$tmp/genidd.log" | head -n 1)
    grep -q ' ready ' "$tmp/genidd.log" && [ -n "$port" ] && break
    sleep 0.1
done
grep -q ' ready ' "$tmp/genidd.log" || {
    cat "$tmp/genidd.log" >&2
    fail "genidd did not become ready"
}
base=http://127.0.0.1:$port
instance=$("$venv/bin/python" -c 'import json, sys, urllib.request
print(json.load(urllib.request.urlopen(sys.argv[1] + "/v1/generation"))["instance"])' "$base")
say "genidd on $base, instance $instance"

# --- 1. the examples -------------------------------------------------------------
# The Go example is built first (standard library only: no module proxy is asked).
(cd examples/go_watch && GOPROXY=off GOFLAGS=-mod=mod go build -o "$tmp/go_watch" .) ||
    fail "examples/go_watch does not build with the standard library alone"
# Each runs until it printed 2 generation events: the current state, then the change.
declare -A commands=(
    [python]="$venv/bin/python examples/python_watch.py $base 2"
    [node]="node examples/node_watch.mjs $base 2"
    [go]="$tmp/go_watch $base 2"
    [sseclient]="$venv/bin/python scripts/check-examples/sseclient_check.py $base 2"
)
names=(python node go sseclient)
declare -A example_pid
for name in "${names[@]}"; do
    # shellcheck disable=SC2086 # the command line is split on purpose
    ${commands[$name]} >"$tmp/$name.out" 2>"$tmp/$name.err" &
    example_pid[$name]=$!
    pids+=($!)
done
first="seq=1 generation=1 id=$instance.1"
for name in "${names[@]}"; do
    for _ in $(seq 150); do
        grep -qxF "$first" "$tmp/$name.out" && break
        kill -0 "${example_pid[$name]}" 2>/dev/null || break
        sleep 0.1
    done
    grep -qxF "$first" "$tmp/$name.out" || {
        cat "$tmp/$name.out" "$tmp/$name.err" >&2
        fail "$name: did not print the current state ($first)"
    }
done
sleep 1 # five keepalives go by
echo 2 >"$tmp/counter.new" && mv "$tmp/counter.new" "$tmp/counter"
change="seq=2 generation=2 id=$instance.2"
results=()
for name in "${names[@]}"; do
    for _ in $(seq 100); do
        kill -0 "${example_pid[$name]}" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "${example_pid[$name]}" 2>/dev/null; then
        cat "$tmp/$name.out" "$tmp/$name.err" >&2
        fail "$name: still running 10 s after the change"
    fi
    status=0
    wait "${example_pid[$name]}" || status=$?
    if [ "$status" -ne 0 ] || ! grep -qxF "$change" "$tmp/$name.out" || [ "$(wc -l <"$tmp/$name.out")" -ne 2 ]; then
        cat "$tmp/$name.out" "$tmp/$name.err" >&2
        fail "$name: exit $status; expected exactly '$first' then '$change'"
    fi
    say "ok   $name printed the current state and the change"
    results+=("$name")
done

# --- 2. a generated client ---------------------------------------------------------
mkdir "$tmp/generated"
"$venv/bin/python" scripts/check-examples/generated_client.py api/openapi.yaml "$tmp/generated" "$base" >&2 ||
    fail "the generated Python client"

echo "check-examples: PASS — ${results[*]} printed the change; the generated Python client reads, gets 304s and lists watchers ($(($(date +%s) - start_time)) s)"
