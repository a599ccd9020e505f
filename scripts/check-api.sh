#!/usr/bin/env bash
# Checks the API contract, api/openapi.yaml, against the daemon:
#   1. validates the spec (openapi-spec-validator) and that it lists exactly
#      the routes and methods of Sources/GeniddServer/API/Route.swift;
#   2. starts genidd on a free loopback port (port 0, read back from its log)
#      with a file: counter in a temp dir, both bearer tokens (the read token
#      also as access_token), the caller's uid as admin Unix peer, one CORS
#      origin, and a second genidd with --max-connections 1;
#   3. runs direct probes (api/check/probes.py: SSE framing, CORS, access_token,
#      the status page, long-poll timing, ETag, Unix peer credentials, limits,
#      known daemon bugs);
#   4. runs schemathesis with every check against the first daemon
#      (api/check/schemathesis.toml, hooks in api/check/genidd_hooks.py).
#
# Tools are pip-installed into .venv-api/ (git-ignored). Uses .build/release
# or .build/debug genidd (the newer one), or GENIDD_BIN; builds a debug binary
# only when there is none (or CHECK_API_BUILD=1).
#
# Environment: CHECK_API_SEED (default fixed; "random" for a new one each run),
# CHECK_API_EXAMPLES (per operation, default 100), GENIDD_CHECK_STRICT=0
# (tolerate the daemon bugs listed as known in api/check; by default they fail the run).
#
# Exit status 0 only when everything passed; the last line is a summary.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

schemathesis_version=4.32.5
validator_version=0.9.0
venv=$root/.venv-api
seed=${CHECK_API_SEED:-1123}
examples=${CHECK_API_EXAMPLES:-100}
export GENIDD_CHECK_STRICT=${GENIDD_CHECK_STRICT:-1}
export PYTHONDONTWRITEBYTECODE=1

say() { echo "check-api: $*" >&2; }
summary_fail() {
    echo "check-api: FAIL — $*"
    exit 1
}

# --- tools -------------------------------------------------------------------
tools_ok() {
    [ -x "$venv/bin/python" ] &&
        "$venv/bin/python" - "$schemathesis_version" "$validator_version" <<'EOF' 2>/dev/null
import sys
from importlib.metadata import version
sys.exit(0 if (version("schemathesis"), version("openapi-spec-validator")) == tuple(sys.argv[1:3]) else 1)
EOF
}
if ! tools_ok; then
    if ! python3 -c 'import ensurepip' 2>/dev/null; then
        say "installing python3-venv"
        sudo_cmd=()
        [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
        "${sudo_cmd[@]}" apt-get update -qq
        DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
    fi
    say "installing schemathesis $schemathesis_version and openapi-spec-validator $validator_version into .venv-api/"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check \
        "schemathesis==$schemathesis_version" "openapi-spec-validator==$validator_version"
fi

# --- 1. the spec -----------------------------------------------------------------
say "validating api/openapi.yaml"
"$venv/bin/openapi-spec-validator" api/openapi.yaml || summary_fail "api/openapi.yaml is not a valid OpenAPI document"
"$venv/bin/python" - api/openapi.yaml Sources/GeniddServer/API/Route.swift <<'EOF' || summary_fail "the spec and Route.swift disagree"
import re, sys, yaml
spec = yaml.safe_load(open(sys.argv[1]))
source = open(sys.argv[2]).read()
templates = re.findall(r'return "(/[^"]*)"', source[source.index("var template: String"):source.index("var allowedMethods")])
# Methods per route, from `allowedMethods`: explicit cases, then the `default:` for the others.
body = source[source.index("var allowedMethods"):source.index("var access")]
default = set(re.findall(r'"(\w+)"', re.search(r"default: return \[([^\]]*)\]", body).group(1)))
allowed = {t: set(default) for t in templates}
case_for = {"bump": "/v1/generation/bump", "watcherAcknowledgement": "/v1/watchers/{name}/ack", "watcher": "/v1/watchers/{name}"}
for cases, methods in re.findall(r"case ([^:]+): return \[([^\]]*)\]", body):
    for case in re.findall(r"\.(\w+)", cases):
        allowed[case_for[case]] = set(re.findall(r'"(\w+)"', methods))
documented = {p: {m.upper() for m in v if m in ("get", "head", "put", "post", "delete", "patch", "options", "trace")} for p, v in spec["paths"].items()}
pending = {"/metrics"}  # in the spec before the daemon serves it
problems = []
for path in sorted(set(allowed) | set(documented)):
    if path in pending and path not in allowed:
        continue
    if allowed.get(path) != documented.get(path):
        problems.append(f"{path}: Route.swift {sorted(allowed.get(path, []))}, spec {sorted(documented.get(path, []))}")
for line in problems:
    print("check-api: route mismatch:", line, file=sys.stderr)
if not problems:
    print(f"check-api: the {len(templates)} routes of Route.swift and their methods match the spec", file=sys.stderr)
sys.exit(1 if problems else 0)
EOF

# --- 2. the daemons ----------------------------------------------------------------
# shellcheck source=scripts/genidd-binary.sh
source scripts/genidd-binary.sh
find_genidd CHECK_API_BUILD
say "daemon: $binary"

tmp=$(mktemp -d /tmp/genidd-check-api.XXXXXX)
pids=()
cleanup() {
    local pid
    for pid in "${pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        for _ in $(seq 30); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$tmp/admin.token"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$tmp/read.token"
chmod 600 "$tmp/admin.token" "$tmp/read.token"
echo 1 >"$tmp/counter"
echo 1 >"$tmp/counter-limited"

# start_daemon NAME ARGS...: starts genidd, waits (10 s at most) for "ready",
# sets started_port. (Not run in a subshell: the cleanup needs every pid.)
start_daemon() {
    local name=$1
    shift
    mkdir -p "$tmp/$name"
    "$root/$binary" serve --listen 127.0.0.1:0 --state-dir "$tmp/$name" --unix "$tmp/$name/genidd.sock" \
        --log-level notice "$@" >"$tmp/$name.log" 2>&1 &
    pids+=($!)
    local port=""
    for _ in $(seq 100); do
        if grep -q ' ready ' "$tmp/$name.log"; then
            port=$(sed -n 's/.*listening address=127\.0\.0\.1:\([0-9]*\).*/\1/p' "$tmp/$name.log" | head -n 1)
            break
        fi
        kill -0 "${pids[-1]}" 2>/dev/null || break
        sleep 0.1
    done
    if [ -z "$port" ]; then
        cat "$tmp/$name.log" >&2
        summary_fail "genidd ($name) did not become ready within 10 s"
    fi
    started_port=$port
}
start_daemon main --source "file:$tmp/counter" --heartbeat 1s \
    --admin-token-file "$tmp/admin.token" --read-token-file "$tmp/read.token" --admin-uid "$(id -u)" \
    --read-token-query --cors-origin http://localhost:9999
port=$started_port
start_daemon limited --source "file:$tmp/counter-limited" --max-connections 1
limited_port=$started_port
base=http://127.0.0.1:$port
say "genidd listening on $base (and $tmp/main/genidd.sock); limited one on port $limited_port"

# --- 3. probes ---------------------------------------------------------------------
say "direct probes"
probes_status=0
"$venv/bin/python" api/check/probes.py "$base" "$tmp/main/genidd.sock" "http://127.0.0.1:$limited_port" \
    "$(cat "$tmp/read.token")" "$(cat "$tmp/admin.token")" | tee "$tmp/probes.txt" || probes_status=$?
known_probes=$(grep -c '^  KNOWN' "$tmp/probes.txt" || true)

# A probe saturates the counter (a known bug); start schemathesis from a small
# one again. Going backwards is a change to genidd, so wait for the new seq.
# http_status PATH [BODY_FILE]: GET with the read token; prints the status code.
http_status() {
    "$venv/bin/python" - "$base$1" "$(cat "$tmp/read.token")" "${2:-/dev/null}" <<'EOF'
import sys, urllib.error, urllib.request
request = urllib.request.Request(sys.argv[1], headers={"Authorization": "Bearer " + sys.argv[2]})
try:
    with urllib.request.urlopen(request, timeout=5) as response:
        status, body = response.status, response.read()
except urllib.error.HTTPError as error:
    status, body = error.code, error.read()
open(sys.argv[3], "wb").write(body)
print(status)
EOF
}
http_status /v1/generation "$tmp/before.json" >/dev/null
echo 7 >"$tmp/counter.new" && mv "$tmp/counter.new" "$tmp/counter"
for _ in $(seq 50); do
    http_status /v1/generation "$tmp/after.json" >/dev/null
    cmp -s "$tmp/before.json" "$tmp/after.json" || break
    sleep 0.1
done

# --- 4. schemathesis -----------------------------------------------------------------
excluded=()
metrics_status=$(http_status /metrics)
metrics_note="tested"
if [ "$metrics_status" = 404 ]; then
    excluded+=(--exclude-operation-id getMetrics --exclude-operation-id headMetrics)
    metrics_note="skipped (not served yet)"
    say "/metrics answers 404: not implemented yet, left out of the run"
fi
seed_args=()
[ "$seed" = random ] || seed_args=(--seed "$seed")
say "schemathesis: all checks, $examples examples per operation, seed $seed"
schemathesis_status=0
(
    cd "$tmp"
    GENIDD_CHECK_KNOWN_LOG="$tmp/known.jsonl" SCHEMATHESIS_HOOKS=genidd_hooks PYTHONPATH="$root/api/check" \
        timeout 170 "$venv/bin/schemathesis" --config-file "$root/api/check/schemathesis.toml" --no-color \
        run "$root/api/openapi.yaml" --url "$base" \
        -H "Authorization: Bearer $(cat "$tmp/admin.token")" \
        --checks all --max-examples "$examples" "${seed_args[@]}" "${excluded[@]}"
) | tee "$tmp/schemathesis.txt" || schemathesis_status=$?
known_drops=0
[ ! -s "$tmp/known.jsonl" ] || known_drops=$(wc -l <"$tmp/known.jsonl")
if [ "$known_drops" -gt 0 ]; then
    say "schemathesis results dropped as known daemon bugs:"
    "$venv/bin/python" -c '
import collections, json, sys
counts = collections.Counter((r["known"], r["operation"]) for r in map(json.loads, open(sys.argv[1])))
for (known, operation), n in sorted(counts.items()):
    print(f"  {known}: {operation} x{n}", file=sys.stderr)' "$tmp/known.jsonl"
fi
st_line=$(grep -E '(No issues found|failures?|errors?).* in [0-9.]+s' "$tmp/schemathesis.txt" | tail -n 1 | tr -d '=' | sed 's/^ *//; s/ *$//')
[ -n "$st_line" ] || st_line="no summary (exit $schemathesis_status)"

used_seed=$(sed -n 's/^Seed: \([0-9]*\).*/\1/p' "$tmp/schemathesis.txt" | tail -n 1)
result="spec valid; probes: $(tail -n 1 "$tmp/probes.txt" | sed 's/^probes: //'); schemathesis: $st_line (seed ${used_seed:-$seed}, $examples examples/operation, $known_drops known-bug drops); /metrics $metrics_note"
if [ "$probes_status" -ne 0 ] || [ "$schemathesis_status" -ne 0 ]; then
    summary_fail "$result"
fi
echo "check-api: PASS — $result$([ "$known_probes" -gt 0 ] && echo "; $known_probes known daemon bugs tolerated (GENIDD_CHECK_STRICT=1 fails on them)")"
