#!/usr/bin/env bash
# Live migration of the test guest over a unix socket, molt against Debian's QEMU, runs interleaved:
# total time, guest-visible pause (largest gap between guest ticks as the host sees them) and the
# throughput query-migrate reports. max-bandwidth is unlimited on both.
# With --qtest (or by itself where KVM is unusable): the VMM side alone, no guest CPU, molt beside
# QEMU 10.2 under -accel qtest: a 64 MiB pattern written through qtest (the rest of RAM zero), the
# migration, the destination's RAM read back; total time, reported downtime and throughput.
# Usage: bench/migrate.sh [--qtest] [runs] [sizes...]   (default: 5 runs, 1G 4G)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
qtest=
if [ "${1:-}" = --qtest ]; then qtest=1; shift; fi
runs=${1:-5}; shift || true
sizes=("$@"); [ ${#sizes[@]} -gt 0 ] || sizes=(1G 4G)
"$root/scripts/build.sh" >/dev/null
. "$root/scripts/lib/kvm.sh"
if [ -z "$qtest" ] && ! molt_kvm_usable; then
  echo "KVM is unusable here ($molt_kvm_why): measuring the VMM side of live migration under -accel qtest"
  qtest=1
fi
if [ -n "$qtest" ]; then
  . "$root/bench/lib/qtest_vmms.sh"
  qtest_vmms_find
  work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
  for size in "${sizes[@]}"; do
    qtest_vmms_run "$root/scripts/lib/qtest_migrate.py" "$size" "$runs" "$work"
    echo "== qtest, live migration over unix, -m $size (64 MiB pattern checked byte for byte), $runs runs each: median (min .. max) =="
    for k in "${kinds[@]}"; do
      label=$([ "$k" = molt ] && echo "molt" || echo "qemu-10.2")
      python3 - "$work/$k" "$label" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
ok = [r for r in rows if not r.get("failed") and r["ram_equal"]]
def cell(key, fmt="%.1f"):
    v = [r[key] for r in ok if r.get(key) is not None]
    return (fmt + " (" + fmt + " .. " + fmt + ")") % (statistics.median(v), min(v), max(v)) if v else "-"
print("  %-9s total %s ms; downtime %s ms; %s Mbit/s; migrate->destination running %s ms; %d/%d runs RAM equal"
      % (sys.argv[2], cell("total_ms"), cell("downtime_ms"), cell("mbps"), cell("running_ms"), len(ok), len(rows)))
PY
    done
  done
  exit 0
fi
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
