# Sourced by bench/blk.sh and bench/net.sh: the test guest's benchmark mode (guest/README.md, blkbench=
# and netbench=) under molt and QEMU 10.2 with KVM, or with --qtest (and where KVM is unusable) the
# VMM side alone under -accel qtest (scripts/lib/qtest_virtio_bench.py), molt beside QEMU 10.2, runs
# interleaved.
# virtio_bench_setup [--qtest] [runs]: builds molt and the guest, sets qtest, runs, how, work (under
#   /var/tmp: the disk image wants a real file system, not tmpfs), kinds, qemu and fw; prints the host line.
# virtio_bench MODE BATCH LABEL: runs one mode and prints its line per VMM.
# Expects root to be set.

virtio_bench_setup() {
  qtest=
  if [ "${1:-}" = --qtest ]; then qtest=1; shift; fi
  runs=${1:-5}
  "$root/scripts/build.sh" >/dev/null
  "$root/guest/build.sh" >/dev/null
  work=$(mktemp -d /var/tmp/molt-virtio-bench.XXXXXX)
  trap 'rm -rf "$work"' EXIT
  # shellcheck source=../../scripts/lib/kvm.sh
  . "$root/scripts/lib/kvm.sh"
  if [ -z "$qtest" ] && ! molt_kvm_usable; then
    echo "KVM is unusable here ($molt_kvm_why): measuring the VMM side under -accel qtest"
    qtest=1
  fi
  # shellcheck source=qtest_vmms.sh
  . "$root/bench/lib/qtest_vmms.sh"
  qtest_vmms_find
  how=$([ -n "$qtest" ] && echo "qtest" || echo "guest, KVM")
}

virtio_bench() {
  local mode=$1 batch=$2 label=$3 i k
  for k in "${kinds[@]}"; do : >"$work/$k"; done
  for i in $(seq 1 "$runs"); do
    for k in "${kinds[@]}"; do
      if [ -n "$qtest" ]; then
        case $k in
          molt) python3 "$root/scripts/lib/qtest_virtio_bench.py" "$root/bin/molt" "$work/run" "$mode" "$batch" ;;
          qemu) python3 "$root/scripts/lib/qtest_virtio_bench.py" "$qemu" "$work/run" "$mode" "$batch" \
                  -L "$fw" -global virtio-mmio.force-legacy=false ;;
        esac
      else
        python3 "$root/bench/lib/guest_bench.py" "$k" "$([ "$k" = molt ] && echo "$root/bin/molt" || echo "$qemu")" \
          "$root/guest/build/molt-guest.elf" "$work/run" "$mode" "$batch"
      fi >>"$work/$k" 2>>"$work/errors" || echo '{"failed": true}' >>"$work/$k"
    done
  done
  echo "== $label, $runs runs each: median (min .. max) =="
  for k in "${kinds[@]}"; do
    python3 - "$work/$k" "$([ "$k" = molt ] && echo molt || echo qemu-10.2)" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
ok = [r for r in rows if not r.get("failed")]
def cell(key, unit):
    v = [r[key] for r in ok if r.get(key) is not None]
    return ("%s %g (%g .. %g) %s" % (key, statistics.median(v), min(v), max(v), unit)).rstrip() if v else ""
keys = [("iops", ""), ("mib_s", "MiB/s"), ("pps", ""), ("rtt_us", "us"), ("qtest_rtt_us", "us per qtest poll")]
cells = [c for c in (cell(k, u) for k, u in keys) if c]
print("  %-9s %s; %d/%d runs ok" % (sys.argv[2], "; ".join(cells), len(ok), len(rows)))
PY
  done
  if [ -s "$work/errors" ]; then echo "  errors:"; sort "$work/errors" | uniq -c | head -5 | sed 's/^/   /'; : >"$work/errors"; fi
}
