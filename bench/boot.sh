#!/usr/bin/env bash
# Time from process start to the test guest's READY line: molt against Debian's QEMU on the same
# guest, RAM size and vCPU count, runs interleaved. Usage: bench/boot.sh [runs] [ram] [cpus]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
runs=${1:-10}; ram=${2:-1G}; cpus=${3:-2}; region=${MOLT_BENCH_REGION:-64M}
"$root/scripts/build.sh" >/dev/null
guest="$root/guest/build/molt-guest.elf"
if ! command -v qemu-system-x86_64 >/dev/null; then
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq qemu-system-x86 >/dev/null
  else echo "bench: qemu-system-x86_64 is missing: apt-get install qemu-system-x86" >&2; exit 1; fi
fi
qemu_version=$(qemu-system-x86_64 --version | head -n1)
out=$(mktemp -d); trap 'rm -rf "$out"' EXIT
molt_cmd=("$root/bin/molt" -m "$ram" -smp "$cpus" -kernel "$guest" -append "mem=$region" -serial stdio -display none)
qemu_pc=(qemu-system-x86_64 -enable-kvm -machine pc -cpu host -m "$ram" -smp "$cpus" -kernel "$guest"
         -append "mem=$region" -serial stdio -display none -nodefaults -no-user-config)
qemu_microvm=(qemu-system-x86_64 -enable-kvm -machine microvm -cpu host -m "$ram" -smp "$cpus" -kernel "$guest"
         -append "mem=$region" -serial stdio -display none -nodefaults -no-user-config)
for i in $(seq 1 "$runs"); do
  python3 "$root/bench/lib/time_to_line.py" READY 60 "${molt_cmd[@]}" >>"$out/molt"
  python3 "$root/bench/lib/time_to_line.py" READY 60 "${qemu_pc[@]}" >>"$out/qemu-pc"
  python3 "$root/bench/lib/time_to_line.py" READY 60 "${qemu_microvm[@]}" >>"$out/qemu-microvm"
done
echo "boot to READY: test guest, -m $ram -smp $cpus, mem=$region, $runs runs each (interleaved)"
echo "  molt $(sed -n 's/^Implementation-Version: //p' <(unzip -p "$root/target/molt.jar" META-INF/MANIFEST.MF) | tr -d '\r'):  $(python3 "$root/bench/lib/stats.py" <"$out/molt")"
echo "  $qemu_version -machine pc:      $(python3 "$root/bench/lib/stats.py" <"$out/qemu-pc")"
echo "  $qemu_version -machine microvm: $(python3 "$root/bench/lib/stats.py" <"$out/qemu-microvm")"
for f in molt qemu-pc qemu-microvm; do
  t=$(grep -c timeout "$out/$f" || true); [ "$t" = 0 ] || echo "  $f: $t run(s) did not reach READY within 60 s"
done
