#!/usr/bin/env bash
# Makes, locally, the two base images docker/Dockerfile builds from, for
# machines that reach Debian's package mirror but no container registry:
#
#   localhost/debian:bookworm-slim   Debian 12 from debootstrap (minbase),
#                                    trimmed like the official slim image
#                                    (no documentation, manuals or locales);
#   localhost/swift:6.3.1-bookworm   the same plus what the toolchain needs,
#                                    the Swift toolchain of this machine in
#                                    /usr, and the offline package mirror
#                                    (/opt/swift-packages with git's insteadOf
#                                    mapping), so `swift build` resolves offline.
#
# Usage: scripts/image-bases.sh [ENGINE]   (ENGINE: podman or docker; default podman)
# Then:  podman build --build-arg SWIFT_IMAGE=localhost/swift:6.3.1-bookworm \
#          --build-arg RUNTIME_IMAGE=localhost/debian:bookworm-slim -f docker/Dockerfile .
#
# An image already in the engine's store is kept. debootstrap's packages are
# cached in .image-cache/ (git- and docker-ignored). Needs root (debootstrap, chroot).
set -euo pipefail
cd "$(dirname "$0")/.."
engine=${1:-podman}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
toolchain=${SWIFT_TOOLCHAIN:-/opt/swift}
packages_mirror=${SWIFT_PACKAGES_MIRROR:-/opt/swift-packages}
slim_image=localhost/debian:bookworm-slim
swift_image=localhost/swift:6.3.1-bookworm
cache=$PWD/.image-cache

say() { echo "image-bases: $*" >&2; }
has_image() { "$engine" image inspect "$1" >/dev/null 2>&1; }

if has_image "$slim_image" && has_image "$swift_image"; then
    say "$slim_image and $swift_image are already in $engine's store"
    exit 0
fi
[ "$(id -u)" -eq 0 ] || {
    say "needs root (debootstrap and chroot)"
    exit 1
}
command -v debootstrap >/dev/null || {
    say "installing debootstrap"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
}
mkdir -p "$cache/debs"
work=$(mktemp -d "$cache/rootfs.XXXXXX")
trap 'rm -rf "$work"' EXIT

# debootstrap DIRECTORY [PACKAGE,...]: a minimal bookworm in DIRECTORY, with
# the security and update suites in its sources like the official images.
bootstrap() {
    local directory=$1 include=${2:-}
    say "debootstrap bookworm into $directory${include:+ (with $include)}"
    debootstrap --variant=minbase --cache-dir="$cache/debs" ${include:+--include="$include"} \
        bookworm "$directory" "$mirror" >"$cache/debootstrap.log" 2>&1 || {
        tail -n 20 "$cache/debootstrap.log" >&2
        say "debootstrap failed (log: $cache/debootstrap.log)"
        exit 1
    }
    cat >"$directory/etc/apt/sources.list" <<EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb ${mirror%/debian}/debian-security bookworm-security main
EOF
    rm -rf "$directory"/var/lib/apt/lists/* "$directory"/var/cache/apt/*.bin "$directory"/var/cache/apt/archives/*.deb
}

# Like the official slim image: dpkg leaves documentation, manuals and
# translations out from now on, and the ones already there go.
slim() {
    local directory=$1
    cat >"$directory/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
EOF
    # apt keeps neither downloaded packages nor its binary caches (tens of MB
    # in every layer that runs apt-get), as in the official images.
    cat >"$directory/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
    echo 'Acquire::Languages "none";' >"$directory/etc/apt/apt.conf.d/docker-no-languages"
    echo 'Acquire::GzipIndexes "true";' >"$directory/etc/apt/apt.conf.d/docker-gzip-indexes"
    find "$directory/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
    find "$directory/usr/share/doc" -mindepth 1 -type d -empty -delete
    rm -rf "$directory"/usr/share/{man,groff,info,locale,lintian,linda}/*
}

import() { # import DIRECTORY IMAGE: the directory's tree as a one-layer image
    say "importing $2"
    tar --numeric-owner -C "$1" -c . |
        "$engine" import --change 'CMD ["bash"]' \
            --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' - "$2" >/dev/null
}

start=$SECONDS
if ! has_image "$slim_image"; then
    bootstrap "$work/slim"
    slim "$work/slim"
    import "$work/slim" "$slim_image"
    rm -rf "$work/slim"
fi

if ! has_image "$swift_image"; then
    [ -x "$toolchain/usr/bin/swift" ] || {
        say "no Swift toolchain at $toolchain"
        exit 1
    }
    # What swift-frontend, swift-build and the linker load or run, as in the
    # official swift:bookworm image (without lldb's Python).
    bootstrap "$work/swift" "binutils,ca-certificates,git,gnupg,libc6-dev,libcurl4,libedit2,libgcc-12-dev,\
libicu72,liblzma5,libncurses6,libsqlite3-0,libstdc++-12-dev,libuuid1,libxml2,libz3-4,pkg-config,tzdata,zlib1g-dev"
    slim "$work/swift"
    say "copying the toolchain ($toolchain/usr) into /usr (without the debugger and editor tools)"
    tar -C "$toolchain" -c \
        --exclude='usr/bin/lldb*' --exclude='usr/bin/sourcekit-lsp' --exclude='usr/bin/clangd' \
        --exclude='usr/bin/docc' --exclude='usr/lib/liblldb.so*' --exclude='usr/lib/libsourcekitdInProc.so' \
        usr | tar -C "$work/swift" -x
    say "copying the package mirror ($packages_mirror)"
    mkdir -p "$work/swift/opt"
    cp -a "$packages_mirror" "$work/swift/opt/swift-packages"
    cat >"$work/swift/etc/gitconfig" <<'EOF'
[url "/opt/swift-packages/"]
	insteadOf = https://github.com/
	insteadOf = git@github.com:
	insteadOf = ssh://git@github.com/
[safe]
	directory = *
EOF
    import "$work/swift" "$swift_image"
fi
say "done in $((SECONDS - start)) s: $("$engine" images --format '{{.Repository}}:{{.Tag}} {{.Size}}' |
    grep -E 'localhost/(debian|swift)' | paste -sd, -)"
