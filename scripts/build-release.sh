#!/usr/bin/env bash
# Builds the executables that ship (the image, scripts/run.sh, the footprint
# benchmark) and installs them, stripped, in DIRECTORY (default:
# .build/genidd-release): `genidd` (the client commands, and `serve`, which
# runs `genidd-daemon` from the same directory) and `genidd-daemon`.
#
#   --static-swift-stdlib          the Swift runtime and the parts of it genidd
#                                  uses are linked in: no libswiftCore.so and no
#                                  Foundation libraries to ship or load;
#   lld, -z pack-relative-relocs   relative relocations as a compact DT_RELR
#                                  table (glibc 2.36+, Debian 12) instead of
#                                  ~0.9 MB of RELA entries that every start
#                                  reads and every process keeps resident;
#   --no-export-dynamic            no dynamic symbol table for genidd's own
#                                  symbols (nothing dlopens the executables);
#   -s                             no symbol table (about half the size);
#   --symbol-ordering-file         the functions genidd-daemon runs while it
#                                  starts and serves placed together
#                                  (scripts/link-order.txt, written by
#                                  scripts/link-order.sh), so that fewer pages
#                                  of code stay resident: idle RSS 11.4 -> 9.4
#                                  MiB. The client's linking ignores the names
#                                  it does not have.
#
# Extra arguments go to swift build (for example --scratch-path).
set -euo pipefail
cd "$(dirname "$0")/.."
destination=${1:-.build/genidd-release}
shift || true
flags=(-c release --static-swift-stdlib -Xswiftc -use-ld=lld
    -Xlinker -z -Xlinker pack-relative-relocs -Xlinker --no-export-dynamic -Xlinker -s
    -Xlinker "--symbol-ordering-file=$PWD/scripts/link-order.txt" -Xlinker --no-warn-symbol-ordering "$@")
bin=$(swift build "${flags[@]}" --show-bin-path | tail -n 1)
for product in genidd genidd-daemon; do
    # swift build relinks when its flags change, not when the order file does.
    rm -f "$bin/$product"
    swift build "${flags[@]}" --product "$product"
done
for product in genidd genidd-daemon; do
    install -D -m 0755 "$bin/$product" "$destination/$product"
    echo "build-release: $destination/$product ($(stat -c %s "$destination/$product") bytes)" >&2
done
