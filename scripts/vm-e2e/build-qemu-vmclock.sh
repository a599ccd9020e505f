#!/usr/bin/env bash
# Builds QEMU's x86_64 system emulator from Debian's source package with the
# VMClock generation-counter and notification patches in qemu-vmclock/
# applied, for scripts/vm-e2e.sh --vmclock-counter.
#
# Usage: build-qemu-vmclock.sh SID_ROOT CACHE_DIR
#   SID_ROOT   the debootstrap'ed Debian sid root of vm-e2e.sh --vmclock (must exist)
#   CACHE_DIR  vm-e2e.sh's cache; it is bind-mounted at the same path in the root
#
# Everything happens in SID_ROOT (the binary links against sid's libraries and
# runs there): a deb-src entry, a few build dependencies, `apt-get source
# qemu`, Debian's own patches (dpkg-source -x), then ours with `patch -F0`,
# configure for x86_64-softmmu only (TCG, slirp; firmware from sid's
# qemu-system-data) and `ninja qemu-system-x86_64` under nice -n 15, -j2.
#
# Cached in CACHE_DIR/qemu-vmclock/KEY, KEY being a hash of the patch files and
# this script: a change to either rebuilds. The downloaded Debian
# source stays in CACHE_DIR/qemu-vmclock/debsrc (later builds are offline).
# Progress goes to stderr; the last line on stdout is the binary's path.
set -euo pipefail

[[ $# -eq 2 ]] || {
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
}
root=$(realpath "$1")
cache=$(realpath "$2")
here=$(cd "$(dirname "$0")" && pwd)
patches=("$here"/qemu-vmclock/*.patch)
[[ -e $root/.e2e-ready ]] || {
    echo "build-qemu-vmclock: $root is not a prepared sid root (run scripts/vm-e2e.sh --vmclock once)" >&2
    exit 1
}
if [[ ! -e ${patches[0]} ]]; then
    echo "build-qemu-vmclock: no patches in $here/qemu-vmclock" >&2
    exit 1
fi

say() { echo "build-qemu-vmclock: $*" >&2; }
# in_root COMMAND...: runs COMMAND in the sid root, the cache bind-mounted at
# its own path, in a private mount namespace (nothing stays mounted).
in_root() {
    unshare --mount --propagation private sh -c \
        'root=$1 cache=$2 && shift 2 && mount --bind "$cache" "$root$cache" &&
         mount -t proc proc "$root/proc" && exec chroot "$root" "$@"' \
        sh "$root" "$cache" "$@"
}

key=$(cat "${patches[@]}" "$0" | sha256sum | cut -c1-16)
base=$cache/qemu-vmclock
out=$base/$key
binary=$out/qemu-system-x86_64
mkdir -p "$base" "$root$cache"

# A cached build is used while it still runs in the root (sid's libraries may
# have moved on if the root was rebuilt).
if [[ -e $out/.complete ]] && in_root "$binary" -device vmclock,help >/dev/null 2>&1; then
    say "cached: $(in_root "$binary" --version | head -n 1) ($out)"
    echo "$binary"
    exit 0
fi

start=$(date +%s)
log=$base/build-$key.log
: >"$log"
step() {
    say "$1 ($(($(date +%s) - start)) s)"
    echo "=== $1" >>"$log"
}

# Build dependencies: only what x86_64-softmmu with TCG and slirp needs (the
# source package's full Build-Depends would pull in hundreds of packages).
step "build dependencies in the sid root"
echo "deb-src http://deb.debian.org/debian sid main" >"$root/etc/apt/sources.list.d/genidd-qemu-src.list"
in_root sh -c 'apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        dpkg-dev gcc make patch pkgconf ninja-build meson python3-venv python3-distlib \
        flex bison libglib2.0-dev zlib1g-dev libslirp-dev xz-utils' >>"$log" 2>&1 || {
    say "installing build dependencies failed (log: $log)"
    exit 1
}

work=$base/work-$key
# unpack_and_patch DSC: unpacks Debian's source (Debian's own patches applied)
# into $work/src and applies ours; false when one of ours does not apply.
unpack_and_patch() {
    rm -rf "$work"
    mkdir -p "$work"
    step "unpacking $(basename "$1") (Debian's patches applied)"
    in_root dpkg-source -x "$1" "$work/src" >>"$log" 2>&1 || {
        say "dpkg-source -x $(basename "$1") failed (log: $log)"
        return 1
    }
    local patch
    for patch in "${patches[@]}"; do
        step "applying $(basename "$patch")"
        # No fuzz: each patch must apply exactly where it was written for.
        in_root patch -d "$work/src" -p1 -F0 --no-backup-if-mismatch <"$patch" >>"$log" 2>&1 || {
            say "$(basename "$patch") does not apply to $(basename "$1" .dsc)"
            return 1
        }
    done
}

# Debian's source package, fetched once into $debsrc. sid's pool keeps the
# sources of only some versions, and the patches apply to only some: try the
# installed qemu-system-x86's version first, then the others newest first.
debsrc=$base/debsrc
dsc=$(compgen -G "$debsrc/qemu_*.dsc" | head -n 1 || true)
if [[ -z $dsc ]] || ! unpack_and_patch "$dsc"; then
    rm -rf "$debsrc"
    installed=$(in_root dpkg-query -W -f='${Version}' qemu-system-x86)
    mapfile -t versions < <(
        echo "$installed"
        in_root apt-cache showsrc qemu | sed -n 's/^Version: //p' | sort -u -r -V | grep -vxF "$installed"
    )
    for version in "${versions[@]}"; do
        rm -rf "$debsrc.tmp"
        mkdir -p "$debsrc.tmp"
        step "apt-get source qemu=$version"
        in_root sh -c 'cd "$1" && apt-get source -qq --download-only -o APT::Sandbox::User=root "qemu=$2"' \
            sh "$debsrc.tmp" "$version" >>"$log" 2>&1 || continue
        if unpack_and_patch "$(compgen -G "$debsrc.tmp/qemu_*.dsc" | head -n 1)"; then
            mv "$debsrc.tmp" "$debsrc"
            break
        fi
    done
    rm -rf "$debsrc.tmp"
    [[ -d $debsrc ]] || {
        say "no version of Debian's qemu source could be fetched and patched (tried ${versions[*]}; log: $log)"
        exit 1
    }
fi

step "configure (x86_64-softmmu, TCG, slirp)"
in_root sh -c 'mkdir -p "$1/build" && cd "$1/build" && exec nice -n 15 ../src/configure \
    --target-list=x86_64-softmmu --without-default-features --enable-tcg --enable-slirp \
    --disable-docs --disable-install-blobs --disable-download --disable-werror \
    --firmwarepath=/usr/share/qemu:/usr/share/seabios \
    --with-pkgversion="genidd vm-e2e, VMClock RFC patches"' sh "$work" >>"$log" 2>&1 || {
    say "configure failed (log: $log)"
    exit 1
}
step "ninja qemu-system-x86_64 (nice -n 15, -j2; about 1600 steps)"
in_root sh -c 'cd "$1/build" && exec nice -n 15 ninja -j2 qemu-system-x86_64' sh "$work" >>"$log" 2>&1 || {
    tail -n 30 "$log" >&2
    say "the build failed (log: $log)"
    exit 1
}

rm -rf "$out"
mkdir -p "$out"
in_root strip -o "$binary" "$work/build/qemu-system-x86_64"
basename "$dsc" .dsc >"$out/source"
(cd "$here/qemu-vmclock" && sha256sum ./*.patch) >"$out/patches.sha256"
echo "$(($(date +%s) - start))" >"$out/build-seconds"
in_root "$binary" -device vmclock,help >/dev/null || {
    say "the built QEMU does not run in the sid root"
    exit 1
}
touch "$out/.complete"
rm -rf "$work"
mv "$log" "$out/build.log"
# Older builds (other keys) and abandoned build trees are dead weight.
find "$base" -mindepth 1 -maxdepth 1 \( -name '????????????????' -o -name 'work-*' -o -name 'build-*.log' \) \
    ! -name "$key" -exec rm -rf {} +
say "built $(in_root "$binary" --version | head -n 1) into $out in $(cat "$out/build-seconds") s"
echo "$binary"
