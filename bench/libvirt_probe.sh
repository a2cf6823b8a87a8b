#!/usr/bin/env bash
# How long Debian's libvirt takes to probe an emulator: molt (bin/molt) beside QEMU 10.2, runs
# interleaved. Each run is scripts/lib/libvirt_probe.sh (a private libvirtd, a fresh cache); the
# times come from libvirtd's own log: "launch" from starting the emulator (-machine none ...
# -daemonize) to the monitor's connection, i.e. until the daemonized process is ready; "probe" from
# that start to libvirt killing the process after its last question.
#   bench/libvirt_probe.sh [RUNS]     (default 5)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
runs=${1:-5}
command -v libvirtd >/dev/null || { echo "libvirt is not installed (apt-get install libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients)" >&2; exit 1; }
qemu=${MOLT_QEMU:-$HOME/.cache/molt-qemu/10.2.2/build/qemu-system-x86_64}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
kinds=(molt)
if [ -x "$qemu" ]; then
  # libvirt runs the binary with its own arguments only: the wrapper adds QEMU's firmware directory.
  mkdir -p "$work/qemu-bin"
  printf '#!/bin/sh\nexec %q -L /usr/share/qemu "$@"\n' "$qemu" >"$work/qemu-bin/qemu-system-x86_64"
  chmod +x "$work/qemu-bin/qemu-system-x86_64"
  kinds+=(qemu)
else
  echo "no QEMU 10.2 at $qemu: molt alone"
fi
echo "host: $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg); $runs runs each, interleaved"
for i in $(seq 1 "$runs"); do
  for k in "${kinds[@]}"; do
    case $k in
      molt) emulator=$root/bin/molt ;;
      qemu) emulator=$work/qemu-bin/qemu-system-x86_64 ;;
    esac
    rm -rf "$work/out"
    "$root/scripts/lib/libvirt_probe.sh" "$emulator" kvm "$work/out" || true # without KVM virsh refuses kvm; the probe is done by then
    cp "$work/out/libvirtd.log" "$work/$k.$i.log"
  done
done
python3 - "$work" "$runs" "${kinds[@]}" <<'PY'
import datetime, re, statistics, sys
work, runs, kinds = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
def at(line):
    return datetime.datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S.%f")
for kind in kinds:
    launch, probe = [], []
    for i in range(1, runs + 1):
        start = ready = end = None
        for line in open(f"{work}/{kind}.{i}.log", errors="replace"):
            if start is None and "Try to probe capabilities" in line: start = at(line)
            elif ready is None and "qemuProcessQMPConnectMonitor" in line: ready = at(line)
            elif "Killing QMP caps process" in line: end = at(line)
        if start and ready and end:
            launch.append((ready - start).total_seconds() * 1000)
            probe.append((end - start).total_seconds() * 1000)
    if not probe:
        print(f"{kind}: no complete probe"); continue
    fmt = lambda v: f"median {statistics.median(v):.0f} ms (range {min(v):.0f}-{max(v):.0f})"
    print(f"{kind:5} launch until ready: {fmt(launch)}; whole probe: {fmt(probe)}; {len(probe)} runs")
PY
