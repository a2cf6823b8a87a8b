#!/usr/bin/env python3
"""A live migration (mode normal) between two VMM processes under -accel qtest, where no guest CPU
runs: the VMM side alone. A pattern is written into the source's RAM through qtest (the rest of RAM
stays zero, as a guest's untouched memory), the source migrates over a unix socket with no bandwidth
limit, and the destination's RAM is read back and compared. Prints one JSON line: total time and
downtime as the source reports them, the throughput it reports, wall time from migrate to the
destination running, and whether RAM is equal.
Usage: qtest_migrate.py VMM_BINARY WORKDIR RAM PATTERN_MIB [extra VMM options...]"""
import json, os, subprocess, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import qmp as q
import qtest

vmm, work, ram, mib, extra = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5:]
os.makedirs(work, exist_ok=True)
mig = f"{work}/mig.sock"


def start(name, more):
    qmp_sock, qtest_sock = f"{work}/{name}.qmp", f"{work}/{name}-qtest.sock"
    for p in (qmp_sock, qtest_sock):
        if os.path.exists(p): os.unlink(p)
    args = [*extra, "-accel", "qtest", "-machine", "microvm", "-m", ram, "-display", "none", "-nodefaults",
            "-qmp", f"unix:{qmp_sock},server=on,wait=off", "-qtest", f"unix:{qtest_sock}", "-qtest-log", "none", *more]
    listener = qtest.Listener(qtest_sock)
    proc = subprocess.Popen([vmm, *args], stdout=subprocess.DEVNULL, stderr=open(f"{work}/{name}.err", "w"),
                            start_new_session=True)
    return proc, listener, qmp_sock


if os.path.exists(mig): os.unlink(mig)
src, src_l, src_qmp = start("src", [])
dst, dst_l, dst_qmp = start("dst", ["-incoming", f"unix:{mig}"])
try:
    t = src_l.accept()
    base, size = 1 << 20, mib << 20
    data = qtest.pattern(7, size)
    t.write(base, data)
    d = dst_l.accept()
    f = q.connect(src_qmp)
    g = q.connect(dst_qmp)
    r = q.execute(f, "migrate-set-parameters", **{"max-bandwidth": 10 << 30, "downtime-limit": 300})
    if "error" in r: raise SystemExit("migrate-set-parameters: " + r["error"]["desc"])
    t0 = time.monotonic()
    r = q.execute(f, "migrate", uri=f"unix:{mig}")
    if "error" in r: raise SystemExit("migrate: " + r["error"]["desc"])
    deadline = time.monotonic() + 300
    while True:
        m = q.execute(f, "query-migrate")["return"]
        if m.get("status") in ("completed", "failed", "cancelled"): break
        if time.monotonic() > deadline: raise SystemExit("migration still " + str(m.get("status")))
        time.sleep(0.005)
    if m["status"] != "completed": raise SystemExit("migration " + m["status"] + ": " + str(m.get("error-desc")))
    while q.execute(g, "query-status")["return"]["status"] != "running":
        if time.monotonic() > deadline: raise SystemExit("the destination did not run")
        time.sleep(0.002)
    running_ms = (time.monotonic() - t0) * 1000
    same = qtest.digest(d.read(base, size)) == qtest.digest(data)
    ram_stats = m.get("ram", {})
    print(json.dumps({"total_ms": m.get("total-time"), "downtime_ms": m.get("downtime"), "mbps": ram_stats.get("mbps"),
                      "transferred": ram_stats.get("transferred"), "running_ms": round(running_ms, 1), "ram_equal": same}))
    t.close(); d.close()
finally:
    src_l.close(); dst_l.close()
    for p in (src, dst):
        try: os.killpg(p.pid, 9)
        except ProcessLookupError: pass
