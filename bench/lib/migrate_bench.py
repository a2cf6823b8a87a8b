#!/usr/bin/env python3
"""One live migration of the test guest between two VMM processes over a unix socket, measured
from the host: total time (migrate command to completion), guest-visible pause (largest gap
between consecutive tick lines arriving from the guest, source then destination), throughput.
Usage: migrate_bench.py molt|qemu RAM CPUS GUEST_MEM WORKDIR MOLT_BIN GUEST_ELF
Prints one line: total_ms pause_ms mbps"""
import json, os, signal, socket, subprocess, sys, threading, time

kind, ram, cpus, gmem, work, molt, guest = sys.argv[1:8]
os.makedirs(work, exist_ok=True)
stamps = []          # arrival times of tick lines, both VMMs, in order
lock = threading.Lock()

def reader(sock_path):
    deadline = time.time() + 60
    while True:
        try:
            s = socket.socket(socket.AF_UNIX); s.connect(sock_path); break
        except OSError:
            if time.time() > deadline: return
            time.sleep(0.02)
    buf = b""
    while True:
        data = s.recv(65536)
        if not data: return
        buf += data
        *lines, buf = buf.split(b"\n")
        now = time.monotonic()
        with lock:
            for l in lines:
                if l.startswith(b"tick "): stamps.append(now)

def vmm(name, extra):
    qmp, con = f"{work}/{name}.qmp", f"{work}/{name}.con"
    for p in (qmp, con):
        if os.path.exists(p): os.unlink(p)
    common = ["-smp", cpus, "-m", ram, "-kernel", guest, "-append", f"mem={gmem}", "-display", "none",
              "-chardev", f"socket,id=con,path={con},server=on,wait=off", "-serial", "chardev:con",
              "-qmp", f"unix:{qmp},server=on,wait=off"]
    if kind == "molt": cmd = [molt] + common
    else: cmd = ["qemu-system-x86_64", "-enable-kvm", "-machine", "microvm", "-cpu", "host", "-nodefaults"] + common
    p = subprocess.Popen(cmd + extra, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    threading.Thread(target=reader, args=(con,), daemon=True).start()
    return p, qmp

class Qmp:
    def __init__(self, path):
        deadline = time.time() + 60
        while True:
            try:
                self.s = socket.socket(socket.AF_UNIX); self.s.connect(path); break
            except OSError:
                if time.time() > deadline: raise
                time.sleep(0.02)
        self.f = self.s.makefile("rw"); self.f.readline(); self.cmd("qmp_capabilities")
    def cmd(self, name, **args):
        msg = {"execute": name}
        if args: msg["arguments"] = args
        self.f.write(json.dumps(msg) + "\n"); self.f.flush()
        while True:
            r = json.loads(self.f.readline())
            if "return" in r or "error" in r: return r

mig = f"{work}/mig.sock"
if os.path.exists(mig): os.unlink(mig)
src, sq = vmm("src", [])
dst, dq = vmm("dst", ["-incoming", f"unix:{mig}"])
try:
    s = Qmp(sq)
    deadline = time.time() + 120
    while len(stamps) < 50 * int(cpus):
        if time.time() > deadline: print("timeout"); sys.exit(1)
        time.sleep(0.05)
    s.cmd("migrate-set-parameters", **{"max-bandwidth": 0, "downtime-limit": 300})
    t0 = time.monotonic()
    s.cmd("migrate", uri=f"unix:{mig}")
    while True:
        r = s.cmd("query-migrate")["return"]
        if r.get("status") in ("completed", "failed", "cancelled"): break
        time.sleep(0.01)
    total = (time.monotonic() - t0) * 1000
    if r["status"] != "completed": print("failed", r.get("error-desc", "")); sys.exit(1)
    time.sleep(1.0)
    with lock:
        after = [t for t in stamps if t >= t0]
        before = [t for t in stamps if t < t0]
    seq = before[-1:] + after
    pause = max((b - a for a, b in zip(seq, seq[1:])), default=0) * 1000
    mbps = r.get("ram", {}).get("mbps", 0)
    print(f"{total:.1f} {pause:.1f} {mbps:.0f}")
finally:
    for p in (src, dst):
        try: os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError: pass
