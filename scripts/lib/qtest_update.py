#!/usr/bin/env python3
"""A cpr-exec live update of a VMM under -accel qtest, where no guest CPU runs: a pattern is written
into guest RAM through qtest, the VMM execs its successor in place, and the pattern is read back byte
for byte. Prints one JSON line: pid before/after, RAM equal, migrate-to-RUNNING time on QMP, the
VMM's reported downtime and its RESUME event's time (when a client saw it).
With QTEST_UPDATE_MODE=x-cpr-reload (molt only) the new molt is loaded into the same process instead:
the same QMP and qtest connections go on, and the times are taken on them.
Usage: qtest_update.py VMM_BINARY WORKDIR RAM PATTERN_MIB [extra VMM options...]"""
import json, os, socket, subprocess, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import qmp as q
import qtest

vmm, work, ram, mib, extra = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5:]
os.makedirs(work, exist_ok=True)
qmp_sock, qtest_sock, state = f"{work}/vm.qmp", f"{work}/qtest.sock", f"{work}/vm.state"
for p in (qmp_sock, state):
    if os.path.exists(p): os.unlink(p)
# Guest RAM as an explicit shared memfd: QEMU keeps only such RAM across cpr-exec (its -m RAM is private).
args = [*extra, "-accel", "qtest", "-object", f"memory-backend-memfd,id=ram0,size={ram},share=on",
        "-machine", "microvm,memory-backend=ram0", "-m", ram, "-display", "none", "-nodefaults",
        "-qmp", f"unix:{qmp_sock},server=on,wait=off", "-qtest", f"unix:{qtest_sock}", "-qtest-log", "none"]
listener = qtest.Listener(qtest_sock)
proc = subprocess.Popen([vmm, *args], stdout=subprocess.DEVNULL, stderr=open(f"{work}/vmm.err", "w"), start_new_session=True)
try:
    t = listener.accept()
    base, size = 1 << 20, mib << 20
    data = qtest.pattern(7, size)
    t.write(base, data)
    pid_before = proc.pid
    f = q.connect(qmp_sock)
    if os.environ.get("QTEST_UPDATE_MODE") == "x-cpr-reload":
        r = q.execute(f, "migrate-set-parameters", **{"mode": "x-cpr-reload"})
        if "error" in r: raise SystemExit("migrate-set-parameters: " + r["error"]["desc"])
        wall0, t0 = time.time(), time.monotonic()
        r = q.execute(f, "migrate", uri=f"file:{state}")
        if "error" in r: raise SystemExit("migrate: " + r["error"]["desc"])
        resume_ms = q.event(f, "RESUME", wall0)
        while True:
            m = q.execute(f, "query-migrate")["return"]
            if m.get("status") == "completed": break
            if m.get("status") == "failed": raise SystemExit("x-cpr-reload failed: " + m.get("error-desc", "?"))
            if time.monotonic() - t0 > 60: raise SystemExit("x-cpr-reload did not complete")
        running_ms = (time.monotonic() - t0) * 1000
        same = qtest.digest(t.read(base, size)) == qtest.digest(data) # the same qtest connection
        print(json.dumps({"pid_before": pid_before, "pid_after": proc.pid, "alive": proc.poll() is None, "ram_equal": same,
                          "qmp_running_ms": round(running_ms, 1), "downtime_ms": m.get("downtime"),
                          "resume_event_ms": None if resume_ms is None else round(resume_ms, 1),
                          "breakdown": m.get("x-cpr-downtime-breakdown")}))
        raise SystemExit(0)
    r = q.execute(f, "migrate-set-parameters", **{"mode": "cpr-exec", "cpr-exec-command": [vmm, *args, "-incoming", f"file:{state}"]})
    if "error" in r: raise SystemExit("migrate-set-parameters: " + r["error"]["desc"])
    wall0, t0 = time.time(), time.monotonic()
    r = q.execute(f, "migrate", uri=f"file:{state}")
    if "error" in r: raise SystemExit("migrate: " + r["error"]["desc"])
    t.close()
    # A client that connects while the update runs: molt serves it once the new process is up and hands
    # it the events it missed, RESUME among them; a VMM that rebinds its socket may show none.
    resume_ms, running_ms, downtime, breakdown = None, None, None, None
    deadline = time.monotonic() + 60
    while running_ms is None:
        if time.monotonic() > deadline: raise SystemExit("the new VMM did not resume")
        try:
            s = socket.socket(socket.AF_UNIX); s.connect(qmp_sock); g = s.makefile("rw")
            g.readline()
            replies = []
            def send(name):
                g.write(json.dumps({"execute": name}) + "\n"); g.flush()
                while True:
                    m = json.loads(g.readline())
                    if m.get("event") == "RESUME" and resume_ms is None:
                        ts = m["timestamp"]
                        replies.append((ts["seconds"] + ts["microseconds"] / 1e6 - wall0) * 1000)
                    elif "return" in m or "error" in m:
                        return m
            send("qmp_capabilities")
            status = send("query-status")["return"]["status"]
            m = send("query-migrate")["return"]
            if replies: resume_ms = replies[0]
            if status == "running" and m.get("status") == "completed":
                running_ms = (time.monotonic() - t0) * 1000
                downtime = m.get("downtime"); breakdown = m.get("x-cpr-downtime-breakdown")
        except (OSError, ValueError, KeyError):
            time.sleep(0.001)
    new = listener.accept()
    same = qtest.digest(new.read(base, size)) == qtest.digest(data)
    print(json.dumps({"pid_before": pid_before, "pid_after": proc.pid, "alive": proc.poll() is None, "ram_equal": same,
                      "qmp_running_ms": round(running_ms, 1), "downtime_ms": downtime,
                      "resume_event_ms": None if resume_ms is None else round(resume_ms, 1), "breakdown": breakdown}))
    new.close()
finally:
    listener.close()
    try: os.killpg(proc.pid, 9)
    except ProcessLookupError: pass
