#!/usr/bin/env bash
# molt's demo: builds molt and the bundled test guest, boots the guest on KVM (2 vCPUs, 1 GiB of
# shared memfd RAM), then live-updates molt under it with cpr-exec: the same PID execs a new molt,
# which maps the guest's RAM back from the inherited memfd and resumes it. The guest's ticks carry
# on with consecutive numbers and its memory check stays "ok".
# Where KVM is unusable it says so in one line and shows the same update under -accel qtest: no guest
# CPU runs, a pattern is written into guest RAM through qtest, cpr-exec, and the pattern is read back
# byte for byte from the same PID; then x-cpr-reload (a new molt loaded into the same process, which
# KVM guests cannot take yet), the pattern read back over the same qtest connection.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/scripts/build.sh"
# shellcheck source=lib/kvm.sh
. "$root/scripts/lib/kvm.sh"
if ! molt_kvm_usable; then
  echo "KVM is unusable here ($molt_kvm_why): showing the live update under -accel qtest instead"
  exec python3 "$root/scripts/lib/qtest_demo.py" "$root/bin/molt"
fi
run=$(mktemp -d)
molt=
cleanup() { [ -n "$molt" ] && kill "$molt" 2>/dev/null; rm -rf "$run"; }
trap cleanup EXIT
args=(-machine microvm,aux-ram-share=on -m 1G -smp 2 -kernel "$root/guest/build/molt-guest.elf" -append "mem=256M"
      -chardev "file,id=con,path=$run/console.log,append=on" -serial chardev:con -display none
      -qmp "unix:$run/vm.qmp,server=on,wait=off")
echo "== booting the test guest under molt (2 vCPUs, 1 GiB) =="
"$root/bin/molt" "${args[@]}" </dev/null 2>"$run/molt.err" &
molt=$!
for _ in $(seq 1 300); do grep -q '^tick 1 ' "$run/console.log" 2>/dev/null && break; sleep 0.1; done
sleep 1
echo "molt PID before the update: $molt (started $(ps -o lstart= -p "$molt"))"
tail -n 2 "$run/console.log"
echo "== cpr-exec live update: migrate_set_parameter mode cpr-exec; migrate file:$run/vm.state =="
python3 - "$run/vm.qmp" "$run/vm.state" "$root/bin/molt" "${args[@]}" <<'PY'
import os, sys, time
qmp, state, molt, args = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(molt)), "scripts", "lib"))
from qmp import connect as session, execute as cmd
f = session(qmp)
cmd(f, "migrate-set-parameters", **{"mode": "cpr-exec", "cpr-exec-command": [molt, *args, "-incoming", "file:" + state]})
r = cmd(f, "migrate", uri="file:" + state)
if "error" in r: raise SystemExit("migrate: " + r["error"]["desc"])
time.sleep(0.5)
for _ in range(300):
    try:
        g = session(qmp); m = cmd(g, "query-migrate")["return"]
        if m.get("status") == "completed" and cmd(g, "query-status")["return"]["status"] == "running":
            print("update completed: guest paused for %s ms (%s)" % (m["downtime"], m.get("x-cpr-downtime-breakdown")))
            break
    except (OSError, ValueError, KeyError): pass
    time.sleep(0.1)
else: raise SystemExit("the new molt did not resume the guest")
PY
sleep 2
echo "molt PID after the update:  $molt (started $(ps -o lstart= -p "$molt")), state file $(stat -c %s "$run/vm.state") bytes (no RAM in it)"
tail -n 2 "$run/console.log"
python3 - "$run/console.log" <<'PY'
import re, sys
last, bad, gaps = {}, 0, 0
for line in open(sys.argv[1], errors="replace"):
    m = re.match(r"^tick (\d+) (\d+) (\d+) (ok|CORRUPT)\r?$", line)
    if not m: continue
    c, n = int(m.group(1)), int(m.group(2))
    if c in last and n not in (last[c] + 1, last[c] + 2): gaps += 1
    last[c] = n; bad += m.group(4) != "ok"
print("== %d vCPUs ticked across the update: last ticks %s, %d gaps, %d corrupt ==" % (len(last), last, gaps, bad))
sys.exit(1 if bad or gaps or len(last) < 2 else 0)
PY
