#!/usr/bin/env bash
# Footprint: what a genidd process costs a small VM, next to nginx-light
# serving the same JSON as a static file. For each process it prints:
#   binary      the executable's size on disk (genidd: scripts/build-release.sh,
#               static Swift runtime, stripped);
#   libraries   the total size of the shared libraries it maps, from
#               /proc/PID/maps, leaving out glibc's own (libc, libm, ld-linux,
#               libpthread, libdl, librt) and the vdso;
#   idle RSS    VmRSS (RssAnon in brackets: the part no other process shares),
#               1 s after it answers, with no client;
#   1,000 subs  VmRSS with 1,000 clients connected: SSE subscribers on
#               /v1/events for genidd, keep-alive connections that fetched
#               /v1/generation for nginx (which has no event stream).
# nginx runs one worker (master + worker counted together); genidd runs as
# shipped. Also measured: `genidd watch` (the client that follows events),
# and the image when scripts/image-smoke.sh has built it.
#
# usage: bench/footprint.sh [SUBSCRIBERS]   (default 1000)
# Targets: binary + libraries <= 25 MiB, idle RSS <= 10 MiB, image <= 100 MiB.
set -euo pipefail
cd "$(dirname "$0")/.."
subscribers=${1:-1000}
source scripts/setup.sh nginx-light curl python3
ulimit -n $((subscribers * 2 + 256))

bash scripts/build-release.sh .build/genidd-release 2>&1 | tail -n 1
# `genidd serve` becomes genidd-daemon (execv); `genidd watch` stays genidd.
binary=$PWD/.build/genidd-release/genidd
daemon_binary=$PWD/.build/genidd-release/genidd-daemon
work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
kib_to_mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
status_kib() { # status_kib FIELD PID...: the sum of a /proc/PID/status field
    local field=$1 total=0 pid value
    shift
    for pid in "$@"; do
        value=$(awk -v f="$field:" '$1 == f { print $2 }' "/proc/$pid/status")
        total=$((total + value))
    done
    echo "$total"
}
# libraries PID: "SIZE PATH" for each shared library the process maps, glibc's left out.
libraries() {
    awk '$6 ~ /\.so(\.[0-9.]+)?$/ { print $6 }' "/proc/$1/maps" | sort -u |
        grep -vE '/(libc|libm|libpthread|libdl|librt)\.so|/ld-linux' |
        while read -r path; do echo "$(stat -L -c %s "$path") $path"; done | sort -n
}
library_bytes() { libraries "$1" | awk '{ total += $1 } END { print total + 0 }'; }
wait_http() { # wait_http URL [CURL OPTION...]
    for _ in $(seq 200); do
        curl -sf "${@:2}" "$1" >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    echo "footprint: $1 does not answer" >&2
    return 1
}

# hold_connections PORT PATH N: N clients that each send GET PATH (keep-alive)
# and wait for the first bytes of the answer; prints "ready" once all have,
# then holds them until killed.
cat >"$work/hold.py" <<'EOF'
import selectors, socket, sys, time
port, path, count = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
request = f"GET {path} HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n\r\n".encode()
selector, waiting = selectors.DefaultSelector(), set()
for _ in range(count):
    client = socket.create_connection(("127.0.0.1", port))
    client.sendall(request)
    selector.register(client, selectors.EVENT_READ)
    waiting.add(client)
deadline = time.monotonic() + 30
while waiting and time.monotonic() < deadline:
    for key, _ in selector.select(timeout=1):
        if key.fileobj.recv(4096):
            selector.unregister(key.fileobj)
            waiting.discard(key.fileobj)
if waiting:
    sys.exit(f"hold: {len(waiting)} of {count} connections got no answer")
print("ready", flush=True)
time.sleep(3600)
EOF
hold() { # hold PORT PATH: starts the clients, returns once they are all answered
    python3 "$work/hold.py" "$1" "$2" "$subscribers" >"$work/hold.out" &
    holder=$!
    pids+=("$holder")
    for _ in $(seq 600); do
        grep -q ready "$work/hold.out" && return 0
        kill -0 "$holder" 2>/dev/null || break
        sleep 0.1
    done
    echo "footprint: the $subscribers clients did not all connect" >&2
    return 1
}

rows=()
row() { # row NAME BINARY_BYTES LIBRARY_BYTES IDLE_KIB IDLE_ANON_KIB LOADED_KIB
    local both=$(($2 + $3))
    rows+=("$(printf '| %-13s | %8s | %9s | %8s | %16s | %10s |' "$1" "$(mib "$2")" "$(mib "$3")" \
        "$(mib "$both")" "$(kib_to_mib "$4") ($(kib_to_mib "$5"))" "${6:+$(kib_to_mib "$6")}")")
}

# --- genidd serve ---------------------------------------------------------------
port=$((20000 + RANDOM % 20000))
echo 1 >"$work/counter"
"$binary" serve --source "file:$work/counter" --state-dir "$work/state" --listen "127.0.0.1:$port" \
    --max-connections $((subscribers + 100)) --max-connections-per-peer $((subscribers + 100)) --log-level warning &
genidd=$!
pids+=("$genidd")
wait_http "http://127.0.0.1:$port/readyz"
sleep 1
libraries "$genidd" >"$work/genidd.libs"
genidd_libs=$(library_bytes "$genidd")
genidd_idle=$(status_kib VmRSS "$genidd")
genidd_anon=$(status_kib RssAnon "$genidd")

# --- genidd watch (idle, following the stream) ---------------------------------
"$binary" watch --unix "$work/state/genidd.sock" >/dev/null 2>&1 &
watcher=$!
pids+=("$watcher")
sleep 1.5
libraries "$watcher" >"$work/watch.libs"
watch_libs=$(library_bytes "$watcher")
watch_idle=$(status_kib VmRSS "$watcher")
watch_anon=$(status_kib RssAnon "$watcher")
kill "$watcher"

hold "$port" /v1/events
sleep 1
genidd_loaded=$(status_kib VmRSS "$genidd")
kill "$holder" "$genidd"
wait "$holder" "$genidd" 2>/dev/null || true
row "genidd serve" "$(stat -c %s "$daemon_binary")" "$genidd_libs" "$genidd_idle" "$genidd_anon" "$genidd_loaded"
row "genidd watch" "$(stat -c %s "$binary")" "$watch_libs" "$watch_idle" "$watch_anon" ""

# --- nginx-light, the reference ---------------------------------------------------
nginx_port=$((port + 1))
chmod 755 "$work"
mkdir -p "$work/www/v1"
echo '{"generation":1,"seq":1,"uuid_hash":null,"source":"file","stale":false}' >"$work/www/v1/generation"
cat >"$work/nginx.conf" <<CONF
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections $((subscribers + 100)); }
http {
    access_log off;
    keepalive_timeout 3600s;
    types { }
    server {
        listen 127.0.0.1:$nginx_port;
        root $work/www;
        location = /v1/generation { default_type application/json; }
    }
}
CONF
nginx -c "$work/nginx.conf" -p "$work"
wait_http "http://127.0.0.1:$nginx_port/v1/generation"
sleep 1
master=$(cat "$work/nginx.pid")
mapfile -t nginx_pids < <(echo "$master"; pgrep -P "$master")
nginx_libs=$(library_bytes "$master")
nginx_idle=$(status_kib VmRSS "${nginx_pids[@]}")
nginx_anon=$(status_kib RssAnon "${nginx_pids[@]}")
hold "$nginx_port" /v1/generation
sleep 1
nginx_loaded=$(status_kib VmRSS "${nginx_pids[@]}")
kill "$holder"
row "nginx-light" "$(stat -L -c %s "$(command -v nginx)")" "$nginx_libs" "$nginx_idle" "$nginx_anon" "$nginx_loaded"

# --- table ---------------------------------------------------------------------------
echo
echo "Footprint (MiB; RSS as VmRSS, RssAnon in brackets; $subscribers clients: SSE subscribers for genidd, keep-alive connections for nginx)"
echo
printf '| %-13s | %8s | %9s | %8s | %16s | %10s |\n' process binary libraries "bin+libs" "idle RSS (anon)" "$subscribers subs"
echo "|---------------|---------:|----------:|---------:|-----------------:|-----------:|"
printf '%s\n' "${rows[@]}"
echo
awk -v gb="$(($(stat -c %s "$daemon_binary") + genidd_libs))" -v nb="$(($(stat -L -c %s "$(command -v nginx)") + nginx_libs))" \
    -v gi="$genidd_idle" -v ni="$nginx_idle" -v gl="$genidd_loaded" -v nl="$nginx_loaded" 'BEGIN {
    printf "genidd serve / nginx-light: binary+libraries %.1fx, idle RSS %.1fx, RSS with clients %.1fx\n", gb / nb, gi / ni, gl / nl
}'
image=""
for engine in podman docker; do
    if command -v "$engine" >/dev/null && size=$("$engine" image inspect --format '{{.Size}}' localhost/genidd:smoke 2>/dev/null); then
        image="image localhost/genidd:smoke ($engine): $(mib "$size") MiB"
        break
    fi
done
echo "${image:-image: not measured here (scripts/image-smoke.sh builds localhost/genidd:smoke)}"
check() { awk -v v="$2" -v t="$3" 'BEGIN { exit !(v <= t) }' && echo "  met:     $1 $2 <= $3" || echo "  NOT MET: $1 $2 > $3"; }
echo "targets:"
check "genidd serve binary+libraries (MiB)" "$(mib $(($(stat -c %s "$daemon_binary") + genidd_libs)))" 25
check "genidd serve idle RSS (MiB)" "$(kib_to_mib "$genidd_idle")" 10
echo
for name in genidd watch; do
    file=$work/genidd.libs
    [ "$name" = watch ] && file=$work/watch.libs
    [ "$name" = genidd ] && name=serve
    echo "shared libraries of genidd $name (KiB, glibc left out):"
    awk '{ printf "  %7.0f %s\n", $1 / 1024, $2 }' "$file" | sort -rn
done
