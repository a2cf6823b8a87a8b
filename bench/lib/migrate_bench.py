#!/usr/bin/env python3
"""One live migration of the test guest between two VMM processes over a unix socket, measured
from the host, and the guest's pages checked after it.

Measured: total time (migrate command to completion), guest-visible pause (largest gap between
consecutive tick lines arriving from the guest, source then destination), the throughput and the
downtime the VMM reports in query-migrate.

Checked: the guest (dirty=N rewrites pages with a new generation all the time) checks each page
against the generation its own count of rewrites says it must have, right before rewriting it and
in its round-robin verification (guest/README.md, "Memory pattern"). After the switch-over the
destination runs until every vCPU has verified its whole share twice over; a page whose write the
migration lost shows as a CORRUPT tick, and a lost page of the guest's own counters as a tick
number that does not follow the source's.

Usage: migrate_bench.py molt|qemu|qemu-memfd RAM CPUS GUEST_ARGS WORKDIR MOLT_BIN QEMU_BIN QEMU_FW GUEST_ELF
  (QEMU_FW: the -L folder, or - for the binary's own)
Prints one JSON line: total_ms pause_ms mbps downtime_ms pages ("ok" or what was wrong) and, for a
failed run, failed."""
import json, math, os, re, signal, socket, subprocess, sys, threading, time

kind, ram, cpus, gargs, work, molt, qemu, fw, guest = sys.argv[1:10]
ncpus = int(cpus)
os.makedirs(work, exist_ok=True)
lines = {"src": [], "dst": []}     # (arrival time, line) per VMM
lock = threading.Lock()


def size(text):
    m = re.fullmatch(r"(\d+)([KMGT]?)B?", text.upper())
    return int(m.group(1)) << {"": 0, "K": 10, "M": 20, "G": 30, "T": 40}[m.group(2)]


opts = dict(w.split("=", 1) for w in gargs.split() if "=" in w)
share = size(opts.get("mem", "64M")) // ncpus
# Ticks after which every vCPU has verified all of its share twice (slice= bytes a tick), plus slack.
full_check_ticks = 2 * math.ceil(share / size(opts.get("slice", "1M"))) + 5


def reader(name, sock_path):
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
        *got, buf = buf.split(b"\n")
        now = time.monotonic()
        with lock:
            lines[name].extend((now, l.decode("latin-1").rstrip("\r")) for l in got)


def vmm(name, extra):
    qmp, con = f"{work}/{name}.qmp", f"{work}/{name}.con"
    for p in (qmp, con):
        if os.path.exists(p): os.unlink(p)
    common = ["-smp", cpus, "-m", ram, "-kernel", guest, "-append", gargs, "-display", "none",
              "-chardev", f"socket,id=con,path={con},server=on,wait=off", "-serial", "chardev:con",
              "-qmp", f"unix:{qmp},server=on,wait=off"]
    if kind == "molt":
        cmd = [molt] + common
    else:  # QEMU's microvm does not boot every PVH guest; pc does (issue 12)
        # qemu-memfd: guest RAM in a shared memfd, as molt's always is and as QEMU's CPR modes need it
        # (on hosts whose shmem_enabled is never, such RAM gets no transparent huge pages; QEMU's
        # default anonymous RAM does).
        ram_opts = (["-machine", "pc,memory-backend=ram0", "-object", f"memory-backend-memfd,id=ram0,size={ram},share=on"]
                    if kind == "qemu-memfd" else ["-machine", "pc"])
        cmd = [qemu, "-enable-kvm"] + ram_opts + ["-cpu", "host", "-nodefaults"] + (["-L", fw] if fw != "-" else []) + common
    p = subprocess.Popen(cmd + extra, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    threading.Thread(target=reader, args=(name, con), daemon=True).start()
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


TICK = re.compile(r"^tick (\d+) (\d+) \d+ (ok|CORRUPT)")


def ticks(name):
    with lock:
        return [(t, TICK.match(l)) for t, l in lines[name] if TICK.match(l)]


def last_n(name):
    n = {}
    for _, m in ticks(name): n[int(m.group(1))] = int(m.group(2))
    return n


def pages_verdict(src_last):
    """What the guest's checks say after the switch-over: ok, or the first thing wrong."""
    with lock:
        for name in ("src", "dst"):
            for _, l in lines[name]:
                if l.startswith("CORRUPT") or l.startswith("EXCEPTION"): return f"{name}: {l}"
    first = {}
    for _, m in ticks("dst"): first.setdefault(int(m.group(1)), int(m.group(2)))
    for c in range(ncpus):
        if c not in first: return f"no tick from vCPU {c} on the destination"
        if first[c] not in (src_last.get(c, 0) + 1, src_last.get(c, 0) + 2):
            return f"vCPU {c}: source's last tick {src_last.get(c)}, destination's first {first[c]}"
    return "ok"


mig = f"{work}/mig.sock"
if os.path.exists(mig): os.unlink(mig)
src, sq = vmm("src", [])
dst, dq = vmm("dst", ["-incoming", f"unix:{mig}"])
try:
    s = Qmp(sq)
    deadline = time.time() + 120
    while len(ticks("src")) < 50 * ncpus:
        if time.time() > deadline: print(json.dumps({"failed": "no ticks from the source"})); sys.exit(1)
        time.sleep(0.05)
    s.cmd("migrate-set-parameters", **{"max-bandwidth": 0, "downtime-limit": 300})
    t0 = time.monotonic()
    s.cmd("migrate", uri=f"unix:{mig}")
    while True:
        r = s.cmd("query-migrate")["return"]
        if r.get("status") in ("completed", "failed", "cancelled"): break
        time.sleep(0.01)
    total = (time.monotonic() - t0) * 1000
    if r["status"] != "completed":
        print(json.dumps({"failed": r.get("error-desc", r["status"])})); sys.exit(1)
    src_last = last_n("src")
    deadline = time.time() + 120
    while True:
        d = last_n("dst")
        if len(d) == ncpus and all(d[c] >= src_last.get(c, 0) + full_check_ticks for c in range(ncpus)): break
        if time.time() > deadline: break
        time.sleep(0.05)
    with lock:
        stamps = sorted((t, name) for name in ("src", "dst") for t, l in lines[name] if l.startswith("tick "))
    seq = [x for x in stamps if x[0] < t0][-1:] + [x for x in stamps if x[0] >= t0]
    gaps = [(b[0] - a[0], a[1], b[1]) for a, b in zip(seq, seq[1:])] or [(0, "src", "src")]
    pause, before, after = max(gaps)
    # Where the longest gap was: "switch-over" (the source's last tick to the destination's first), or
    # between two ticks of one VMM (the guest slowed while its RAM was sent, or after it resumed).
    where = "switch-over" if before != after else "source" if before == "src" else "destination"
    print(json.dumps({"total_ms": round(total, 1), "pause_ms": round(pause * 1000, 1), "mbps": r.get("ram", {}).get("mbps", 0),
                      "downtime_ms": r.get("downtime"), "pages": pages_verdict(src_last), "pause_where": where,
                      "switch_over_ms": round(max((g for g, a, b in gaps if a != b), default=0) * 1000, 1)}))
finally:
    for p in (src, dst):
        try: os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError: pass
