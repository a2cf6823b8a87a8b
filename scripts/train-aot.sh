#!/usr/bin/env bash
# Builds the JDK 25 AOT cache for molt's restart path (JEP 483/514/515): a training run boots the
# test guest (or, where KVM is unusable, a machine under -accel qtest), live-updates molt under it with cpr-exec, and lets the *new* process, the one whose
# start-up is inside the guest's pause, record what it loads and links. That process then runs the
# old side's pause path too (an update whose exec fails), and writes the cache when it quits. The cache is named after the jar's hash: JDK 25.0.3 does not notice a changed jar
# (JDK-8377932), so a cache must never be reused across builds (java-platform.md §2.1).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
jar="$root/target/molt.jar"
hash=$(sha256sum "$jar" | cut -c1-16)
cache="$root/target/molt-$hash.aot"
[ -f "$cache" ] && exit 0
rm -f "$root"/target/molt-*.aot
run=$(mktemp -d); molt=
cleanup() { [ -n "$molt" ] && kill "$molt" 2>/dev/null; rm -rf "$run"; }
trap cleanup EXIT
# shellcheck source=lib/kvm.sh
. "$root/scripts/lib/kvm.sh"
if molt_kvm_usable; then
  args=(-kernel "$root/guest/build/molt-guest.elf" -append "mem=16M")
else
  # Without KVM the training runs under -accel qtest: the restart path is the same code but the accelerator.
  args=(-accel qtest -qtest "unix:$run/qtest.sock,server=on,wait=off")
fi
# What a management tool's command line has (libvirt's: RAM in a memfd backend, a monitor on a chardev,
# a disk), so that the cache holds the code they reach on the restart path: what it misses is linked in
# the pause (a lambda's first call costs 0.5-2 ms there).
truncate -s 1M "$run/disk.img"
args+=(-machine microvm,aux-ram-share=on,memory-backend=ram0 -object memory-backend-memfd,id=ram0,size=256M,share=on
       -m 256M -smp 2 -nodefaults -serial "file:$run/console.log" -display none -qmp "unix:$run/vm.qmp,server=on,wait=off"
       -chardev "socket,id=hmp0,path=$run/hmp.sock,server=on,wait=off" -mon chardev=hmp0,mode=readline
       -drive "if=none,id=disk0,file=$run/disk.img,format=raw" -device virtio-blk-device,drive=disk0)
MOLT_NO_AOT=1 "$root/bin/molt" "${args[@]}" </dev/null 2>"$run/err" &
molt=$!
printf 'not a program\n' >"$run/noexec"; chmod +x "$run/noexec"
python3 - "$run/vm.qmp" "$run/vm.state" "$root/bin/molt" "$cache" "$run/noexec" "${args[@]}" <<'PY' || { echo "train-aot: training failed; molt runs without an AOT cache" >&2; cat "$run/err" >&2; exit 0; }
import os, sys, time
qmp, state, molt, cache, noexec, args = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6:]
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(molt)), "scripts", "lib"))
import qmp as client
cmd = client.execute
def session():
    return client.connect(qmp, tries=600)
time.sleep(2)
f = session()
newcmd = ["/usr/bin/env", "MOLT_NO_AOT=1", "MOLT_JAVA_OPTS=-XX:AOTCacheOutput=" + cache, molt, *args, "-incoming", "file:" + state]
cmd(f, "migrate-set-parameters", **{"mode": "cpr-exec", "cpr-exec-command": newcmd})
r = cmd(f, "migrate", uri="file:" + state)
if "error" in r: raise SystemExit(r["error"]["desc"])
time.sleep(1)
for _ in range(600):
    try:
        g = session()
        if cmd(g, "query-status")["return"]["status"] == "running":
            for c in ("query-migrate", "query-cpus-fast", "query-status"): cmd(g, c)
            # The old side's pause path too (keeper, stop, state capture and save, exec): an update whose
            # exec fails (ENOEXEC) runs all of it, then the guest resumes here and the cache is written at quit.
            cmd(g, "migrate-set-parameters", **{"mode": "cpr-exec", "cpr-exec-command": [noexec]})
            cmd(g, "migrate", uri="file:" + state)
            break
    except (OSError, ValueError, KeyError): pass
    time.sleep(0.1)
for _ in range(600):
    try:
        g = session()
        m = cmd(g, "query-migrate")["return"]
        if m.get("status") == "failed" and cmd(g, "query-status")["return"]["status"] == "running":
            cmd(g, "quit"); break
    except (OSError, ValueError, KeyError): pass
    time.sleep(0.1)
PY
for _ in $(seq 1 300); do kill -0 "$molt" 2>/dev/null || break; sleep 0.1; done
molt=
[ -f "$cache" ] && echo "train-aot: AOT cache $cache" || echo "train-aot: no cache was written; molt runs without one" >&2
