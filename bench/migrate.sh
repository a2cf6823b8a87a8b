#!/usr/bin/env bash
# Live migration of the test guest over a unix socket, molt beside QEMU 10.2 (../shared/tools/build-qemu.sh;
# MOLT_QEMU names another), runs interleaved: total time, guest-visible pause (largest gap between guest
# ticks as the host sees them, from migrate on; [swi]: it was at the switch-over, [sou]: on the source
# while RAM was sent, [des]: on the destination), the switch-over gap alone (the source's last tick to
# the destination's first), the throughput and downtime query-migrate reports, and whether the guest's
# pages all checked out after the switch-over. max-bandwidth is unlimited on both.
# With --qtest (or by itself where KVM is unusable): the VMM side alone, no guest CPU, molt beside
# QEMU 10.2 under -accel qtest: a 64 MiB pattern written through qtest (the rest of RAM zero), the
# migration, the destination's RAM read back; total time, reported downtime and throughput.
# Usage: [GUEST_ARGS=...] bench/migrate.sh [--qtest] [runs] [sizes...]   (default: 5 runs, 1G 4G)
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
# With KVM: the test guest rewriting pages all the time (GUEST_ARGS, default mem=256M dirty=256 slice=8M:
# each vCPU rewrites 256 pages a tick, 100 MiB/s), its pages checked after each switch-over
# (bench/lib/migrate_bench.py), 1 and 2 vCPUs, molt beside QEMU 10.2 (pc machine) in one run.
. "$root/bench/lib/qtest_vmms.sh"
qtest_vmms_find
gargs=${GUEST_ARGS:-mem=256M dirty=256 slice=8M}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
# QEMU twice where RAM allows: its default anonymous RAM, and RAM in a shared memfd (qemu-memfd), as
# molt's always is and as QEMU's cpr-exec and cpr-transfer need it. QEMU reads every page of that
# memfd, which allocates all of it on both sides: 2 x RAM of host memory, so only up to 4G here.
for size in "${sizes[@]}"; do
  row=("${kinds[@]}")
  bytes=$(python3 -c 'import re,sys; m=re.fullmatch(r"(\d+)([KMGT]?)", sys.argv[1].upper()); print(int(m.group(1)) << {"":0,"K":10,"M":20,"G":30,"T":40}[m.group(2)])' "$size")
  if [ -x "$qemu" ] && [ "$bytes" -le $((4 << 30)) ]; then row+=(qemu-memfd); fi
  for cpus in 1 2; do
    for k in "${row[@]}"; do : >"$work/$k"; done
    for i in $(seq 1 "$runs"); do
      for k in "${row[@]}"; do
        python3 "$root/bench/lib/migrate_bench.py" "$k" "$size" "$cpus" "$gargs" "$work/run" "$root/bin/molt" \
          "$qemu" "$fw" "$root/guest/build/molt-guest.elf" >>"$work/$k" || true
      done
    done
    echo "== KVM, live migration over unix, -m $size, $cpus vCPU(s), guest $gargs, $runs runs each: median (min .. max) =="
    for k in "${row[@]}"; do
      case $k in molt) label=molt ;; qemu) label=qemu-10.2 ;; *) label="qemu-10.2, RAM in a memfd" ;; esac
      python3 - "$work/$k" "$label" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip().startswith("{")]
done = [r for r in rows if not r.get("failed")]
def cell(key, fmt="%.1f"):
    v = [r[key] for r in done if r.get(key) is not None]
    return (fmt + " (" + fmt + " .. " + fmt + ")") % (statistics.median(v), min(v), max(v)) if v else "-"
clean = sum(1 for r in done if r["pages"] == "ok")
# Where each run's longest gap was: at the switch-over, or on the source while its RAM was sent (the
# guest slowed: dirty-logging faults, and on a small host the sender beside its vCPUs).
where = ",".join(r.get("pause_where", "?")[:3] for r in done)
print("  %-26s total %s ms; guest's pause %s ms [%s]; switch-over gap %s ms; reported downtime %s ms; %s Mbit/s;"
      " pages checked clean in %d/%d runs"
      % (sys.argv[2], cell("total_ms"), cell("pause_ms"), where, cell("switch_over_ms"), cell("downtime_ms"),
         cell("mbps", "%.0f"), clean, len(rows)))
for r in rows:
    if r.get("failed"): print("    failed:", r["failed"])
    elif r["pages"] != "ok": print("    pages:", r["pages"])
PY
    done
  done
done
