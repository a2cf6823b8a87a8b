#!/usr/bin/env bash
# Live update of the VMM under the running test guest, measured from the host: guest-visible pause
# (largest gap between guest ticks) and QMP-visible time (migrate until query-status says running).
# molt cpr-exec and cpr-transfer with and without the AOT cache, against Debian's QEMU 7.2, which has no CPR modes and
# is updated by stop + migrate to a file (exec:cat) + a new QEMU with -incoming exec:cat FILE.
# Usage: bench/cpr.sh [runs] [sizes...]   (default: 5 runs; 1G 4G 16G; 1 and 2 vCPUs)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
runs=${1:-5}; shift || true
sizes=("$@"); [ ${#sizes[@]} -gt 0 ] || sizes=(1G 4G 16G)
"$root/scripts/build.sh" >/dev/null
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
for size in "${sizes[@]}"; do
  for cpus in 1 2; do
    kinds=(molt molt-noaot molt-transfer molt-transfer-noaot qemu)
    for k in "${kinds[@]}"; do : >"$work/$k"; done
    for i in $(seq 1 "$runs"); do
      for k in "${kinds[@]}"; do
        python3 "$root/bench/lib/cpr_bench.py" "$k" "$size" "$cpus" "$work/run" "$root/bin/molt" \
          "$root/guest/build/molt-guest.elf" >>"$work/$k" || echo failed >>"$work/$k"
      done
    done
    echo "== -m $size, $cpus vCPU(s), $runs runs each =="
    for k in "${kinds[@]}"; do
      case $k in
        molt) label="molt cpr-exec (AOT)" ;;
        molt-noaot) label="molt cpr-exec (no AOT)" ;;
        molt-transfer) label="molt cpr-transfer (AOT)" ;;
        molt-transfer-noaot) label="molt cpr-transfer (no AOT)" ;;
        qemu) label="qemu-7.2 stop+file+restart" ;;
      esac
      echo "  $label pause: $(awk '$1 ~ /^[0-9.]+$/ {print $1}' "$work/$k" | python3 "$root/bench/lib/stats.py")"
      echo "  $label QMP:   $(awk '$1 ~ /^[0-9.]+$/ {print $2}' "$work/$k" | python3 "$root/bench/lib/stats.py")"
    done
  done
done
