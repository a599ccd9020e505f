#!/usr/bin/env bash
# Builds the /dev/sysgenid FUSE emulator (and, if asked, its self-test client).
#
#   Tests/Fixtures/sysgenid-fuse/build.sh OUTPUT [CLIENT_OUTPUT]
#
# OUTPUT        where to put the sysgenid-fuse binary
# CLIENT_OUTPUT where to put selftest-client (optional)
#
# Installs Debian's libfuse3-dev and fuse3 first when they are missing (needs
# root; runs `apt-get update` once before installing).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"

if [[ $# -lt 1 || $# -gt 2 ]]; then
    echo "usage: $0 OUTPUT [CLIENT_OUTPUT]" >&2
    exit 2
fi
output="$1"
client_output="${2:-}"

installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

missing=()
for package in libfuse3-dev fuse3 pkg-config gcc; do
    installed "$package" || missing+=("$package")
done
if [[ ${#missing[@]} -gt 0 ]]; then
    if [[ $(id -u) -ne 0 ]]; then
        echo "build.sh: missing packages ${missing[*]}; run as root or install them" >&2
        exit 1
    fi
    echo "build.sh: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

read -r -a fuse_cflags <<<"$(pkg-config --cflags fuse3)"
read -r -a fuse_libs <<<"$(pkg-config --libs fuse3)"
cflags=(-std=gnu11 -O2 -g -Wall -Wextra -Werror -I"$repo/Sources/CGeniddSys")

mkdir -p "$(dirname "$output")"
gcc "${cflags[@]}" "${fuse_cflags[@]}" "$here/sysgenid-fuse.c" -o "$output" "${fuse_libs[@]}"
echo "build.sh: built $output" >&2

if [[ -n $client_output ]]; then
    mkdir -p "$(dirname "$client_output")"
    gcc "${cflags[@]}" "$here/selftest-client.c" -o "$client_output" -pthread
    echo "build.sh: built $client_output" >&2
fi
