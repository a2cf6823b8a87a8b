#!/usr/bin/env python3
"""One live update of the VMM under the running test guest (KVM), measured from the host.

Kinds: molt (cpr-exec), molt-transfer (cpr-transfer to a second molt started beforehand), qemu and
qemu-transfer (the same with QEMU 10.2 on its pc machine, RAM in a shared memfd and aux-ram-share=on,
as QEMU's CPR documentation asks). A cpr-transfer's new process is up and waiting on its cpr channel
before the update starts, so its start-up is outside the pause.

The guest console is appended to a file polled every millisecond: pause = largest gap between tick
lines arriving around the update; qmp = time from the migrate command until the updated VMM answers
query-status 'running' (a fresh connection polled). Also the downtime the updated VMM reports in
query-migrate, and for molt's cpr-exec its x-cpr-downtime-breakdown.
Usage: cpr_bench.py KIND RAM CPUS WORKDIR MOLT QEMU QEMU_FW GUEST  -> one JSON line"""
import json, os, signal, subprocess, sys, threading, time
kind, ram, cpus, work, molt, qemu, fw, guest = sys.argv[1:9]
os.makedirs(work, exist_ok=True)
log, qmp, state = f"{work}/con.log", f"{work}/vm.qmp", f"{work}/vm.state"
newqmp, mainsock, cprsock = f"{work}/new.qmp", f"{work}/main.sock", f"{work}/cpr.sock"
for p in (log, qmp, state, newqmp, mainsock, cprsock):
    if os.path.exists(p): os.unlink(p)
stamps, stop = [], False


def poll():
    pos, buf = 0, b""
    while not stop:
        try:
            with open(log, "rb") as f:
                f.seek(pos); data = f.read(); pos += len(data)
        except FileNotFoundError: data = b""
        if data:
            now = time.monotonic(); buf += data
            *lines, buf = buf.split(b"\n")
            stamps.extend(now for l in lines if l.startswith(b"tick "))
        time.sleep(0.001)


threading.Thread(target=poll, daemon=True).start()
common = ["-m", ram, "-smp", cpus, "-kernel", guest, "-append", "mem=64M",
          "-chardev", f"file,id=con,path={log},append=on", "-serial", "chardev:con", "-display", "none",
          "-qmp", f"unix:{qmp},server=on,wait=off"]
if kind.startswith("molt"):
    cmd = [molt, "-machine", "microvm,aux-ram-share=on"] + common
else:  # QEMU's microvm does not boot every PVH guest; pc does
    cmd = [qemu, "-enable-kvm", "-cpu", "host", "-nodefaults", "-machine", "pc,memory-backend=ram0,aux-ram-share=on",
           "-object", f"memory-backend-memfd,id=ram0,size={ram},share=on"] + (["-L", fw] if fw != "-" else []) + common
procs = [subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)]
transfer = kind.endswith("-transfer")
cpr_addr = {"transport": "socket", "type": "unix", "path": cprsock}
if transfer:
    target = list(cmd)
    target[target.index(f"unix:{qmp},server=on,wait=off")] = f"unix:{newqmp},server=on,wait=off"
    target += ["-incoming", f"unix:{mainsock}", "-incoming", json.dumps({"channel-type": "cpr", "addr": cpr_addr})]
    procs.append(subprocess.Popen(target, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "lib"))
import qmp as client
c = client.execute


def session(path=qmp):
    return client.connect(path, tries=3000, delay=0.001)


try:
    deadline = time.time() + 300
    while len(stamps) < 40 * int(cpus):
        if time.time() > deadline: print(json.dumps({"failed": "no ticks"})); sys.exit(1)
        time.sleep(0.01)
    f = session()
    t_start = time.monotonic()
    if transfer:
        while not os.path.exists(cprsock):  # listening: a probe connection would be taken for the channel
            if procs[1].poll() is not None or time.monotonic() - t_start > 60:
                print(json.dumps({"failed": "the new VMM did not listen on its cpr channel"})); sys.exit(1)
            time.sleep(0.001)
        time.sleep(0.5)  # the new VMM is up and blocked on the cpr channel
        c(f, "migrate-set-parameters", mode="cpr-transfer")
        t0 = time.monotonic()
        r = c(f, "migrate", channels=[
            {"channel-type": "main", "addr": {"transport": "socket", "type": "unix", "path": mainsock}},
            {"channel-type": "cpr", "addr": cpr_addr}])
    else:
        c(f, "migrate-set-parameters", **{"mode": "cpr-exec", "cpr-exec-command": cmd + ["-incoming", f"file:{state}"]})
        t0 = time.monotonic()
        r = c(f, "migrate", uri=f"file:{state}")
    if "error" in r: print(json.dumps({"failed": r["error"].get("desc")})); sys.exit(1)
    f.close()
    # The updated VMM says running and its migration completed (the old one, before its exec or after
    # its hand-over, says neither running nor both). A cpr-transfer's new QEMU serves one client at a
    # time: one connection, kept; after a cpr-exec, a fresh connection a try.
    g = session(newqmp) if transfer else None
    while True:
        try:
            h = g or session()
            status = c(h, "query-status")["return"]["status"]
            m = c(h, "query-migrate")["return"]
            if g is None: h.close()
            if status == "running" and m.get("status") == "completed": break
        except (OSError, ValueError, KeyError): pass
        if time.monotonic() - t0 > 60: print(json.dumps({"failed": "not running after 60 s"})); sys.exit(1)
        time.sleep(0.001)
    qmp_ms = (time.monotonic() - t0) * 1000
    time.sleep(1.0)
    before = [t for t in stamps if t < t0]; after = [t for t in stamps if t >= t0]
    seq = before[-1:] + after
    pause = max(b - a for a, b in zip(seq, seq[1:])) * 1000
    print(json.dumps({"pause_ms": round(pause, 1), "qmp_ms": round(qmp_ms, 1), "downtime_ms": m.get("downtime"),
                      "breakdown": m.get("x-cpr-downtime-breakdown"), "ticks_after": len(after)}))
finally:
    stop = True
    for p in procs:
        try: os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError: pass
