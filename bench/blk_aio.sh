#!/usr/bin/env bash
# virtio-blk's image I/O per aio= mode: the time for a fixed run of random requests of scattered
# 4 KiB buffers (what a guest's request hands the device), aio=threads against aio=io_uring, runs
# interleaved. Usage: bench/blk_aio.sh [runs] [cache: none|writeback] [read|write] [requests] [buffers]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$root/bin/lib/jdk.sh"
molt_find_jdk
runs=${1:-7}; cache=${2:-none}; op=${3:-read}; requests=${4:-2000}; buffers=${5:-32}
"$root/scripts/build.sh" >/dev/null
out=$(mktemp -d); trap 'rm -rf "$out"' EXIT
image="$root/target/bench-aio.raw"   # on the worktree's file system: /tmp may be tmpfs, which refuses O_DIRECT
[ -f "$image" ] || dd if=/dev/urandom of="$image" bs=1M count=256 status=none
for i in $(seq 1 "$runs"); do
  for aio in threads io_uring; do
    "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -cp "$root/target/classes" "$root/bench/lib/BlkAio.java" \
      "$image" "$aio" "$cache" "$op" "$requests" "$buffers" >>"$out/$aio"
  done
done
echo "virtio-blk image I/O: $requests random ${op}s of $buffers x 4 KiB buffers, cache=$cache, 256 MiB image, $runs runs each (interleaved)"
for aio in threads io_uring; do echo "  aio=$aio: $(python3 "$root/bench/lib/stats.py" <"$out/$aio")"; done
