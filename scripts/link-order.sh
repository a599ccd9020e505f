#!/usr/bin/env bash
# Writes scripts/link-order.txt: the functions genidd-daemon runs when it
# starts, serves each kind of request and delivers a change, as the linker's
# --symbol-ordering-file (scripts/build-release.sh passes it to lld).
#
# Why: the kernel maps the 64 KiB around every page of code a process touches
# (fault-around), so functions used at start-up and while serving, spread over
# the 4.9 MiB of code the static Swift runtime brings, kept about 4.3 MiB of it
# resident in an idle daemon. Placed together, they keep about 2.2 MiB
# resident (idle RSS 11.4 -> 9.4 MiB, bench/footprint.sh). Functions a later
# change adds are simply not ordered; names that no longer exist are ignored.
#
# How: a release build with symbols (same flags as build-release.sh, without
# -s), run under valgrind's callgrind while curl drives every route over TCP
# and the Unix socket, a change is delivered to an SSE subscriber and a
# long-poll, then SIGTERM; the functions of the executable that ran are
# written, sorted, one mangled name per line.
#
# usage: scripts/link-order.sh [--check]
#   --check   write nothing; fail when fewer than 80% of the functions that
#             run now are in the committed file (regenerate it, then commit).
set -euo pipefail
cd "$(dirname "$0")/.."
check=0
[[ ${1:-} == --check ]] && check=1
say() { echo "link-order: $*" >&2; }
source scripts/setup.sh valgrind curl binutils >/dev/null

work=$(mktemp -d /tmp/genidd-link-order.XXXXXX)
daemon_pid=
cleanup() {
    if [[ -n $daemon_pid ]]; then kill -KILL "$daemon_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'say "failed at line $LINENO: $BASH_COMMAND"' ERR

say "building genidd-daemon with symbols (release, .build-order)"
flags=(-c release --build-path .build-order --static-swift-stdlib -Xswiftc -use-ld=lld
    -Xlinker -z -Xlinker pack-relative-relocs -Xlinker --no-export-dynamic)
swift build "${flags[@]}" --product genidd-daemon >"$work/build.log" 2>&1 || {
    tail -n 30 "$work/build.log" >&2
    say "swift build failed"
    exit 1
}
# valgrind 3.19 cannot read the DWARF 5 the toolchain writes: keep only the
# symbol table, which is all callgrind needs to name functions.
strip --strip-debug -o "$work/genidd-daemon" "$(swift build "${flags[@]}" --show-bin-path)/genidd-daemon"

echo 1 >"$work/counter"
say "running it under callgrind"
valgrind --tool=callgrind --demangle=no --callgrind-out-file="$work/callgrind.out" \
    "$work/genidd-daemon" --source "file:$work/counter" --state-dir "$work/state" \
    --listen 127.0.0.1:0 --unix "$work/genidd.sock" --heartbeat 500ms \
    >"$work/daemon.log" 2>&1 &
daemon_pid=$!
port=
for _ in $(seq 1 300); do
    port=$(sed -n 's/.*listening address=127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/daemon.log" | head -n 1)
    [[ -n $port ]] && curl -sf -m 5 "http://127.0.0.1:$port/healthz" >/dev/null && break
    kill -0 "$daemon_pid" 2>/dev/null || { cat "$work/daemon.log" >&2; say "the daemon exited"; exit 1; }
    sleep 0.2
done
[[ -n $port ]] || { say "the daemon did not start listening within 60 s"; exit 1; }
tcp=(curl -sf -m 10 -H 'Host: localhost')
unix=(curl -sf -m 10 --unix-socket "$work/genidd.sock")
base=http://127.0.0.1:$port
say "driving every route (TCP port $port and the Unix socket)"
# drive BASE CURL...: every read route, a 304, a HEAD and a 404.
drive() {
    local url=$1
    shift
    "$@" "$url/v1/generation" >/dev/null
    "$@" -o /dev/null -H 'If-None-Match: "x.1"' "$url/v1/generation" || true
    "$@" "$url/healthz" "$url/readyz" "$url/metrics" "$url/v1/status" "$url/" "$url/v1/watchers" >/dev/null
    "$@" -I "$url/v1/generation" >/dev/null
    "$@" -o /dev/null "$url/nowhere" || true
}
drive "$base" "${tcp[@]}"
drive http://localhost "${unix[@]}"
"${unix[@]}" -X PUT http://localhost/v1/watchers/link-order >/dev/null
"${tcp[@]}" -N -m 8 "$base/v1/events" >"$work/events" &
events_pid=$!
"${tcp[@]}" "$base/v1/generation?wait=1&timeout=10" >"$work/long-poll" &
poll_pid=$!
sleep 3
echo 2 >"$work/counter"
wait "$poll_pid" || true
"${unix[@]}" -X POST -H 'Content-Type: application/json' -d '{"seq":2}' http://localhost/v1/watchers/link-order/ack >/dev/null
wait "$events_pid" || true
grep -q '"seq":2' "$work/long-poll" || { say "the long-poll did not see the change"; exit 1; }
grep -q '"seq":2' "$work/events" || { say "the event stream did not see the change"; exit 1; }
kill -TERM "$daemon_pid"
wait "$daemon_pid" || true
daemon_pid=

# The callgrind file names each function once, as fn=(id) name or
# cfn=(id) name, and ob= sets the object that following fn= lines belong to.
python3 - "$work/callgrind.out" "$work/genidd-daemon" >"$work/order.txt" <<'EOF'
import re, sys
objects, functions, current, ran = {}, {}, None, set()
for line in open(sys.argv[1], errors="replace"):
    match = re.match(r"^(c?ob)=\((\d+)\)(?: (.*))?$", line.rstrip("\n"))
    if match:
        kind, key, name = match.groups()
        if name:
            objects[key] = name
        if kind == "ob":
            current = objects.get(key)
        continue
    match = re.match(r"^(c?fn)=\((\d+)\)(?: (.*))?$", line.rstrip("\n"))
    if match:
        kind, key, name = match.groups()
        if name:
            functions[key] = name
        if kind == "fn" and current == sys.argv[2] and not functions[key].startswith("0x"):
            ran.add(functions[key])
print("\n".join(sorted(ran)))
EOF
fresh=$(wc -l <"$work/order.txt")
((fresh > 500)) || { say "only $fresh functions ran: the profile is not usable"; exit 1; }
if ((check)); then
    covered=$(comm -12 "$work/order.txt" <(sort scripts/link-order.txt) | wc -l)
    percent=$((100 * covered / fresh))
    say "$covered of the $fresh functions that run now are in scripts/link-order.txt ($percent%)"
    if ((percent < 80)); then
        say "FAIL: the order is stale; run scripts/link-order.sh and commit scripts/link-order.txt"
        exit 1
    fi
    say "PASS"
else
    cp "$work/order.txt" scripts/link-order.txt
    say "wrote scripts/link-order.txt ($fresh functions)"
fi
