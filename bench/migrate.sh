#!/usr/bin/env bash
# Live migration of the test guest over a unix socket, molt against Debian's QEMU, runs interleaved:
# total time, guest-visible pause (largest gap between guest ticks as the host sees them) and the
# throughput query-migrate reports. max-bandwidth is unlimited on both.
# Usage: bench/migrate.sh [runs] [sizes...]   (default: 5 runs, 1G 4G)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
runs=${1:-5}; shift || true
sizes=("$@"); [ ${#sizes[@]} -gt 0 ] || sizes=(1G 4G)
"$root/scripts/build.sh" >/dev/null
command -v qemu-system-x86_64 >/dev/null || { echo "bench: apt-get install qemu-system-x86" >&2; exit 1; }
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
for size in "${sizes[@]}"; do
  for vmm in molt qemu; do : >"$work/$vmm-$size"; done
  for i in $(seq 1 "$runs"); do
    for vmm in molt qemu; do
      python3 "$root/bench/lib/migrate_bench.py" "$vmm" "$size" 2 256M "$work/run" "$root/bin/molt" \
        "$root/guest/build/molt-guest.elf" >>"$work/$vmm-$size" || echo "failed" >>"$work/$vmm-$size"
    done
  done
  echo "== -m $size, 2 vCPUs, guest region 256M, $runs runs each =="
  for vmm in molt qemu; do
    col() { awk -v c="$1" '$1 ~ /^[0-9.]+$/ {print $c}' "$work/$vmm-$size"; }
    echo "  $vmm total:  $(col 1 | python3 "$root/bench/lib/stats.py")"
    echo "  $vmm pause:  $(col 2 | python3 "$root/bench/lib/stats.py")"
    echo "  $vmm Mbit/s: $(col 3 | python3 "$root/bench/lib/stats.py" | sed 's/ ms//g')"
    bad=$(grep -vc '^[0-9.]* [0-9.]* [0-9.]*$' "$work/$vmm-$size" || true); [ "$bad" = 0 ] || echo "  $vmm: $bad failed run(s)"
  done
done
