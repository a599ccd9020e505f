#!/usr/bin/env bash
# REST throughput: genidd (release) against nginx serving the same JSON as a
# static file, with the same number of worker threads, under the same wrk load,
# back to back on loopback. Prints requests/s for each and the ratio.
#
# usage: bench/http.sh [THREADS] [SECONDS] [CONNECTIONS]    (defaults: 2 10 50)
# Target: ratio >= 1.0.
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${1:-2}
seconds=${2:-10}
connections=${3:-50}
source scripts/setup.sh wrk nginx-light curl

{ swift build -c release --product genidd && swift build -c release --product genidd-daemon; } 2>&1 | tail -n 1
work=$(mktemp -d)
cleanup() {
    if [ -n "${genidd_pid:-}" ]; then kill "$genidd_pid" 2>/dev/null && wait "$genidd_pid" || true; fi
    [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

genidd_port=$((20000 + RANDOM % 20000))
nginx_port=$((genidd_port + 1))
echo 1 >"$work/counter"
.build/release/genidd serve --source "file:$work/counter" --state-dir "$work/state" --no-unix \
    --listen "127.0.0.1:$genidd_port" --threads "$threads" --log-level warning &
genidd_pid=$!
for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$genidd_port/healthz" >/dev/null 2>&1 && break
    sleep 0.05
done

# nginx serves the identical body with the same headers genidd sends (its
# workers run as an unprivileged user, so the files must be world-readable).
chmod 755 "$work"
mkdir -p "$work/www/v1"
curl -sf "http://127.0.0.1:$genidd_port/v1/generation" >"$work/www/v1/generation"
cat >"$work/nginx.conf" <<CONF
worker_processes $threads;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
    types { }
    server {
        listen 127.0.0.1:$nginx_port;
        root $work/www;
        location = /v1/generation {
            default_type application/json;
            add_header Cache-Control no-store;
            etag off;
        }
    }
}
CONF
nginx -c "$work/nginx.conf" -p "$work"
sleep 0.3
curl -sf "http://127.0.0.1:$nginx_port/v1/generation" >/dev/null

run() {
    wrk -t2 -c"$connections" -d"${seconds}s" "$1" | awk '/Requests\/sec/ { print $2 }'
}
echo "wrk -t2 -c$connections -d${seconds}s, $threads worker thread(s) each"
run "http://127.0.0.1:$genidd_port/v1/generation" >/dev/null   # warm-up
genidd_rps=$(run "http://127.0.0.1:$genidd_port/v1/generation")
nginx_rps=$(run "http://127.0.0.1:$nginx_port/v1/generation")
echo "genidd  GET /v1/generation: $genidd_rps requests/s"
echo "nginx   static file:        $nginx_rps requests/s"
awk -v a="$genidd_rps" -v b="$nginx_rps" 'BEGIN { printf "ratio genidd/nginx: %.2f\n", a / b }'
