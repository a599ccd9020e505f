#!/usr/bin/env bash
# Proves on a real (emulated) VM that genidd notices real snapshot restores.
#
# Builds genidd (release) into a busybox initramfs, boots it with Debian's
# 6.1 kernel under QEMU (TCG, no KVM needed) with a vmgenid device, then
# restores the VM from a saved state several times: with a new VM generation
# ID (a real restore: the kernel logs a VM fork) and once with the same one
# (no change). Subscribers inside the guest (long-poll, SSE) and on the host
# (SSE with Last-Event-ID, REST) must each see exactly one new seq per real
# restore and nothing for the same-ID restore. Prints timings for every step;
# exits non-zero on any missing or extra event and on any timeout.
#
# With --vmclock: Debian sid's kernel (7.x, module ptp_vmclock) and sid's QEMU
# (11.x, run in a debootstrap'ed sid chroot in the cache), with a vmclock
# device beside vmgenid. QEMU's vmclock has no VM generation counter, so
# genidd's `auto` must decline it, use kmsg, and still watch the clock's
# disruption marker: every restore must also bring exactly one
# clock-disruption event (QEMU bumps the marker on each incoming migration).
#
# With --vmclock-counter: the same sid root and kernel, but QEMU built from
# Debian's source package with the posted VMClock generation-counter and
# notification patches (scripts/vm-e2e/build-qemu-vmclock.sh, cached), and
# only a vmclock device (no vmgenid: the VMClock's own ACPI notification must
# wake the guest). genidd's `auto` must pick vmclock and wait in poll() on
# /dev/vmclock0; every restore (the patched QEMU advances the counter on each
# incoming migration) must bring exactly one new seq to every subscriber and
# one clock disruption, while a pause (stop, cont) and a snapshot the VM
# continues from (stop, migrate to a file, cont) must bring nothing.
#
# Usage: scripts/vm-e2e.sh [--vmclock | --vmclock-counter] [--cache DIR] [--keep]
#   --vmclock     the VMClock scenario (sid kernel and QEMU; needs root)
#   --vmclock-counter  the VMClock scenario with a patched QEMU that sets the
#                 generation counter and notifies (the first run builds QEMU: ~6 min)
#   --cache DIR   downloads and built artifacts (default: .vm-cache at the repo top)
#   --keep        keep the saved VM state file (DIR/run*/state.bin) after a pass
# Needs root for apt-get on a fresh machine (Debian 12); everything else is cached.
set -euo pipefail

cd "$(dirname "$0")/.."
repo=$PWD
cache=$repo/.vm-cache
# Guest RAM in MiB (see the initramfs note below).
guest_memory=512
keep_state=0
vmclock=0
counter=0
while (($#)); do
    case $1 in
    --vmclock) vmclock=1 && shift ;;
    --vmclock-counter) vmclock=1 counter=1 && shift ;;
    --cache) cache=$(realpath -m "$2") && shift 2 ;;
    --keep) keep_state=1 && shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' && exit 0 ;;
    *) echo "vm-e2e: unknown argument $1 (try --help)" >&2 && exit 2 ;;
    esac
done

helpers=$repo/scripts/vm-e2e
# This run's logs and VM state (replaced on every run) and the built initramfs,
# per scenario so that the two do not evict each other's cache.
if ((counter)); then
    run=$cache/run-vmclock-counter
    initramfs_name="initramfs-vmclock" # the same guest as --vmclock
elif ((vmclock)); then
    run=$cache/run-vmclock
    initramfs_name="initramfs-vmclock"
else
    run=$cache/run
    initramfs_name=initramfs
fi
vmctl=(python3 "$helpers/vmctl.py")

# Timeouts (seconds). TCG is slow and CI machines are noisy: generous, but bounded.
boot_timeout=180        # QEMU start -> genidd ready and both guest clients started
save_timeout=120        # stop -> migration completed
load_timeout=120        # QEMU -incoming start -> state loaded
event_timeout=30        # cont -> each subscriber saw the new seq
settle_seconds=3        # after the last expected event: time for an extra one to show up
quiet_seconds=6         # same-ID restore: how long we watch for (absent) events

script_start=$(date +%s%3N)
now_ms() { date +%s%3N; }
# step MESSAGE: one progress line, prefixed with the time since the start.
step() {
    local elapsed=$(($(now_ms) - script_start))
    printf '[%4d.%01ds] %s\n' $((elapsed / 1000)) $((elapsed % 1000 / 100)) "$*"
}
fail() {
    step "FAIL: $*" >&2
    exit 1
}
# json FILTER_EXPR: evaluates a Python expression over the JSON on stdin (as `j`).
json() { python3 -c 'import json, sys; j = json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }

# ---------------------------------------------------------------------------
# Cleanup: every QEMU and helper we start is recorded here and ended by PID.
background_pids=()
cleanup() {
    local status=$?
    local pid
    for pid in "${background_pids[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then
            kill "$pid" 2>/dev/null || true
        fi
    done
    # Give QEMU a moment to exit on SIGTERM, then make sure.
    for pid in "${background_pids[@]}"; do
        for _ in 1 2 3 4 5 6 7 8 9 10; do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$pid" 2>/dev/null || true
    done
    if ((status != 0)); then
        if [[ -n ${serial_log:-} && -s $serial_log ]]; then
            echo "vm-e2e: the last lines of the guest console ($serial_log):" >&2
            tr -d '\r' <"$serial_log" | tail -n 15 | sed 's/^/    /' >&2
        fi
        ((status == 130)) && echo "vm-e2e: interrupted" >&2
        echo "vm-e2e: failed; logs are in $run (serial-N.log: guest console, qemu-N.log: QEMU, *.json: observations)" >&2
    fi
    exit "$status"
}
trap cleanup EXIT
# Interrupted: the EXIT trap cleans up (bash runs it once the current
# foreground command, bounded like every wait here, has returned).
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------
# Host packages (installed only when missing) and the Swift toolchain.
# qemu-system-x86: the VM; cpio, zstd: the initramfs; gcc, libc6-dev: the
# static guest client; binutils: objcopy (module dependencies) and strip.
# shellcheck source=scripts/setup.sh
source scripts/setup.sh qemu-system-x86 cpio zstd gcc libc6-dev binutils python3

mkdir -p "$cache/debs"
rm -rf "$run"
mkdir -p "$run"

# apt_download PACKAGE: fetches a .deb into the cache (apt-get update first
# when apt does not know the package yet, as on a fresh machine).
apt_download() {
    local sudo_cmd=() options=()
    if [[ $(id -u) -eq 0 ]]; then
        # Downloading as root into a root-owned directory: apt's _apt sandbox could not write there.
        options=(-o APT::Sandbox::User=root)
    else
        sudo_cmd=(sudo)
    fi
    if ! apt-cache show "$1" >/dev/null 2>&1; then
        "${sudo_cmd[@]}" apt-get update -qq
    fi
    (cd "$cache/debs" && apt-get download -qq "${options[@]}" "$1")
}

# --vmclock: a Debian sid root (debootstrap minbase) in the cache, with sid's
# QEMU installed; the host (Debian 12) cannot run sid's binaries (newer glibc).
# Built once; a half-built root is never used (the marker is written last).
sid_root=$cache/sid-root
sid_mirror=http://deb.debian.org/debian
sid_prepare() {
    [[ $(id -u) -eq 0 ]] || fail "--vmclock needs root (debootstrap, chroot, a private bind mount)"
    [[ -e $sid_root/.e2e-ready ]] && return 0
    command -v debootstrap >/dev/null || apt-get install -y -qq debootstrap >/dev/null ||
        fail "cannot install debootstrap"
    step "debootstrap --variant=minbase sid into $sid_root"
    rm -rf "$sid_root" "$sid_root.tmp"
    debootstrap --variant=minbase sid "$sid_root.tmp" "$sid_mirror" >"$cache/sid-debootstrap.log" 2>&1 ||
        fail "debootstrap sid failed (log: $cache/sid-debootstrap.log)"
    # The archive's Release files are signed, but a mirror serving a frozen
    # snapshot has an expired Valid-Until: accept it (the signature is still checked).
    echo 'Acquire::Check-Valid-Until "false";' >"$sid_root.tmp/etc/apt/apt.conf.d/99genidd-e2e"
    step "installing qemu-system-x86 in the sid root"
    chroot "$sid_root.tmp" sh -c 'apt-get update -qq &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends qemu-system-x86' \
        >"$cache/sid-qemu-install.log" 2>&1 ||
        fail "installing qemu-system-x86 in sid failed (log: $cache/sid-qemu-install.log)"
    chroot "$sid_root.tmp" qemu-system-x86_64 -device help 2>/dev/null | grep -q '"vmclock"' ||
        fail "sid's QEMU has no vmclock device"
    mv "$sid_root.tmp" "$sid_root"
    touch "$sid_root/.e2e-ready"
}

# sid_kernel: sid's current kernel (linux-image-amd64 -> linux-image-V-amd64,
# whose files sid splits into linux-binary-V, linux-modules-V and
# linux-base-V), fetched with the sid root's apt into $cache/sid-debs once.
# Sets vmlinuz, kernel_version, module_root, kernel_config.
sid_kernel() {
    local debs=$cache/sid-debs
    if [[ ! -e $debs/.complete ]]; then
        rm -rf "$debs"
        mkdir -p "$debs"
        local image packages
        image=$(chroot "$sid_root" apt-cache depends linux-image-amd64 |
            sed -n 's/^ *Depends: \(linux-image-[0-9].*-amd64\)$/\1/p' | head -n 1)
        [[ -n $image ]] || fail "sid's apt knows no linux-image-*-amd64 behind linux-image-amd64"
        local version=${image#linux-image-}
        # The image package and its same-version parts (absent on older layouts).
        packages=$(chroot "$sid_root" apt-cache depends "$image" | sed -n 's/^ *Depends: //p' |
            grep -E '^linux-[a-z]+-' | grep -F -- "$version" | sort -u)
        step "fetching sid's $image $(echo $packages)"
        chroot "$sid_root" sh -c 'rm -rf /tmp/e2e-debs && mkdir /tmp/e2e-debs && cd /tmp/e2e-debs && apt-get download -qq -o APT::Sandbox::User=root "$@"' \
            sh "$image" $packages || fail "apt-get download in the sid root failed"
        mv "$sid_root"/tmp/e2e-debs/*.deb "$debs/"
        rmdir "$sid_root/tmp/e2e-debs"
        touch "$debs/.complete"
    fi
    kernel_root=$cache/sid-kernel
    if [[ ! -e $kernel_root/.unpacked || -n $(find "$debs" -name '*.deb' -newer "$kernel_root/.unpacked") ]]; then
        step "unpacking sid's kernel packages"
        rm -rf "$kernel_root"
        mkdir -p "$kernel_root"
        local deb
        for deb in "$debs"/*.deb; do dpkg-deb -x "$deb" "$kernel_root"; done
        touch "$kernel_root/.unpacked"
    fi
    # usr/lib/modules/V/{vmlinuz,config} in sid's split packages, boot/ before.
    vmlinuz=$(find "$kernel_root" -path '*/modules/*/vmlinuz' -o -path '*/boot/vmlinuz-*' | head -n 1)
    [[ -n $vmlinuz ]] || fail "no vmlinuz in sid's kernel packages"
    module_root=$(find "$kernel_root" -maxdepth 4 -type d -path '*/lib/modules/*' | head -n 1)
    kernel_version=${module_root##*/}
    kernel_config=$(find "$kernel_root" -path "*/modules/$kernel_version/config" -o -name "config-$kernel_version" | head -n 1)
    [[ -n $kernel_config ]] || fail "no kernel config in sid's kernel packages"
}

if ((vmclock)); then
    sid_prepare
    sid_kernel
    if ((counter)); then
        # The patched QEMU, built in the sid root (cached; ~6 min the first time).
        step "QEMU with the VMClock counter patches (scripts/vm-e2e/build-qemu-vmclock.sh)"
        qemu_build_start=$(now_ms)
        qemu_vmclock=$(bash "$helpers/build-qemu-vmclock.sh" "$sid_root" "$cache" 2> >(sed -u 's/^/    /' >&2)) ||
            fail "building the patched QEMU failed"
        step "patched QEMU ready after $((($(now_ms) - qemu_build_start) / 1000)) s: $qemu_vmclock"
    fi
else
    # The kernel: the versioned package that Debian 12's linux-image-amd64 points
    # to. Resolved once; afterwards the cached package is used (offline reruns).
    kernel_deb=$(find "$cache/debs" -maxdepth 1 -name 'linux-image-6.1.0-*-amd64_*.deb' | sort | tail -n 1)
    if [[ -z $kernel_deb ]]; then
        if ! apt-cache show linux-image-amd64 >/dev/null 2>&1; then
            if [[ $(id -u) -eq 0 ]]; then apt-get update -qq; else sudo apt-get update -qq; fi
        fi
        kernel_package=$(apt-cache depends linux-image-amd64 |
            sed -n 's/^ *Depends: \(linux-image-6\.1\.0-[0-9]*-amd64\)$/\1/p' | head -n 1)
        [[ -n $kernel_package ]] || fail "apt does not know a linux-image-6.1.0-*-amd64 behind linux-image-amd64"
        step "fetching $kernel_package"
        apt_download "$kernel_package"
        kernel_deb=$(find "$cache/debs" -maxdepth 1 -name "${kernel_package}_*.deb" | sort | tail -n 1)
    fi
    kernel_root=$cache/kernel/$(basename "$kernel_deb" .deb)
    if [[ ! -e $kernel_root/.unpacked ]]; then
        step "unpacking $(basename "$kernel_deb")"
        rm -rf "$cache/kernel"
        mkdir -p "$kernel_root"
        dpkg-deb -x "$kernel_deb" "$kernel_root"
        touch "$kernel_root/.unpacked"
    fi
    vmlinuz=$(find "$kernel_root/boot" -name 'vmlinuz-*' | head -n 1)
    kernel_version=${vmlinuz##*/vmlinuz-}
    module_root=$kernel_root/lib/modules/$kernel_version
    kernel_config=$kernel_root/boot/config-$kernel_version
fi
grep -q '^CONFIG_VMGENID=y' "$kernel_config" || fail "kernel $kernel_version lacks CONFIG_VMGENID=y"
if ((vmclock)); then
    grep -Eq '^CONFIG_PTP_1588_CLOCK_VMCLOCK=[ym]' "$kernel_config" ||
        fail "kernel $kernel_version lacks CONFIG_PTP_1588_CLOCK_VMCLOCK"
fi

busybox_deb=$(find "$cache/debs" -maxdepth 1 -name 'busybox-static_*.deb' | sort | tail -n 1)
if [[ -z $busybox_deb ]]; then
    step "fetching busybox-static"
    apt_download busybox-static
    busybox_deb=$(find "$cache/debs" -maxdepth 1 -name 'busybox-static_*.deb' | sort | tail -n 1)
fi
busybox=$cache/busybox/bin/busybox
if [[ ! -x $busybox || $busybox_deb -nt $busybox ]]; then
    rm -rf "$cache/busybox"
    dpkg-deb -x "$busybox_deb" "$cache/busybox"
    touch "$busybox"
fi
# QEMU: the host's, or (--vmclock) sid's, run in the sid root. There it runs
# in a private mount namespace with the cache bind-mounted at the same path,
# so that every path (kernel, initramfs, logs, QMP socket, migration file)
# means the same inside and out; the mounts vanish with QEMU. unshare, sh and
# chroot each exec the next, so $! is QEMU's own PID.
if ((vmclock)); then
    mkdir -p "$sid_root$cache"
    qemu=(unshare --mount --propagation private sh -c \
        'root=$1 cache=$2 && shift 2 && mount --bind "$cache" "$root$cache" &&
         mount -t proc proc "$root/proc" && exec chroot "$root" "$@"' \
        sh "$sid_root" "$cache" "${qemu_vmclock:-qemu-system-x86_64}")
    qemu_version=$("${qemu[@]}" --version | head -n 1)
else
    qemu=(qemu-system-x86_64)
    qemu_version=$(qemu-system-x86_64 --version | head -n 1)
fi
step "kernel $kernel_version, $("$busybox" | head -n 1 | cut -d' ' -f1-2), $qemu_version$( ((vmclock)) && echo " (sid root)")"

# ---------------------------------------------------------------------------
# Build genidd and the guest client.
step "building genidd (release)"
build_start=$(now_ms)
{ swift build -c release --product genidd && swift build -c release --product genidd-daemon; } \
    >"$run/swift-build.log" 2>&1 || {
    tail -n 40 "$run/swift-build.log" >&2
    fail "swift build failed (full log: $run/swift-build.log)"
}
# `genidd serve` runs genidd-daemon from the same directory.
genidd=$(swift build -c release --show-bin-path | tail -n 1)/genidd
genidd_daemon=$(swift build -c release --show-bin-path | tail -n 1)/genidd-daemon
step "genidd built in $((($(now_ms) - build_start) / 1000)) s"

guest_client=$cache/guest-client
if [[ ! -x $guest_client || $helpers/guest-client.c -nt $guest_client ]]; then
    gcc -static -O2 -Wall -Wextra -Werror -o "$guest_client" "$helpers/guest-client.c"
fi

# ---------------------------------------------------------------------------
# NIC driver modules. Debian builds virtio-net as modules and ships no
# modules.dep (depmod runs at install), so dependencies come from each
# module's .modinfo section; the list is in load order.
nic_modules=(virtio_pci virtio_net) # the PCI transport and the NIC driver
# --vmclock: ptp_vmclock makes /dev/vmclock0 (its dependencies, if any, come
# from .modinfo as well). Modules built into this kernel are skipped.
((vmclock)) && nic_modules+=(ptp_vmclock)
declare -A module_seen=()
module_order=()
module_file() {
    local file
    file=$(find "$module_root/kernel" \( -name "$1.ko*" -o -name "${1//_/-}.ko*" \) -print -quit)
    [[ -n $file ]] || fail "module $1 not found in $module_root"
    echo "$file"
}
add_module() {
    local name=$1 file dependency
    [[ -z ${module_seen[$name]:-} ]] || return 0
    module_seen[$name]=1
    if grep -qE "/(${name}|${name//_/-})\.ko(\.[a-z]+)?\$" "$module_root/modules.builtin" 2>/dev/null; then
        return 0
    fi
    file=$(module_file "$name")
    local modinfo=$run/modinfo.bin
    case $file in
    *.xz) xz -dc "$file" >"$run/module.ko" ;;
    *.zst) zstd -qdc "$file" >"$run/module.ko" ;;
    *) cp "$file" "$run/module.ko" ;;
    esac
    objcopy -O binary --only-section=.modinfo "$run/module.ko" "$modinfo"
    for dependency in $(tr '\0' '\n' <"$modinfo" | sed -n 's/^depends=//p' | tr ',' ' '); do
        add_module "$dependency"
    done
    module_order+=("$name:$file")
}
for module in "${nic_modules[@]}"; do
    add_module "$module"
done

# ---------------------------------------------------------------------------
# The initramfs: busybox, /init, genidd with every library ldd names (at the
# same paths, so genidd's RUNPATH and the loader's defaults find them), the
# guest client and the modules. Rebuilt only when an input changed.
mapfile -t libraries < <(ldd "$genidd" "$genidd_daemon" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// && $1 !~ /:$/ { print $1 }' | sort -u)
if ldd "$genidd" "$genidd_daemon" | grep -q 'not found'; then
    fail "genidd has unresolved libraries: $(ldd "$genidd" "$genidd_daemon" | grep 'not found')"
fi
initramfs=$cache/$initramfs_name.cpio.zst
initramfs_key=$(
    {
        sha256sum "$genidd" "$genidd_daemon" "$guest_client" "$busybox" "$helpers/init" "$vmlinuz" "${libraries[@]}"
        printf '%s\n' "${module_order[@]}"
    } | sha256sum | cut -d' ' -f1
)
if [[ -f $initramfs && $(cat "$cache/$initramfs_name.key" 2>/dev/null) == "$initramfs_key" ]]; then
    step "initramfs cached ($(($(stat -c %s "$initramfs") >> 20)) MiB)"
else
    step "building the initramfs (${#libraries[@]} libraries, ${#module_order[@]} modules)"
    root=$cache/$initramfs_name-root
    rm -rf "$root"
    mkdir -p "$root"/{bin,usr/bin,etc/e2e,lib/modules}
    cp "$busybox" "$root/bin/busybox"
    install -m 0755 "$helpers/init" "$root/init"
    install -m 0755 "$guest_client" "$root/usr/bin/guest-client"
    # Debug info is most of the size and of the guest's unpacking time; the
    # dynamic symbols stay (--strip-unneeded), which is all the loader and the
    # Swift runtime use.
    install -m 0755 "$genidd" "$root/usr/bin/genidd"
    install -m 0755 "$genidd_daemon" "$root/usr/bin/genidd-daemon"
    strip --strip-unneeded "$root/usr/bin/genidd" "$root/usr/bin/genidd-daemon"
    for library in "${libraries[@]}"; do
        mkdir -p "$root$(dirname "$library")"
        cp -L "$library" "$root$library"
        case $library in
        */ld-linux*) ;; # the loader stays exactly as shipped
        *) strip --strip-unneeded "$root$library" ;;
        esac
    done
    for entry in "${module_order[@]}"; do
        name=${entry%%:*} file=${entry#*:}
        case $file in
        *.xz) xz -dc "$file" >"$root/lib/modules/$name.ko" ;; # busybox insmod reads plain .ko
        *.zst) zstd -qdc "$file" >"$root/lib/modules/$name.ko" ;;
        *) cp "$file" "$root/lib/modules/$name.ko" ;;
        esac
        echo "$name.ko" >>"$root/etc/e2e/modules"
    done
    # zstd: compact and fast to unpack under TCG. The guest has 512 MiB: the
    # unpacked initramfs (~90 MiB: genidd's Swift runtime, Foundation's ICU
    # data, libcurl's dependencies) must fit in RAM beside the kernel, and at
    # 256 MiB unpacking failed with "write error".
    (cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) | zstd -q -3 -T0 >"$initramfs.tmp"
    mv "$initramfs.tmp" "$initramfs"
    echo "$initramfs_key" >"$cache/$initramfs_name.key"
    step "initramfs built ($(($(stat -c %s "$initramfs") >> 20)) MiB compressed, $(du -sm "$root" | cut -f1) MiB unpacked)"
fi

# ---------------------------------------------------------------------------
# QEMU. Every instance gets the same command line except the vmgenid GUID
# (and, for a restore, -incoming); only the host-side log file names differ.
port=$("${vmctl[@]}" free-port)
qmp_socket=$run/qmp.sock
state_file=$run/state.bin
instance=0
qemu_pid=
serial_log=

# start_qemu GUID [INCOMING_URI]: starts QEMU in the background.
start_qemu() {
    local guid=$1 incoming=${2:-}
    instance=$((instance + 1))
    serial_log=$run/serial-$instance.log
    rm -f "$qmp_socket"
    # shellcheck disable=SC2054 # the commas separate QEMU's own sub-options
    local command=(
        "${qemu[@]}"
        -accel tcg -cpu max -m "$guest_memory" -nodefaults -display none -no-reboot
        -kernel "$vmlinuz" -initrd "$initramfs"
        -append "console=ttyS0 panic=-1"
        -chardev "file,id=console,path=$serial_log" -serial chardev:console
        # No option ROM: the guest never network-boots, and iPXE would slow down SeaBIOS.
        -netdev "user,id=net0,hostfwd=tcp:127.0.0.1:$port-:8080"
        -device virtio-net-pci,netdev=net0,romfile=
        -qmp "unix:$qmp_socket,server=on,wait=off"
    )
    # --vmclock-counter: no vmgenid, whose ACPI event on every restore would
    # also wake the guest and hide a VMClock notification that never came.
    ((counter)) || command+=(-device "vmgenid,id=vmgen0,guid=$guid")
    if ((vmclock)); then
        command+=(-device vmclock)
    fi
    if [[ -n $incoming ]]; then
        command+=(-incoming "$incoming")
    fi
    printf '%q ' "${command[@]}" >"$run/qemu-$instance.cmdline"
    "${command[@]}" >"$run/qemu-$instance.log" 2>&1 &
    qemu_pid=$!
    background_pids+=("$qemu_pid")
}

# check_guid GUID: QEMU's own view of the VM generation ID (no vmgenid with --vmclock-counter).
check_guid() {
    ((counter)) && return 0
    local reported
    reported=$("${vmctl[@]}" qmp "$qmp_socket" query-vm-generation-id | json 'j["guid"]')
    [[ ${reported,,} == "${1,,}" ]] || fail "query-vm-generation-id says $reported, expected $1"
}

# The source genidd's `auto` must choose: kmsg (vmgenid's fork log line),
# or the VMClock itself when it carries a generation counter.
expected_source=kmsg
((counter)) && expected_source=vmclock

# check_rest GENERATION SEQ: GET /v1/generation through the forwarded port.
check_rest() {
    local answer
    answer=$("${vmctl[@]}" get "http://127.0.0.1:$port/v1/generation" 10)
    local summary
    summary=$(json '"%s %s %s %s %s" % (j["status"], j["body"]["generation"], j["body"]["seq"], j["body"]["source"], j["body"]["stale"])' <<<"$answer")
    [[ $summary == "200 $1 $2 $expected_source False" ]] ||
        fail "GET /v1/generation: expected 200, generation $1, seq $2, source $expected_source, stale false; got: $answer"
}

# The console since serial_mark (a byte offset: a pause or a snapshot keeps
# the same QEMU and console log), without the console's CRs.
serial_mark=0
console_since_mark() { tail -c +$((serial_mark + 1)) "$serial_log" | tr -d '\r'; }
# count_lines REGEX: lines of the console since serial_mark matching REGEX.
count_lines() { console_since_mark | grep -cE "$1" || true; }

fork_line='random: crng reseeded due to virtual machine fork'
# --vmclock: QEMU bumps the VMClock's disruption marker on every incoming
# migration, new GUID or not; genidd logs it and the guest SSE client prints it.
disruption_log_line='clock disruption \(live migration\?\)'
disruption_sse_line='E2E sse clock-disruption marker=[0-9]+ id=[A-Za-z0-9_-]+\.[0-9]+$'
marker=
# check_disruption LABEL OBSERVED: exactly one disruption line of genidd and of
# the guest SSE client, with the marker one above the last (or any, at first);
# sets marker and disruption_note (host SSE: disruption events are sent only
# to connected streams, so the reconnecting host client may or may not get it).
check_disruption() {
    local count tag
    for tag in "$disruption_log_line" 'E2E sse clock-disruption'; do
        count=$(count_lines "$tag")
        ((count == 1)) || fail "$1: expected one console line matching /$tag/, found $count"
    done
    local line new_marker
    line=$(console_since_mark | grep -E 'E2E sse clock-disruption')
    [[ $line =~ marker=([0-9]+)\ id=[A-Za-z0-9_-]+\.[0-9]+$ ]] ||
        fail "$1: the guest's disruption event is malformed or has no <instance>.<seq> id: $line"
    new_marker=${BASH_REMATCH[1]}
    if [[ -n $marker ]] && ((new_marker != marker + 1)); then
        fail "$1: disruption marker $new_marker, expected $((marker + 1))"
    fi
    marker=$new_marker
    local host
    host=$(json '"; ".join("marker %s%s" % (e["data"].get("disruption_marker"), "" if "id" in e else " WITHOUT id")
        for e in j["sse"]["events"] if e.get("event") == "clock-disruption")' <<<"$2")
    [[ $host != *"WITHOUT id"* ]] || fail "$1: a host clock-disruption event has no id: $2"
    disruption_note="guest SSE clock-disruption marker=$marker, ${host:-none on the reconnecting host stream}"
}
# The tagged lines printed by guest-client for a change (not the start lines).
longpoll_line() { echo "E2E longpoll seq=$1 generation=$2\$"; }
sse_line() { echo "E2E sse seq=$1 generation=$2 id=[A-Za-z0-9_-]+\\.$1\$"; }

# ---------------------------------------------------------------------------
# Boot.
new_guid() { cat /proc/sys/kernel/random/uuid; }
guid=$(new_guid)
if ((counter)); then
    step "boot: starting QEMU (TCG, $guest_memory MiB, vmclock and no vmgenid, genidd on 127.0.0.1:$port)"
else
    step "boot: starting QEMU (TCG, $guest_memory MiB, vmgenid guid=$guid, genidd on 127.0.0.1:$port)"
fi
boot_start=$(now_ms)
start_qemu "$guid"
# --vmclock: the VMClock page is there, genidd's auto declines it (no VM
# generation counter) yet watches its disruption marker. --vmclock-counter:
# auto takes it, and is woken by the device (notification poll).
vmclock_specs=()
if ((counter)); then
    vmclock_specs=(
        vmclock_device='E2E init: /dev/vmclock0 present'
        chosen='source chosen notification=poll source=vmclock .*why=.*carries a VM generation counter and notifies on update'
    )
elif ((vmclock)); then
    vmclock_specs=(
        vmclock_device='E2E init: /dev/vmclock0 present'
        declined='without a VM generation counter'
        companion='watching clock disruptions'
    )
fi
boot=$("${vmctl[@]}" wait-serial "$serial_log" "$qemu_pid" "$boot_timeout" \
    "${vmclock_specs[@]}" \
    init='E2E init: uptime' \
    devices='E2E init: devices bound to vmgenid:' \
    probe='info source chosen' \
    ready='notice ready generation=' \
    longpoll='E2E longpoll start seq=[0-9]+ generation=[0-9]+$' \
    sse='E2E sse start seq=[0-9]+ generation=[0-9]+ id=[A-Za-z0-9_-]+\.[0-9]+$') ||
    fail "the guest did not come up (see $serial_log)"
boot_ms() { json "j['$1']['t'] - $boot_start" <<<"$boot"; }
step "boot: /init after $(boot_ms init) ms, genidd ready after $(boot_ms ready) ms, both guest clients subscribed after $(($(boot_ms longpoll) > $(boot_ms sse) ? $(boot_ms longpoll) : $(boot_ms sse))) ms"
step "boot: $(json 'j["devices"]["line"]' <<<"$boot" | sed 's/^E2E init: //')"
step "boot: genidd $(json 'j["probe"]["line"]' <<<"$boot" | sed 's/^.*source chosen/source chosen/')"
check_guid "$guid"
# check_readyz WHEN: still ready, on the expected source; --vmclock-counter:
# woken by the device (notification poll, no check_interval_ms: genidd never
# re-reads the page on a timer) and the page has both flags (bits 8 and 9).
check_readyz() {
    local readyz summary expected="200 ready $expected_source"
    readyz=$("${vmctl[@]}" get "http://127.0.0.1:$port/readyz" 10)
    echo "$readyz" >"$run/readyz-$1.json"
    summary=$(json '"%s %s %s" % (j["status"], j["body"]["status"], j["body"]["source"])' <<<"$readyz")
    if ((counter)); then
        summary+=$(json '" %s %s %s" % (j["body"].get("notification"), j["body"].get("check_interval_ms", "-"),
            hex(j["body"].get("vmclock_flags", 0) & 0x300))' <<<"$readyz")
        expected+=" poll - 0x300"
    fi
    [[ $summary == "$expected" ]] ||
        fail "$1: GET /readyz: expected $expected (status, state, source[, notification, check_interval_ms, flags & 0x300]); got: $readyz"
    readyz_body=$(json 'json.dumps(j["body"])' <<<"$readyz")
}
if ((counter)); then
    step "boot: /dev/vmclock0 present; genidd took it, to be woken by poll() on it"
    check_readyz boot
    step "boot: GET /readyz: $readyz_body"
elif ((vmclock)); then
    step "boot: /dev/vmclock0 present; genidd: $(json 'j["companion"]["line"]' <<<"$boot" | sed 's/^.*watching/watching/')"
    check_readyz boot
    step "boot: GET /readyz: $readyz_body"
fi

seq=$(json 'j["longpoll"]["line"].split("seq=")[1].split()[0]' <<<"$boot")
generation=$(json 'j["longpoll"]["line"].split("generation=")[1].split()[0]' <<<"$boot")
sse_start=$(json 'j["sse"]["line"]' <<<"$boot")
# SSE ids are <instance>.<seq> (genidd's series, not QEMU's $instance); the
# host's subscribers resume with that form.
series=$(json 'j["sse"]["line"].split("id=")[1].rsplit(".", 1)[0]' <<<"$boot")
[[ $sse_start == "E2E sse start seq=$seq generation=$generation id=$series.$seq" ]] ||
    fail "guest clients disagree at start: longpoll seq=$seq generation=$generation, $sse_start"
# kmsg counts VM forks since boot; the VMClock's counter is the hypervisor's
# (QEMU with the patches bumps it once when the device is created).
((counter || generation == 0)) || fail "a fresh boot should have generation 0 (no VM fork yet), genidd says $generation"
check_rest "$generation" "$seq"
step "boot: GET /v1/generation over the forwarded port: generation=$generation seq=$seq source=$expected_source stale=false"

# ---------------------------------------------------------------------------
# Rounds. "new": a restore with a new GUID (a real snapshot restore: one new
# seq for every subscriber). "same": a restore with the GUID the VM already
# has (QEMU does not notify the guest; nothing may change). The same-GUID
# restore sits between real ones, so the next real restore also proves it was
# not counted silently (seq + 1).
# --vmclock-counter: "restore": the patched QEMU advances the VMClock's
# counter on every incoming migration (it cannot tell a snapshot from a live
# migration), so every restore is a real one. "pause": stop, then cont in the
# same QEMU. "snapshot": stop, migrate to a file, then cont in the same QEMU
# (the VM that was snapshotted goes on; it is not a restored copy). Neither
# may change anything, not even the clock's disruption marker.
if ((counter)); then
    plan=(restore pause restore snapshot restore)
else
    plan=(new same new new)
fi
restore_specs=()
if ((vmclock)); then
    restore_specs=(disruption="$disruption_sse_line" genidd_disruption="$disruption_log_line")
fi
# Only with vmgenid (not --vmclock-counter) does a new GUID make the kernel log a VM fork.
kernel_specs=()
((counter)) || kernel_specs=(kernel="$fork_line")
summary=()
for ((round = 1; round <= ${#plan[@]}; round++)); do
    kind=${plan[round - 1]}
    [[ $kind == new ]] && guid=$(new_guid)
    restored=0
    case $kind in
    new | same | restore)
        restored=1
        # Save: stop, migrate to a file, quit.
        save=$("${vmctl[@]}" save "$qmp_socket" "$state_file" "$save_timeout") || fail "round $round: save failed"
        save_ms=$(json 'j["saved"] - j["started"]' <<<"$save")
        state_mib=$(($(json 'j["bytes"]' <<<"$save") >> 20))
        for ((wait_round = 0; wait_round < 100; wait_round++)); do
            kill -0 "$qemu_pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -0 "$qemu_pid" 2>/dev/null && fail "round $round: QEMU did not quit after the save"

        # Restore: a new QEMU with the same command line and the chosen GUID.
        load_start=$(now_ms)
        start_qemu "$guid" "exec:cat '$state_file'"
        loaded=$("${vmctl[@]}" incoming "$qmp_socket" "$qemu_pid" "$load_timeout") ||
            fail "round $round: loading the state failed (see $run/qemu-$instance.log)"
        load_ms=$(($(json 'j["loaded"]' <<<"$loaded") - load_start))
        check_guid "$guid"
        serial_mark=0
        if ((counter)); then
            label="restore $round" short="restore $round:"
        else
            label="restore $round ($kind guid $guid)" short="restore $round ($kind guid):"
            [[ $kind == new ]] && short+=" "
        fi
        step "$label: save ${save_ms} ms (${state_mib} MiB), load ${load_ms} ms"
        how="save ${save_ms} ms, load ${load_ms} ms"
        ;;
    pause)
        "${vmctl[@]}" qmp "$qmp_socket" stop >/dev/null || fail "round $round: stop failed"
        serial_mark=$(stat -c %s "$serial_log")
        label="pause $round" short="pause $round:"
        step "$label: stopped the VM (same QEMU)"
        how="stop, cont"
        ;;
    snapshot)
        # Stop and migrate to a file like a save, but keep this QEMU (postmigrate).
        save=$("${vmctl[@]}" snapshot "$qmp_socket" "$state_file" "$save_timeout") || fail "round $round: snapshot failed"
        save_ms=$(json 'j["saved"] - j["started"]' <<<"$save")
        state_mib=$(($(json 'j["bytes"]' <<<"$save") >> 20))
        serial_mark=$(stat -c %s "$serial_log")
        label="snapshot $round" short="snapshot $round:"
        step "$label: saved in ${save_ms} ms (${state_mib} MiB); the same QEMU goes on"
        how="save ${save_ms} ms, cont the snapshotted VM"
        ;;
    *) fail "unknown round kind $kind" ;;
    esac
    specs=()
    ((restored)) && specs=("${restore_specs[@]}")

    # cont, with the observers already in place: the console (kernel, genidd,
    # guest long-poll and SSE clients) and a host SSE client that reconnects
    # with the last seq it knows.
    if [[ $kind == new || $kind == restore ]]; then
        expect_seq=$((seq + 1)) expect_generation=$((generation + 1))
        observed=$("${vmctl[@]}" resume "$qmp_socket" "$qemu_pid" "$serial_log" \
            "http://127.0.0.1:$port/v1/events" "$series.$seq" "$event_timeout" "$settle_seconds" \
            "${kernel_specs[@]}" \
            genidd="generation change reported generation=$expect_generation .*seq=$expect_seq\$" \
            longpoll="$(longpoll_line "$expect_seq" "$expect_generation")" \
            sse="$(sse_line "$expect_seq" "$expect_generation")" \
            "${specs[@]}") ||
            fail "$label: a subscriber missed seq $expect_seq: $observed"
        echo "$observed" >"$run/observed-$round.json"
        # Generation events only: a clock-disruption event (--vmclock) may come too.
        host_events=$(json 'len([e for e in j["sse"]["events"] if e.get("event", "generation") == "generation"])' <<<"$observed")
        ((host_events == 1)) || fail "$label: the host SSE client got $host_events generation events, expected 1: $observed"
        host_event=$(json '"%s %s %s" % next((e["id"], e["data"]["seq"], e["data"]["generation"]) for e in j["sse"]["events"] if e.get("event", "generation") == "generation")' <<<"$observed")
        [[ $host_event == "$series.$expect_seq $expect_seq $expect_generation" ]] ||
            fail "$label: the host SSE event has id/seq/generation $host_event, expected $series.$expect_seq $expect_seq $expect_generation"
        # The host client listened $settle_seconds s past its event: by now an
        # extra guest line would be on the console too.
        tags=('generation change reported' "$(longpoll_line '[0-9]+' '[0-9]+')" "$(sse_line '[0-9]+' '[0-9]+')")
        ((counter)) || tags+=("$fork_line")
        for tag in "${tags[@]}"; do
            count=$(count_lines "$tag")
            ((count == 1)) || fail "$label: expected one console line matching /$tag/, found $count"
        done
        seq=$expect_seq generation=$expect_generation
        check_rest "$generation" "$seq"
        latencies=$(json '", ".join("%s %d ms" % (name, t - j["resumed"]) for name, t in
            ([("kernel log", j["serial"]["kernel"]["t"])] if "kernel" in j["serial"] else []) + [
            ("genidd log", j["serial"]["genidd"]["t"]),
            ("guest long-poll", j["serial"]["longpoll"]["t"]), ("guest SSE", j["serial"]["sse"]["t"]),
            ("host SSE", next(e["t"] for e in j["sse"]["events"] if e.get("event", "generation") == "generation"))]
            + ([("guest SSE clock-disruption", j["serial"]["disruption"]["t"])] if "disruption" in j["serial"] else []))' <<<"$observed")
        step "$label: cont -> $latencies"
        step "$label: every subscriber saw exactly seq=$seq generation=$generation; GET /v1/generation agrees (source $expected_source, not stale)"
        if ((vmclock)); then
            check_disruption "$label" "$observed"
            step "$label: exactly one clock disruption: $disruption_note"
            check_readyz "round-$round"
        fi
        summary+=("$short ${how}; cont -> $latencies")
    else
        # Nothing may happen: watch every subscriber for $quiet_seconds.
        # (--vmclock: except the clock disruption, which every restore brings;
        # the host client then listens $quiet_seconds s past that event.)
        observed=$("${vmctl[@]}" resume "$qmp_socket" "$qemu_pid" "$serial_log" \
            "http://127.0.0.1:$port/v1/events" "$series.$seq" "$quiet_seconds" "$((${#specs[@]} ? quiet_seconds : 0))" \
            "${specs[@]}") ||
            fail "$label: observing failed: $observed"
        echo "$observed" >"$run/observed-$round.json"
        # The console too: quiet for as long (after the disruption, if one was awaited).
        ((${#specs[@]})) && sleep "$quiet_seconds"
        host_events=$(json 'len([e for e in j["sse"]["events"] if e.get("event", "generation") == "generation"])' <<<"$observed")
        ((host_events == 0)) || fail "$label: nothing changed, yet the host SSE client got an event: $observed"
        tags=("$fork_line" 'generation change reported' 'E2E (longpoll|sse) seq=')
        # Not a restore: not even the clock's disruption marker moved.
        ((restored)) || tags+=("$disruption_log_line" 'E2E sse clock-disruption')
        for tag in "${tags[@]}"; do
            count=$(count_lines "$tag")
            ((count == 0)) || fail "$label: nothing changed, yet the console has $count lines matching /$tag/"
        done
        if ((!restored)); then
            host_events=$(json 'len(j["sse"]["events"])' <<<"$observed")
            ((host_events == 0)) || fail "$label: nothing changed, yet the host SSE client got an event: $observed"
        fi
        check_rest "$generation" "$seq"
        step "$label: no event anywhere for ${quiet_seconds} s after cont ($( ((counter)) || echo "kernel, ")genidd, guest long-poll and SSE, host SSE$( ((restored)) || echo ', no clock disruption either')); GET still seq=$seq"
        if ((vmclock && restored)); then
            check_disruption "$label" "$observed"
            step "$label: exactly one clock disruption, no generation: $disruption_note"
        fi
        ((vmclock)) && check_readyz "round-$round"
        summary+=("$short ${how}; no event within ${quiet_seconds} s, as expected")
    fi
done

# Once subscribed, the guest clients must have reported no error: a dropped
# stream or a failed long-poll means a reconnect that could hide or repeat an
# event. (Before, while genidd starts, they retry by design.)
errors=$(
    awk '/E2E longpoll start/ { longpoll = 1 } /E2E sse start/ { sse = 1 }
         (longpoll && /E2E longpoll error/) || (sse && /E2E sse error/)' "$run/serial-1.log"
    for ((n = 2; n <= instance; n++)); do
        grep -E 'E2E (longpoll|sse) error' "$run/serial-$n.log" || true
    done
)
[[ -z $errors ]] || fail "guest clients reported errors: $errors"

"${vmctl[@]}" qmp "$qmp_socket" quit >/dev/null || true
((keep_state)) || rm -f "$state_file"
step "PASS: ${#plan[@]} $( ((counter)) && echo "rounds (${plan[*]})" || echo restores), final generation=$generation seq=$seq"
printf '  %s\n' "boot: QEMU start -> genidd ready $(boot_ms ready) ms" "${summary[@]}"
