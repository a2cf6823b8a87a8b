#!/usr/bin/env bash
# molt's demo: builds molt and the bundled test guest, boots the guest on KVM with 2 vCPUs and
# 1 GiB of RAM, shows its serial console for a few seconds, then powers it off.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
seconds=${MOLT_DEMO_SECONDS:-4}
"$root/scripts/build.sh"
[ -e /dev/kvm ] || { echo "molt: /dev/kvm is missing: the demo needs KVM" >&2; exit 1; }
run=$(mktemp -d)
trap 'rm -rf "$run"' EXIT
echo "== booting the test guest under molt (2 vCPUs, 1 GiB, shared memfd RAM) =="
"$root/bin/molt" -machine microvm,aux-ram-share=on -m 1G -smp 2 \
  -kernel "$root/guest/build/molt-guest.elf" -append "mem=256M" \
  -serial "file:$run/console.log" -display none -pidfile "$run/molt.pid" </dev/null &
molt=$!
for _ in $(seq 1 100); do grep -q READY "$run/console.log" 2>/dev/null && break; sleep 0.1; done
echo "molt PID: $(cat "$run/molt.pid" 2>/dev/null || echo "$molt")"
sleep "$seconds"
kill "$molt"; wait "$molt" 2>/dev/null || true
echo "== guest console (first 12 and last 6 lines) =="
head -n 12 "$run/console.log"
echo "..."
tail -n 6 "$run/console.log"
ticks=$(grep -c '^tick .* ok' "$run/console.log" || true)
bad=$(grep -c 'CORRUPT' "$run/console.log" || true)
echo "== $ticks ticks with memory integrity ok, $bad corrupt =="
[ "$ticks" -gt 0 ] && [ "$bad" -eq 0 ]
