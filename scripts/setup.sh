#!/usr/bin/env bash
# Installs what genidd needs to build and test on Debian 12: the C libraries
# (libmicrohttpd, json-c, libcurl, nettle) and pkg-config. Extra packages can be named as
# arguments (for example: scripts/setup.sh wrk nginx-light). Idempotent: runs
# apt-get only for packages that are missing.
set -euo pipefail

packages=(pkg-config libmicrohttpd-dev libjson-c-dev libcurl4-openssl-dev nettle-dev "$@")
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}" >&2
    sudo_cmd=()
    [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v swift >/dev/null 2>&1; then
    for candidate in /opt/swift/usr/bin /opt/swift/bin; do
        [ -x "$candidate/swift" ] && export PATH="$candidate:$PATH"
    done
fi
command -v swift >/dev/null 2>&1 || {
    echo "setup: the Swift 6 toolchain is not on PATH (expected swift under /opt/swift)" >&2
    exit 1
}
