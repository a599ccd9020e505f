# shellcheck shell=bash
# Sourced by the check scripts (check-api, check-examples, check-browser):
# find_genidd VARIABLE sets `binary` to the genidd executable they test:
# $GENIDD_BIN if set, else the newer of the release and debug builds, else
# (or when the variable named VARIABLE is 1) a fresh debug build. It warns
# when sources changed after the binary it picked. `serve` runs the
# genidd-daemon beside it, which is built with it. Uses the caller's `say`.
find_genidd() {
    local variable=$1 candidate newer
    local force=${!variable:-0}
    set -- # setup.sh reads its packages from the positional parameters
    binary=${GENIDD_BIN:-}
    [ -n "$binary" ] && return 0
    for candidate in .build/release/genidd .build/debug/genidd; do
        if [ -x "$candidate" ] && { [ -z "$binary" ] || [ "$candidate" -nt "$binary" ]; }; then
            binary=$candidate
        fi
    done
    if [ -z "$binary" ] || [ "$force" = 1 ]; then
        say "building genidd (debug)"
        # shellcheck source=scripts/setup.sh
        source scripts/setup.sh
        swift build --product genidd >&2 && swift build --product genidd-daemon >&2
        binary=.build/debug/genidd
    fi
    newer=$(find Sources Package.swift -newer "$binary" -type f | head -n 1)
    [ -z "$newer" ] || say "warning: $binary is older than $newer ($variable=1 rebuilds)"
}
