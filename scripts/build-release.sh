#!/usr/bin/env bash
# Builds the genidd binary that ships (the image, scripts/run.sh, the
# footprint benchmark) and installs it, stripped, at DESTINATION
# (default: .build/genidd-release).
#
#   --static-swift-stdlib          the Swift runtime and the parts of it genidd
#                                  uses are linked in: no libswiftCore.so and no
#                                  Foundation libraries to ship or load;
#   lld, -z pack-relative-relocs   relative relocations as a compact DT_RELR
#                                  table (glibc 2.36+, Debian 12) instead of
#                                  ~0.9 MB of RELA entries that every start
#                                  reads and every process keeps resident;
#   --no-export-dynamic            no dynamic symbol table for genidd's own
#                                  symbols (nothing dlopens the executable);
#   -s                             no symbol table (about half the size).
#
# Extra arguments go to swift build (for example --scratch-path).
set -euo pipefail
cd "$(dirname "$0")/.."
destination=${1:-.build/genidd-release}
shift || true
flags=(-c release --product genidd --static-swift-stdlib -Xswiftc -use-ld=lld
    -Xlinker -z -Xlinker pack-relative-relocs -Xlinker --no-export-dynamic -Xlinker -s "$@")
swift build "${flags[@]}"
install -D -m 0755 "$(swift build "${flags[@]}" --show-bin-path)/genidd" "$destination"
echo "build-release: $destination ($(stat -c %s "$destination") bytes)" >&2
