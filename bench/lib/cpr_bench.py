#!/usr/bin/env python3
"""One update of the VMM under the test guest, measured from the host.
molt: a cpr-exec live update; molt-transfer: cpr-transfer to a second molt started beforehand
(the pause is the switch-over; the new molt's start-up is outside it); qemu (Debian 7.2, no CPR): stop, migrate to a file, start a new QEMU
with -incoming file: (the way to update it without CPR). The guest console is appended to a file
that is polled every millisecond: pause = largest gap between tick lines arriving around the update;
qmp = time from the migrate command until the VMM answers query-status 'running' again.
Usage: cpr_bench.py molt|molt-noaot|molt-transfer|molt-transfer-noaot|qemu RAM CPUS WORKDIR MOLT GUEST  -> prints 'pause_ms qmp_ms'"""
import os, signal, subprocess, sys, threading, time
kind, ram, cpus, work, molt, guest = sys.argv[1:7]
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
if kind.startswith("molt"):
    args = ["-machine", "microvm,aux-ram-share=on", "-m", ram, "-smp", cpus, "-kernel", guest, "-append", "mem=64M",
            "-chardev", f"file,id=con,path={log},append=on", "-serial", "chardev:con", "-display", "none",
            "-qmp", f"unix:{qmp},server=on,wait=off"]
    env = dict(os.environ)
    if kind.endswith("noaot"): env["MOLT_NO_AOT"] = "1"
    cmd = [molt] + args
else:
    args = ["-enable-kvm", "-machine", "microvm", "-cpu", "host", "-m", ram, "-smp", cpus, "-kernel", guest, "-append", "mem=64M",
            "-chardev", f"file,id=con,path={log},append=on", "-serial", "chardev:con", "-display", "none", "-nodefaults",
            "-qmp", f"unix:{qmp},server=on,wait=off"]
    env = dict(os.environ); cmd = ["qemu-system-x86_64"] + args
procs = [subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, env=env)]
transfer = kind.startswith("molt-transfer")
if transfer:
    target = [molt] + list(args)
    target[target.index(f"unix:{qmp},server=on,wait=off")] = f"unix:{newqmp},server=on,wait=off"
    target += ["-incoming", f"unix:{mainsock}", "-incoming", f"cpr,addr.transport=socket,addr.type=unix,addr.path={cprsock}"]
    procs.append(subprocess.Popen(target, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, env=env))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "lib"))
import qmp as client
c = client.execute
def session(path=qmp):
    return client.connect(path, tries=3000, delay=0.001)
try:
    deadline = time.time() + 300
    while len(stamps) < 40 * int(cpus):
        if time.time() > deadline: print("timeout"); sys.exit(1)
        time.sleep(0.01)
    f = session()
    t0 = time.monotonic()
    if transfer:
        while not os.path.exists(cprsock): time.sleep(0.001)
        time.sleep(0.5)  # the new molt is up and blocked on the cpr channel
        c(f, "migrate-set-parameters", mode="cpr-transfer")
        t0 = time.monotonic()
        r = c(f, "migrate", channels=[
            {"channel-type": "main", "addr": {"transport": "socket", "type": "unix", "path": mainsock}},
            {"channel-type": "cpr", "addr": {"transport": "socket", "type": "unix", "path": cprsock}}])
        if "error" in r: print("failed", r); sys.exit(1)
    elif kind.startswith("molt"):
        c(f, "migrate-set-parameters", **{"mode": "cpr-exec", "cpr-exec-command": cmd + ["-incoming", f"file:{state}"]})
        t0 = time.monotonic()
        c(f, "migrate", uri=f"file:{state}")
        time.sleep(0.02)
    else:
        c(f, "migrate-set-parameters", **{"max-bandwidth": 0})
        t0 = time.monotonic()
        c(f, "migrate", uri=f"exec:cat > {state}")  # QEMU 7.2 has no file: URI (added in 8.2)
        while c(f, "query-migrate")["return"].get("status") not in ("completed", "failed"): time.sleep(0.001)
        c(f, "quit"); procs[0].wait()
        os.unlink(qmp) if os.path.exists(qmp) else None
        procs.append(subprocess.Popen(cmd + ["-incoming", f"exec:cat {state}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                      start_new_session=True))
    if kind.startswith("molt"):
        while True:
            try:
                g = session(newqmp if transfer else qmp)
                if c(g, "query-status")["return"]["status"] == "running": break
            except (OSError, ValueError, KeyError): pass
            time.sleep(0.001)
        qmp_ms = (time.monotonic() - t0) * 1000
    else:
        # QEMU 7.2 answers QMP only once its incoming load is done; the guest's next tick says as much.
        n = len(stamps)
        while len(stamps) == n or stamps[-1] < t0: time.sleep(0.001)
        qmp_ms = (stamps[-1] - t0) * 1000
    time.sleep(1.0)
    before = [t for t in stamps if t < t0]; after = [t for t in stamps if t >= t0]
    seq = before[-1:] + after
    pause = max(b - a for a, b in zip(seq, seq[1:])) * 1000
    print(f"{pause:.1f} {qmp_ms:.1f}")
finally:
    stop = True
    for p in procs:
        try: os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError: pass
