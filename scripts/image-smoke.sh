#!/usr/bin/env bash
# Builds docker/Dockerfile and runs the image the ways docker/compose.yaml
# does, with podman or docker, and checks what a user of it would see:
#
#   - the image builds from the repository (Package.resolved pinned), its
#     binaries are stripped and load no Swift, Foundation or ICU library, and
#     every library they load is in it; it has no shell, and its /run/genidd
#     is 0:10001 mode 2770 (owner and mode survived the build's COPY);
#   - for the root sidecar (uid 0, every capability dropped but SYSLOG,
#     read-only root, no-new-privileges) and for the non-root default user
#     (10001), each on a named volume (which copies the image directory's
#     owner and mode) and on a tmpfs volume made like compose's:
#       the HEALTHCHECK (genidd probe ready) reports healthy, and fails while
#       the source fails; an application container as uid 1000 with group
#       10001, read-only, without network, reads /v1/generation over the
#       shared socket (genidd get --unix) and the /dev/sysgenid-layout
#       export; without group 10001 it is refused;
#   - prints the image size and how long each step took.
#
# There is no VM generation device in a container here: genidd watches
# `--source file:/run/genidd/counter` on the shared volume instead. The image
# has no shell: the test writes the counter, reads modes and the export, and
# changes owners from containers of RUNTIME_IMAGE (Debian) that mount the
# same volume, as a person debugging would.
#
# usage: scripts/image-smoke.sh [podman|docker]
# Base images: SWIFT_IMAGE and RUNTIME_IMAGE (the Dockerfile's build args);
# by default the official ones when a registry answers, otherwise the local
# ones scripts/image-bases.sh makes (localhost/swift:6.3.1-bookworm,
# localhost/debian:bookworm-slim). SMOKE_IMAGE names the image it builds
# (default localhost/genidd:smoke).
# Exit status: 0 when every check passed; 1 on a failure (the message says
# which); 77 when no container engine works here (nothing was checked).
set -euo pipefail
cd "$(dirname "$0")/.."
image=${SMOKE_IMAGE:-localhost/genidd:smoke}
suffix=genidd-smoke-$$
started=$SECONDS

say() { echo "image-smoke: [$((SECONDS - started))s] $*" >&2; }
fail() {
    echo "image-smoke: FAIL: $*" >&2
    exit 1
}

engine=${1:-}
if [ -z "$engine" ]; then
    for candidate in podman docker; do
        if command -v "$candidate" >/dev/null && "$candidate" info >/dev/null 2>&1; then
            engine=$candidate
            break
        fi
    done
fi
if [ -z "$engine" ] || ! "$engine" info >/dev/null 2>&1; then
    echo "image-smoke: NOT RUN: no container engine answers here (podman info and docker info fail)" >&2
    exit 77
fi
say "engine: $engine ($("$engine" --version))"

containers=()
volumes=()
cleanup() {
    for container in "${containers[@]}"; do "$engine" rm -f -v "$container" >/dev/null 2>&1 || true; done
    rm -f "/tmp/$suffix.err"
    for volume in "${volumes[@]}"; do "$engine" volume rm -f "$volume" >/dev/null 2>&1 || true; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- base images and the build -----------------------------------------------------
if [ -z "${SWIFT_IMAGE:-}" ] || [ -z "${RUNTIME_IMAGE:-}" ]; then
    if timeout 30 "$engine" pull -q docker.io/library/debian:bookworm-slim >/dev/null 2>&1; then
        SWIFT_IMAGE=${SWIFT_IMAGE:-docker.io/library/swift:6.3.1-bookworm}
        RUNTIME_IMAGE=${RUNTIME_IMAGE:-docker.io/library/debian:bookworm-slim}
    else
        say "no registry answers: using locally made base images (scripts/image-bases.sh)"
        bash scripts/image-bases.sh "$engine"
        SWIFT_IMAGE=${SWIFT_IMAGE:-localhost/swift:6.3.1-bookworm}
        RUNTIME_IMAGE=${RUNTIME_IMAGE:-localhost/debian:bookworm-slim}
    fi
fi
say "building $image from docker/Dockerfile (SWIFT_IMAGE=$SWIFT_IMAGE RUNTIME_IMAGE=$RUNTIME_IMAGE)"
format=()
# podman writes OCI images by default, which have no HEALTHCHECK.
[ "$engine" = podman ] && format=(--format docker)
build_log=$(mktemp /tmp/genidd-image-smoke-build.XXXXXX)
build_start=$SECONDS
if ! nice -n 10 "$engine" build "${format[@]}" --build-arg "SWIFT_IMAGE=$SWIFT_IMAGE" \
    --build-arg "RUNTIME_IMAGE=$RUNTIME_IMAGE" -f docker/Dockerfile -t "$image" . >"$build_log" 2>&1; then
    tail -n 30 "$build_log" >&2
    fail "the image does not build (log: $build_log)"
fi
build_seconds=$((SECONDS - build_start))
rm -f "$build_log"
size=$("$engine" image inspect --format '{{.Size}}' "$image")
size_mib=$(awk -v b="$size" 'BEGIN { printf "%.1f", b / 1048576 }')
say "built in ${build_seconds}s: $image is $size_mib MiB"

# Explicit limits: podman's defaults raise them above the caller's, which a
# sandbox without CAP_SYS_RESOURCE refuses ("error setting rlimits").
limits=(--ulimit nofile=4096:4096 --ulimit nproc=4096:4096)

# --- the binaries and the tree -------------------------------------------------------
say "the binaries: stripped, no Swift/Foundation/ICU library, every library in the image; no shell"
run_in_image() { "$engine" run --rm "${limits[@]}" --no-healthcheck --network none --entrypoint "$1" "$image" "${@:2}"; }
version=$(run_in_image genidd --version) || fail "genidd --version does not run in the image"
extract=$("$engine" create "$image")
containers+=("$extract")
binary_size=0
loader=
for executable in genidd genidd-daemon; do
    "$engine" cp "$extract:/usr/local/bin/$executable" "/tmp/$suffix-$executable"
    binary_size=$((binary_size + $(stat -c %s "/tmp/$suffix-$executable")))
    symbols=$(readelf -S "/tmp/$suffix-$executable" | grep -c '\.symtab' || true)
    # The dynamic loader the executable names (PT_INTERP), which lists its
    # libraries as ldd would (ldd is a shell script: an image without a shell has none).
    loader=$(readelf -l "/tmp/$suffix-$executable" | sed -n 's/.*Requesting program interpreter: \(.*\)]$/\1/p')
    rm -f "/tmp/$suffix-$executable"
    [ "$symbols" -eq 0 ] || fail "/usr/local/bin/$executable has a symbol table: not stripped"
    [ -n "$loader" ] || fail "/usr/local/bin/$executable names no program interpreter"
    libraries=$(run_in_image "$loader" --list "/usr/local/bin/$executable") ||
        fail "$loader --list /usr/local/bin/$executable failed in the image"
    if grep -iE 'swift|foundation|icu' <<<"$libraries"; then
        fail "$executable loads the Swift runtime, Foundation or ICU (above)"
    fi
    grep -q 'not found' <<<"$libraries" &&
        fail "the image lacks a library $executable needs: $(grep 'not found' <<<"$libraries")"
done
# The image's tree: no shell, and the owners and modes the Dockerfile set.
tree=$("$engine" export "$extract" | tar -tv --numeric-owner) || fail "cannot export the image's tree"
shells=$(awk '{ print $6 }' <<<"$tree" | grep -E '(^|/)(sh|bash|dash|ash|busybox)$' || true)
[ -z "$shells" ] || fail "the image has a shell: $(paste -sd' ' <<<"$shells")"
"$engine" run --rm "${limits[@]}" --no-healthcheck --network none --entrypoint /bin/sh "$image" -c true \
    >/dev/null 2>&1 && fail "/bin/sh runs in the image"
mode_of() { awk -v path="$1" '$6 == path { print $1, $2 }' <<<"$tree"; }
[ "$(mode_of run/genidd/)" = "drwxrws--- 0/10001" ] ||
    fail "/run/genidd in the image is '$(mode_of run/genidd/)', expected 'drwxrws--- 0/10001' (root:genidd 2770)"
[ "$(mode_of tmp/)" = "drwxrwxrwt 0/0" ] || fail "/tmp in the image is '$(mode_of tmp/)', expected 'drwxrwxrwt 0/0'"
files=$(grep -vc '^d' <<<"$tree")
"$engine" rm -f -v "$extract" >/dev/null 2>&1
say "  $version, genidd and genidd-daemon $(awk -v b="$binary_size" 'BEGIN { printf "%.1f", b / 1048576 }') MiB together, stripped;" \
    "$files files and links, no shell; /run/genidd 0:10001 2770"

# in_volume VOLUME USER COMMAND...: COMMAND in a RUNTIME_IMAGE (Debian)
# container with VOLUME at /run/genidd, no network, as USER (uid:gid) with
# every capability dropped, or as root-caps: uid 0 with the engine's default
# capabilities (CAP_CHOWN). For what genidd's image cannot do: it has no shell.
in_volume() {
    local volume=$1 user=$2 capabilities=(--cap-drop ALL)
    shift 2
    if [ "$user" = root-caps ]; then
        user=0:0
        capabilities=()
    fi
    "$engine" run --rm "${limits[@]}" --network none --user "$user" "${capabilities[@]}" \
        --volume "$volume:/run/genidd" "$RUNTIME_IMAGE" "$@"
}

# --- the variants -----------------------------------------------------------------------
health() { # health CONTAINER: healthy or unhealthy, from one run of the image's HEALTHCHECK
    if [ "$engine" = podman ]; then
        "$engine" healthcheck run "$1" >/dev/null 2>&1 && echo healthy || echo unhealthy
    else
        "$engine" inspect --format '{{.State.Health.Status}}' "$1"
    fi
}
wait_health() { # wait_health CONTAINER WANT SECONDS
    local deadline=$((SECONDS + $3)) state
    while true; do
        state=$(health "$1")
        [ "$state" = "$2" ] && return 0
        [ "$SECONDS" -ge "$deadline" ] && break
        "$engine" inspect --format '{{.State.Running}}' "$1" | grep -q true || break
        sleep 1
    done
    "$engine" logs "$1" 2>&1 | tail -n 20 >&2
    fail "$1: health is '$state', expected '$2' within $3 s (its log is above)"
}

# variant NAME USER VOLUME_KIND: one genidd container and its checks.
variant() {
    local name=$1 user=$2 kind=$3 volume=$suffix-$1 container=$suffix-$1 step=$SECONDS who=root as=0:0
    [ "$user" = root ] || who="the image user genidd (10001)" as=10001:10001
    say "$name: genidd as $who on a $kind volume"
    case $kind in
    named) "$engine" volume create "$volume" >/dev/null ;;
    tmpfs) "$engine" volume create --driver local --opt type=tmpfs --opt device=tmpfs \
        --opt o=uid=0,gid=10001,mode=2770 "$volume" >/dev/null ;;
    esac
    volumes+=("$volume")
    local options=(--detach --name "$container" "${limits[@]}" --read-only --security-opt no-new-privileges
        --volume "$volume:/run/genidd")
    # As compose's root sidecar: uid 0 without CAP_DAC_OVERRIDE or CAP_CHOWN.
    [ "$user" = root ] && options+=(--user 0:0 --cap-drop ALL --cap-add SYSLOG)
    [ "$user" = root ] || options+=(--cap-drop ALL)
    # The group by name: /etc/group and nsswitch.conf are in the image. (The
    # root sidecar has no CAP_CHOWN to give its socket a group it is not in.)
    local arguments=(--source file:/run/genidd/counter --listen 127.0.0.1:8080 --export-sysgenid /run/genidd/sysgenid)
    [ "$user" = root ] || arguments+=(--unix-group genidd)
    # docker runs the image's HEALTHCHECK on its own schedule (every 10 s, 3
    # retries): check every second instead, with the image's command.
    [ "$engine" = docker ] && options+=(--health-interval 1s --health-retries 1 --health-start-period 0s)
    containers+=("$container")
    # podman without systemd complains that it cannot schedule the
    # HEALTHCHECK (health above runs it on demand): shown only on failure.
    "$engine" run "${options[@]}" "$image" "${arguments[@]}" >/dev/null 2>"/tmp/$suffix.err" || {
        cat "/tmp/$suffix.err" >&2
        fail "$name: the container does not start"
    }
    # The counter arrives after the start, as a device would appear: genidd
    # serves stale (not ready) until then. It is written as genidd's user, on
    # the same volume, from a Debian container (the image has no shell).
    sleep 1
    in_volume "$volume" "$as" sh -c 'echo 7 > /run/genidd/counter' ||
        fail "$name: cannot write /run/genidd/counter as $as on the volume"
    wait_health "$container" healthy 30
    local owner
    owner=$(in_volume "$volume" "$as" stat -c '%u:%g %a' /run/genidd /run/genidd/genidd.sock | paste -sd' ')
    [[ $owner == "0:10001 2770 "*":10001 660" ]] ||
        fail "$name: /run/genidd and the socket are '$owner', expected 0:10001 2770 and group 10001 0660"
    say "  healthy; /run/genidd and the socket: $owner"

    # The application: another container, uid 1000 in group 10001, no network.
    local app=(--rm "${limits[@]}" --no-healthcheck --network none --read-only --cap-drop ALL
        --security-opt no-new-privileges --user 1000:1000
        --volume "$volume:/run/genidd:ro" --entrypoint genidd)
    local state
    state=$("$engine" run "${app[@]}" --group-add 10001 "$image" get --unix /run/genidd/genidd.sock) ||
        fail "$name: the application (uid 1000, group 10001) cannot read /v1/generation over the socket"
    [[ $state == "seq=1 generation=7 source=file:/run/genidd/counter stale=false "* ]] ||
        fail "$name: unexpected state from the socket: $state"
    local exported
    # od from the application's image (Debian, as in compose), not genidd's.
    exported=$("$engine" run "${app[@]}" --group-add 10001 --entrypoint od "$RUNTIME_IMAGE" -An -tu4 -N4 /run/genidd/sysgenid |
        tr -d ' ') || fail "$name: the application cannot read the export /run/genidd/sysgenid"
    [ "$exported" = 1 ] || fail "$name: the export holds $exported, expected seq 1"
    if "$engine" run "${app[@]}" "$image" get --unix /run/genidd/genidd.sock >/dev/null 2>&1; then
        fail "$name: an application outside group 10001 reached the socket"
    fi
    say "  the application (uid 1000, group 10001) reads: $state; export: $exported; without the group: refused"

    # The source fails: not ready (the HEALTHCHECK fails) while genidd stays live.
    in_volume "$volume" "$as" sh -c 'echo garbage > /run/genidd/counter'
    wait_health "$container" unhealthy 15
    "$engine" exec "$container" genidd probe live --unix /run/genidd/genidd.sock >/dev/null ||
        fail "$name: genidd probe live fails while only the source fails"
    in_volume "$volume" "$as" sh -c 'echo 8 > /run/genidd/counter'
    wait_health "$container" healthy 15
    "$engine" logs "$container" 2>&1 | grep -qi 'permission denied' &&
        fail "$name: genidd logged 'Permission denied': $("$engine" logs "$container" 2>&1 | grep -i 'permission denied' | head -n 1)"
    [ "$("$engine" inspect --format '{{.RestartCount}}' "$container")" = 0 ] || fail "$name: the container restarted"
    say "  a malformed counter: unhealthy, live still 0; restored: healthy ($((SECONDS - step)) s)"
    "$engine" rm -f -v "$container" >/dev/null 2>&1
}

# The control: a volume owned as the image before this fix left it
# (10001:10001, 0755) stops the root sidecar ("lock: Permission denied"), so
# the checks above can tell a broken layout from a working one.
control() {
    local volume=$suffix-control container=$suffix-control
    say "control: the root sidecar on a volume owned 10001:10001 0755 (the old image's layout) must fail"
    "$engine" volume create "$volume" >/dev/null
    volumes+=("$volume")
    # The image's first mount fills the volume (owner and mode of the image's
    # /run/genidd); then a Debian container changes them (the image has no chown).
    "$engine" run --rm "${limits[@]}" --no-healthcheck --network none --volume "$volume:/run/genidd" \
        --entrypoint genidd "$image" --version >/dev/null
    in_volume "$volume" root-caps sh -c 'chown 10001:10001 /run/genidd && chmod 0755 /run/genidd'
    containers+=("$container")
    "$engine" run --detach --name "$container" "${limits[@]}" --read-only --user 0:0 --cap-drop ALL --cap-add SYSLOG \
        --volume "$volume:/run/genidd" --no-healthcheck "$image" --source file:/run/genidd/counter >/dev/null
    local deadline=$((SECONDS + 10))
    while "$engine" inspect --format '{{.State.Running}}' "$container" | grep -q true && [ "$SECONDS" -lt "$deadline" ]; do
        sleep 0.5
    done
    "$engine" logs "$container" 2>&1 | grep -q 'Permission denied' ||
        fail "control: the root sidecar did not fail on the old layout; the variant checks prove nothing"
    say "  failed as expected: $("$engine" logs "$container" 2>&1 | grep -m 1 'Permission denied')"
    "$engine" rm -f -v "$container" >/dev/null 2>&1
}

control
variant root-named root named
variant root-tmpfs root tmpfs
variant nonroot-named image named
variant nonroot-tmpfs image tmpfs

echo "image-smoke: PASS in $((SECONDS - started)) s (build ${build_seconds} s): $image is $size_mib MiB" \
    "(target <= 100 MiB: $(awk -v s="$size_mib" 'BEGIN { print (s <= 100 ? "met" : "NOT MET") }'));" \
    "binary $(awk -v b="$binary_size" 'BEGIN { printf "%.1f", b / 1048576 }') MiB; healthy, probes and socket access" \
    "checked for the root sidecar and the non-root user, on named and tmpfs volumes"
