# Sourced by the benchmarks' -accel qtest modes: molt beside QEMU 10.2 in one run, each run of one
# script (scripts/lib/qtest_*.py, one JSON line per run) interleaved across the VMMs.
# qtest_vmms_find: sets qemu, fw and kinds (molt, and qemu if built), prints the host line. A benchmark
# may add to kinds molt-reload (molt updated by x-cpr-reload instead, QTEST_UPDATE_MODE), molt-transfer
# and qemu-transfer (cpr-transfer to a new process started first, QTEST_UPDATE_MODE=cpr-transfer).
# qtest_vmms_run SCRIPT SIZE RUNS WORK: appends each run's JSON line (or {"failed": true}) to WORK/KIND.

qtest_vmms_find() {
  qemu=${MOLT_QEMU:-$HOME/.cache/molt-qemu/10.2.2/build/qemu-system-x86_64}
  fw=$(dirname "$(dirname "$qemu")")/firmware; [ -d "$fw" ] || fw=/usr/share/qemu
  kinds=(molt)
  if [ -x "$qemu" ]; then kinds+=(qemu); else echo "no QEMU 10.2 at $qemu (../shared/tools/build-qemu.sh builds it): molt alone"; fi
  echo "host: $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg); /dev/kvm: $(molt_kvm_usable && echo usable || echo "unusable ($molt_kvm_why)")"
}

qtest_vmms_run() {
  local script=$1 size=$2 runs=$3 work=$4 i k
  for k in "${kinds[@]}"; do : >"$work/$k"; done
  for i in $(seq 1 "$runs"); do
    for k in "${kinds[@]}"; do
      case $k in
        molt) python3 "$script" "$root/bin/molt" "$work/run" "$size" 64 ;;
        molt-reload) QTEST_UPDATE_MODE=x-cpr-reload python3 "$script" "$root/bin/molt" "$work/run" "$size" 64 ;;
        molt-transfer) QTEST_UPDATE_MODE=cpr-transfer python3 "$script" "$root/bin/molt" "$work/run" "$size" 64 ;;
        qemu) python3 "$script" "$qemu" "$work/run" "$size" 64 -L "$fw" ;;
        qemu-transfer) QTEST_UPDATE_MODE=cpr-transfer python3 "$script" "$qemu" "$work/run" "$size" 64 -L "$fw" ;;
      esac >>"$work/$k" || echo '{"failed": true}' >>"$work/$k"
    done
  done
}
