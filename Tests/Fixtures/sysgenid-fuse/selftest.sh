#!/usr/bin/env bash
# Self-test of the /dev/sysgenid FUSE emulator: builds it, mounts it in a
# temporary directory and proves each emulated semantic with selftest-client
# (blocking read woken by a bump, O_NONBLOCK EAGAIN, write acks, poll/epoll
# wake-ups, outdated counting, WAIT_WATCHERS, FORCE_GEN_UPDATE, a counter
# set backwards, release, the v5 and v7 ioctl ABIs), then stops it with
# SIGTERM while a reader is blocked and checks that it exits 0 and unmounts.
#
#   sudo Tests/Fixtures/sysgenid-fuse/selftest.sh
#
# Needs root and /dev/fuse. Ends with "sysgenid-fuse selftest: N passed, M failed".
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"

if [[ $(id -u) -ne 0 ]]; then
    echo "selftest.sh: must run as root (FUSE mount with allow_other)" >&2
    exit 1
fi
if [[ ! -c /dev/fuse ]]; then
    echo "selftest.sh: /dev/fuse is missing; this machine cannot run FUSE" >&2
    exit 1
fi

work="$(mktemp -d /tmp/sysgenid-fuse-selftest.XXXXXX)"
fuse_pid=""
hold_pid=""
passed=0
failed=0

cleanup() {
    local status=$?
    if [[ -n $hold_pid ]] && kill -0 "$hold_pid" 2>/dev/null; then
        kill -KILL "$hold_pid" 2>/dev/null || true
    fi
    if [[ -n $fuse_pid ]] && kill -0 "$fuse_pid" 2>/dev/null; then
        kill -TERM "$fuse_pid" 2>/dev/null || true
        sleep 1
        kill -KILL "$fuse_pid" 2>/dev/null || true
    fi
    for m in "$work"/mnt-*; do
        if [[ -d $m ]] && mounted "$m"; then
            umount -l "$m" 2>/dev/null || true
        fi
    done
    rm -rf "$work"
    exit "$status"
}
trap cleanup EXIT

mounted() {
    # /proc/self/mountinfo field 5 is the mount point.
    awk -v m="$1" '$5 == m { found = 1 } END { exit !found }' /proc/self/mountinfo
}

check() {
    local description="$1"
    shift
    if "$@"; then
        passed=$((passed + 1))
        echo "ok - $description"
    else
        failed=$((failed + 1))
        echo "not ok - $description"
    fi
}

# Waits up to $2 seconds for command "$@" (from $3 on) to succeed.
wait_for() {
    local seconds="$1"
    shift
    local deadline=$((SECONDS + seconds))
    until "$@"; do
        if ((SECONDS >= deadline)); then
            return 1
        fi
        sleep 0.05
    done
}

status_has() { grep -q -- "$2" "$1/status" 2>/dev/null; }

start_emulator() { # MOUNTPOINT ARGS...
    local mnt="$1"
    shift
    mkdir -p "$mnt"
    "$work/sysgenid-fuse" "$@" "$mnt" 2>>"$work/emulator.log" &
    fuse_pid=$!
    if ! wait_for 10 test -e "$mnt/status"; then
        echo "selftest.sh: the emulator did not mount $mnt" >&2
        cat "$work/emulator.log" >&2
        exit 1
    fi
}

# Sends $2 to the emulator, waits for it, and checks that it exited 0 and
# that $1 is no longer a mount point.
stop_emulator() { # MOUNTPOINT SIGNAL
    local mnt="$1" signal="$2" rc=0
    kill "-$signal" "$fuse_pid"
    local deadline=$((SECONDS + 10))
    while kill -0 "$fuse_pid" 2>/dev/null && ((SECONDS < deadline)); do
        sleep 0.05
    done
    if kill -0 "$fuse_pid" 2>/dev/null; then
        check "emulator exits within 10 s of SIG$signal" false
        return
    fi
    wait "$fuse_pid" || rc=$?
    fuse_pid=""
    check "emulator exits with status 0 on SIG$signal (got $rc)" test "$rc" -eq 0
    check "$mnt is no longer mounted after SIG$signal" eval "! mounted '$mnt'"
}

# Runs the client; folds its "N passed, M failed" into ours.
run_client() { # SUITE MOUNTPOINT [WRAPPER...]
    local suite="$1" mnt="$2" out="$work/client-$1.out" rc=0
    shift 2
    timeout 120 "$@" "$work/selftest-client" "$suite" "$mnt" >"$out" 2>&1 || rc=$?
    cat "$out"
    local summary
    summary="$(sed -n 's/^.*: \([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' "$out" | tail -n 1)"
    if [[ -z $summary ]]; then
        check "client suite $suite ran to completion (exit $rc)" false
        return
    fi
    passed=$((passed + ${summary% *}))
    failed=$((failed + ${summary#* }))
    check "client suite $suite exits 0" test "$rc" -eq 0
}

echo "# building"
"$here/build.sh" "$work/sysgenid-fuse" "$work/selftest-client"

echo "# v4 ABI (magic 0x2d), initial counter 3"
start_emulator "$work/mnt-v4" --initial 3
run_client v4 "$work/mnt-v4"

echo "# unprivileged caller (uid 65534, no capabilities)"
if command -v setpriv >/dev/null; then
    chmod 755 "$work"
    run_client unpriv "$work/mnt-v4" setpriv --reuid=65534 --regid=65534 --clear-groups \
        --inh-caps=-all --bounding-set=-all
else
    check "setpriv (util-linux) is available for the unprivileged checks" false
fi

echo "# clean shutdown with a reader blocked in read()"
"$work/selftest-client" hold "$work/mnt-v4" >"$work/hold.out" 2>&1 &
hold_pid=$!
check "the holding client blocks in read()" wait_for 10 status_has "$work/mnt-v4" "blocked_reads=1"
stop_emulator "$work/mnt-v4" TERM
hold_rc=0
if wait_for 10 eval "! kill -0 $hold_pid 2>/dev/null"; then
    wait "$hold_pid" || hold_rc=$?
else
    hold_rc=99
fi
hold_pid=""
check "the blocked read() fails once the emulator stops ($(tail -n 1 "$work/hold.out"))" \
    test "$hold_rc" -eq 0
check "the mount point is an empty directory again" \
    test -z "$(ls -A "$work/mnt-v4")"

echo "# v5 ABI (magic 0xE4, no GET_OUTDATED_WATCHERS, every handle a watcher)"
start_emulator "$work/mnt-v5" --abi v5 --initial 50
run_client v5 "$work/mnt-v5"
stop_emulator "$work/mnt-v5" INT

echo "# v7 ABI (magic 0xE4, opt-in watcher tracking)"
start_emulator "$work/mnt-v7" --abi v7 --initial 100
run_client v7 "$work/mnt-v7"
stop_emulator "$work/mnt-v7" INT

echo "sysgenid-fuse selftest: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
