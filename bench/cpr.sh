#!/usr/bin/env bash
# Live update of the VMM under the running test guest, measured from the host: guest-visible pause
# (largest gap between guest ticks) and QMP-visible time (migrate until query-status says running).
# With KVM: molt's cpr-exec and cpr-transfer beside QEMU 10.2's (../shared/tools/build-qemu.sh builds it; MOLT_QEMU
# names another), the same test guest, runs interleaved (bench/lib/cpr_bench.py).
# Under -accel qtest (with --qtest, or by itself where KVM is unusable) no guest CPU runs: it measures
# the VMM side of the pause, molt beside QEMU 10.2 (../shared/tools/build-qemu.sh builds it; MOLT_QEMU
# names another) in the same run: a pattern in guest RAM, cpr-exec, the pattern read back; molt's
# x-cpr-reload (a new molt loaded into the same process, docs/live-update.md) beside them; and
# cpr-transfer for both (a new process started first with a main and a cpr -incoming channel, the old one
# told migrate with both, the pattern read back from the new process; its PID differs by design).
# Each row: migrate until the updated VMM says running on QMP (query-status, a fresh connection
# polled; cpr-transfer: one connection kept), its RESUME event's timestamp ([n/m]: a client saw it in
# only n of m runs; cpr-transfer also the guest's pause, from the old process's STOP event to the new one's
# RESUME, both stamped by the host's clock), the downtime it reports in query-migrate (cpr-transfer: the new
# process's, and the old one's, which is QEMU's only), and the runs whose RAM came back equal (cpr-exec and
# x-cpr-reload: in the same PID; cpr-transfer: in a new PID, the old one still alive). cpr-transfer's
# total: from starting the new process until it says running. cpr-exec rows also give the minor page faults
# the process took (on nested hosts, kvm_pvm, each costs about 20 us) and molt's own account of its pause
# (x-cpr-downtime-breakdown).
# Usage: bench/cpr.sh [--qtest] [runs] [sizes...]   (default: 5 runs; 1G 4G 16G; 1 and 2 vCPUs)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
qtest=
if [ "${1:-}" = --qtest ]; then qtest=1; shift; fi
runs=${1:-5}; shift || true
sizes=("$@"); [ ${#sizes[@]} -gt 0 ] || sizes=(1G 4G 16G)
"$root/scripts/build.sh" >/dev/null
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
# shellcheck source=../scripts/lib/kvm.sh
. "$root/scripts/lib/kvm.sh"
if [ -z "$qtest" ] && ! molt_kvm_usable; then
  echo "KVM is unusable here ($molt_kvm_why): measuring the VMM side of the update under -accel qtest"
  qtest=1
fi
if [ -n "$qtest" ]; then
  . "$root/bench/lib/qtest_vmms.sh"
  qtest_vmms_find
  # x-cpr-reload beside cpr-exec (molt's own mode: QEMU has none); cpr-transfer for both
  if [ ${#kinds[@]} -gt 1 ]; then kinds=(molt molt-reload molt-transfer qemu qemu-transfer); else kinds=(molt molt-reload molt-transfer); fi
  for size in "${sizes[@]}"; do
    qtest_vmms_run "$root/scripts/lib/qtest_update.py" "$size" "$runs" "$work"
    echo "== qtest, -m $size (64 MiB pattern checked byte for byte), $runs runs each: median (min .. max) ms; load $(cut -d' ' -f1-3 /proc/loadavg) =="
    for k in "${kinds[@]}"; do
      case $k in
        molt) label="molt cpr-exec" ;; molt-reload) label="molt x-cpr-reload" ;; molt-transfer) label="molt cpr-transfer" ;;
        qemu) label="qemu-10.2 cpr-exec" ;; qemu-transfer) label="qemu-10.2 cpr-transfer" ;;
      esac
      python3 - "$work/$k" "$label" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
transfer = sys.argv[2].endswith("cpr-transfer")
ok = [r for r in rows if not r.get("failed") and r["ram_equal"] and (r["pid_before"] != r["pid_after"] and r["alive"]
      and r["src_migrate_status"] == "completed" if transfer else r["pid_before"] == r["pid_after"])]
def cell(key, of=lambda r: r): # [n/m]: the value was there in only n of the m good runs (a RESUME no client saw)
    v = [of(r)[key] for r in ok if of(r).get(key) is not None]
    some = "" if len(v) == len(ok) else " [%d/%d]" % (len(v), len(ok))
    return "%.1f (%.1f .. %.1f)%s" % (statistics.median(v), min(v), max(v), some) if v else "-"
if transfer:
    print("  %-22s guest's pause (old STOP to new RESUME) %s; migrate->running on QMP %s; RESUME event %s;"
          " reported downtime: new process %s, old process %s; start->running %s; %d/%d runs new PID and RAM equal"
          % (sys.argv[2], cell("pause_ms"), cell("qmp_running_ms"), cell("resume_event_ms"), cell("downtime_ms"),
             cell("src_downtime_ms"), cell("total_ms"), len(ok), len(rows)))
else: # x-cpr-reload: also the guest's pause, from STOP to RESUME on the one QMP connection
    pause = "guest's pause (STOP to RESUME) %s; " % cell("pause_ms") if any("pause_ms" in r for r in ok) else ""
    faults = "; minor page faults %s" % cell("minor_faults") if any("minor_faults" in r for r in ok) else ""
    breakdown = lambda r: r.get("breakdown") or {} # where molt's pause went, as its query-migrate tells it, in its order
    parts = list(breakdown(ok[0])) if ok and sys.argv[2].endswith("cpr-exec") else []
    if parts:
        faults += "; of the downtime: " + ", ".join("%s %s" % (k, cell(k, breakdown)) for k in parts)
    print("  %-22s %smigrate->running on QMP %s; RESUME event %s; reported downtime %s; %d/%d runs same PID and RAM equal%s"
          % (sys.argv[2], pause, cell("qmp_running_ms"), cell("resume_event_ms"), cell("downtime_ms"), len(ok), len(rows), faults))
PY
    done
  done
  exit 0
fi
# With KVM: the test guest (ring 3, 10 ms ticks) under molt and QEMU 10.2 (pc machine), interleaved.
. "$root/bench/lib/qtest_vmms.sh"
qtest_vmms_find
kinds=(molt molt-transfer); [ -x "$qemu" ] && kinds+=(qemu qemu-transfer)
for size in "${sizes[@]}"; do
  for cpus in 1 2; do
    for k in "${kinds[@]}"; do : >"$work/$k"; done
    for i in $(seq 1 "$runs"); do
      for k in "${kinds[@]}"; do
        python3 "$root/bench/lib/cpr_bench.py" "$k" "$size" "$cpus" "$work/run" "$root/bin/molt" "$qemu" "$fw" \
          "$root/guest/build/molt-guest.elf" >>"$work/$k" || true
      done
    done
    echo "== KVM, -m $size, $cpus vCPU(s), guest mem=64M, $runs runs each: median (min .. max), ms =="
    for k in "${kinds[@]}"; do
      case $k in
        molt) label="molt cpr-exec" ;; molt-transfer) label="molt cpr-transfer" ;;
        qemu) label="qemu-10.2 cpr-exec" ;; qemu-transfer) label="qemu-10.2 cpr-transfer" ;;
      esac
      python3 - "$work/$k" "$label" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip().startswith("{")]
ok = [r for r in rows if not r.get("failed")]
def cell(key, get=lambda r: r):
    v = [get(r)[key] for r in ok if get(r) and get(r).get(key) is not None]
    return "%.1f (%.1f .. %.1f)" % (statistics.median(v), min(v), max(v)) if v else "-"
parts = list(ok[0].get("breakdown") or {}) if ok else []
extra = ("; of the downtime: " + ", ".join("%s %s" % (p, cell(p, lambda r: r.get("breakdown"))) for p in parts)) if parts else ""
print("  %-22s guest's pause %s; migrate->running on QMP %s; reported downtime %s; %d/%d runs%s"
      % (sys.argv[2], cell("pause_ms"), cell("qmp_ms"), cell("downtime_ms"), len(ok), len(rows), extra))
for r in rows:
    if r.get("failed"): print("    failed:", r["failed"])
PY
    done
  done
done
