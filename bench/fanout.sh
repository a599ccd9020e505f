#!/usr/bin/env bash
# SSE fan-out benchmark: N subscribers (default: 1000 then 10000) on one
# genidd release build, one change, delivery latency per subscriber, daemon
# RSS per idle subscriber, and daemon CPU while idle (no heartbeat due).
#
# usage: [BENCH_THREADS=2] bench/fanout.sh [N...]
# Targets: 10,000 subscribers with p99 <= 100 ms, <= 12 KiB RSS per idle
# subscriber, 0 ms CPU while idle.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh gcc curl
counts=("$@")
((${#counts[@]})) || counts=(1000 10000)

{ swift build -c release --product genidd && swift build -c release --product genidd-daemon; } 2>&1 | tail -n 1
work=$(mktemp -d)
trap 'kill "${pid:-}" 2>/dev/null && wait "${pid:-}"; rm -rf "$work"' EXIT
gcc -O2 -Wall -o "$work/fanout" bench/fanout.c

for n in "${counts[@]}"; do
    echo 1 >"$work/counter"
    rm -rf "$work/state"
    port=$((20000 + RANDOM % 20000))
    .build/release/genidd serve --source "file:$work/counter" --state-dir "$work/state" --no-unix \
        --listen "127.0.0.1:$port" --max-connections $((n + 100)) --max-connections-per-peer $((n + 100)) --heartbeat 60s --threads "${BENCH_THREADS:-2}" --log-level warning &
    pid=$!
    for _ in $(seq 100); do
        curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
        sleep 0.05
    done
    echo "== $n subscribers"
    "$work/fanout" "$port" "$n" "$work/counter" 2 2 "$pid" 5
    kill "$pid"
    wait "$pid" || true
done
