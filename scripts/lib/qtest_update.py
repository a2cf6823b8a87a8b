#!/usr/bin/env python3
"""A cpr-exec live update of a VMM under -accel qtest, where no guest CPU runs: a pattern is written
into guest RAM through qtest, the VMM execs its successor in place, and the pattern is read back byte
for byte. Prints one JSON line: pid before/after, RAM equal, migrate-to-RUNNING time on QMP, the
VMM's reported downtime and its RESUME event's time (when a client saw it), and the minor page faults the
process took from migrate until it said running.
With QTEST_UPDATE_MODE=x-cpr-reload (molt only) the new molt is loaded into the same process instead:
the same QMP and qtest connections go on, and the times are taken on them.
With QTEST_UPDATE_MODE=cpr-transfer a new VMM process is started first beside the running one, with
QEMU's two -incoming options (the main channel a unix socket, the cpr channel in QEMU's JSON form) and
-machine aux-ram-share=on (QEMU's CPR.rst requires it for cpr-transfer, on both VMMs), and the old one
is told migrate-set-parameters mode=cpr-transfer and migrate with both channels (no migrate-incoming:
the main channel is a URI). The times are taken on one connection to the new process's QMP socket, kept
from its greeting on, and its pattern is read over its own qtest connection (pid_after: its PID, alive:
whether it lives, old_alive: whether the old one does); the old process's query-migrate status and
downtime are kept beside (src_*), pause_ms is the guest's pause (the old VMM's STOP event to the new one's
RESUME, both stamped by the one host clock), and total_ms runs from the new process's start (including the wait
for its cpr socket and 50 ms more) until it says running.
Usage: qtest_update.py VMM_BINARY WORKDIR RAM PATTERN_MIB [extra VMM options...]"""
import json, os, socket, subprocess, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import qmp as q
import qtest

def ask(g, name, wall0, times, event="RESUME"):
    """Runs one QMP command on the text file g; an event called event (RESUME unless said) that comes
    before its answer has its time in ms after wall0 appended to times."""
    g.write(json.dumps({"execute": name}) + "\n"); g.flush()
    while True:
        m = json.loads(g.readline())
        if m.get("event") == event:
            ts = m["timestamp"]
            times.append((ts["seconds"] + ts["microseconds"] / 1e6 - wall0) * 1000)
        elif "return" in m or "error" in m:
            return m


def wait_running(qmp_sock, t0, wall0):
    """Polls a VMM's QMP socket with new connections until query-status says running and query-migrate
    completed: (migrate-to-running ms, RESUME event ms or None, reported downtime, downtime breakdown)."""
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
            def send(name): return ask(g, name, wall0, replies if resume_ms is None else [])
            send("qmp_capabilities")
            status = send("query-status")["return"]["status"]
            m = send("query-migrate")["return"]
            if replies: resume_ms = replies[0]
            if status == "running" and m.get("status") == "completed":
                running_ms = (time.monotonic() - t0) * 1000
                downtime = m.get("downtime"); breakdown = m.get("x-cpr-downtime-breakdown")
        except (OSError, ValueError, KeyError):
            time.sleep(0.001)
    return running_ms, resume_ms, downtime, breakdown


def minor_faults(pid):
    """The process's minor page faults so far (/proc/PID/stat's tenth field; an exec keeps the count). On
    nested hosts (kvm_pvm) each costs about 20 us, so their number explains much of an exec's pause."""
    with open(f"/proc/{pid}/stat") as st:
        return int(st.read().rsplit(")", 1)[1].split()[7])


vmm, work, ram, mib, extra = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5:]
os.makedirs(work, exist_ok=True)
mode = os.environ.get("QTEST_UPDATE_MODE")
qmp_sock, qtest_sock, state = f"{work}/vm.qmp", f"{work}/qtest.sock", f"{work}/vm.state"
qmp_sock2, main_sock, cpr_sock = f"{work}/vm2.qmp", f"{work}/main.sock", f"{work}/cpr.sock" # cpr-transfer's
for p in (qmp_sock, state, qmp_sock2, main_sock, cpr_sock):
    if os.path.exists(p): os.unlink(p)
qmp_sock_arg = f"unix:{qmp_sock},server=on,wait=off"
# Guest RAM as an explicit shared memfd: QEMU keeps only such RAM across cpr-exec (its -m RAM is private);
# cpr-transfer also wants the other RAM (microvm's BIOS) in memfds: aux-ram-share=on.
machine = "microvm,memory-backend=ram0" + (",aux-ram-share=on" if mode == "cpr-transfer" else "")
args = [*extra, "-accel", "qtest", "-object", f"memory-backend-memfd,id=ram0,size={ram},share=on",
        "-machine", machine, "-m", ram, "-display", "none", "-nodefaults",
        "-qmp", qmp_sock_arg, "-qtest", f"unix:{qtest_sock}", "-qtest-log", "none"]
listener = qtest.Listener(qtest_sock)
proc = subprocess.Popen([vmm, *args], stdout=subprocess.DEVNULL, stderr=open(f"{work}/vmm.err", "w"), start_new_session=True)
proc2 = None # cpr-transfer's new VMM
try:
    t = listener.accept()
    base, size = 1 << 20, mib << 20
    data = qtest.pattern(7, size)
    t.write(base, data)
    pid_before = proc.pid
    f = q.connect(qmp_sock)
    if mode == "x-cpr-reload":
        r = q.execute(f, "migrate-set-parameters", **{"mode": "x-cpr-reload"})
        if "error" in r: raise SystemExit("migrate-set-parameters: " + r["error"]["desc"])
        wall0, t0 = time.time(), time.monotonic()
        r = q.execute(f, "migrate", uri=f"file:{state}")
        if "error" in r: raise SystemExit("migrate: " + r["error"]["desc"])
        stop_ms = q.event(f, "STOP", wall0)
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
                          "pause_ms": round(resume_ms - stop_ms, 1), "breakdown": m.get("x-cpr-downtime-breakdown")}))
        raise SystemExit(0)
    if mode == "cpr-transfer":
        r = q.execute(f, "migrate-set-parameters", **{"mode": "cpr-transfer"})
        if "error" in r: raise SystemExit("migrate-set-parameters: " + r["error"]["desc"])
        # The new VMM first, as CPR.rst has it: its main channel a URI (no migrate-incoming then), its
        # cpr channel QEMU's JSON form; it blocks reading the cpr channel until the old one's migrate.
        cpr_addr = {"transport": "socket", "type": "unix", "path": cpr_sock}
        new_args = [*args, "-incoming", f"unix:{main_sock}", "-incoming", json.dumps({"channel-type": "cpr", "addr": cpr_addr})]
        new_args[new_args.index(qmp_sock_arg)] = f"unix:{qmp_sock2},server=on,wait=off"
        tn0 = time.monotonic()
        proc2 = subprocess.Popen([vmm, *new_args], stdout=subprocess.DEVNULL, stderr=open(f"{work}/vmm2.err", "w"),
                                 start_new_session=True)
        while not os.path.exists(cpr_sock): # listening: a probe connection would be taken for the channel
            if proc2.poll() is not None: raise SystemExit("the new VMM exited: " + open(f"{work}/vmm2.err").read()[-300:])
            if time.monotonic() - tn0 > 60: raise SystemExit("the new VMM did not listen on its cpr channel")
            time.sleep(0.005)
        time.sleep(0.05)
        wall0, t0 = time.time(), time.monotonic()
        r = q.execute(f, "migrate", channels=[{"channel-type": "main", "addr": {"transport": "socket", "type": "unix", "path": main_sock}},
                                              {"channel-type": "cpr", "addr": cpr_addr}])
        if "error" in r: raise SystemExit("migrate: " + r["error"]["desc"])
        # One client on the new VMM's QMP socket from its first greeting on, polling on that connection:
        # QEMU serves one client at a time, and a RESUME sent to a dropped connection would be lost.
        g = q.connect(qmp_sock2, 60000, 0.001)
        resumes = []
        while True:
            status = ask(g, "query-status", wall0, resumes)["return"]["status"]
            m = ask(g, "query-migrate", wall0, resumes)["return"]
            if status == "running" and m.get("status") == "completed": break
            if proc2.poll() is not None: raise SystemExit("the new VMM exited: " + open(f"{work}/vmm2.err").read()[-300:])
            if time.monotonic() - t0 > 60: raise SystemExit("the new VMM did not resume")
            time.sleep(0.001)
        running_ms, total_ms = (time.monotonic() - t0) * 1000, (time.monotonic() - tn0) * 1000
        downtime, breakdown = m.get("downtime"), m.get("x-cpr-downtime-breakdown")
        resume_ms = resumes[0] if resumes else None
        stops = [] # the old VMM's STOP: the guest's pause runs from it to the new VMM's RESUME (one host, one clock)
        while True: # the old VMM's own account: completed, and its downtime
            m = ask(f, "query-migrate", wall0, stops, "STOP")["return"]
            if m.get("status") in ("completed", "failed"): break
            if time.monotonic() - t0 > 60: raise SystemExit("the old VMM's migration did not end")
            time.sleep(0.001)
        src_status = q.execute(f, "query-status")["return"]["status"]
        new = listener.accept() # the new process's own qtest connection
        same = qtest.digest(new.read(base, size)) == qtest.digest(data)
        print(json.dumps({"pid_before": pid_before, "pid_after": proc2.pid, "alive": proc2.poll() is None,
                          "old_alive": proc.poll() is None, "ram_equal": same,
                          "qmp_running_ms": round(running_ms, 1), "downtime_ms": downtime,
                          "resume_event_ms": None if resume_ms is None else round(resume_ms, 1), "breakdown": breakdown,
                          "pause_ms": round(resume_ms - stops[0], 1) if stops and resume_ms is not None else None,
                          "total_ms": round(total_ms, 1), "src_migrate_status": m.get("status"),
                          "src_downtime_ms": m.get("downtime"), "src_status": src_status}))
        new.close(); t.close()
        raise SystemExit(0)
    r = q.execute(f, "migrate-set-parameters", **{"mode": "cpr-exec", "cpr-exec-command": [vmm, *args, "-incoming", f"file:{state}"]})
    if "error" in r: raise SystemExit("migrate-set-parameters: " + r["error"]["desc"])
    faults0 = minor_faults(proc.pid)
    wall0, t0 = time.time(), time.monotonic()
    r = q.execute(f, "migrate", uri=f"file:{state}")
    if "error" in r: raise SystemExit("migrate: " + r["error"]["desc"])
    t.close()
    running_ms, resume_ms, downtime, breakdown = wait_running(qmp_sock, t0, wall0)
    faults = minor_faults(proc.pid) - faults0 # the update's, both processes of the one PID (and a little polling after)
    new = listener.accept()
    same = qtest.digest(new.read(base, size)) == qtest.digest(data)
    print(json.dumps({"pid_before": pid_before, "pid_after": proc.pid, "alive": proc.poll() is None, "ram_equal": same,
                      "qmp_running_ms": round(running_ms, 1), "downtime_ms": downtime,
                      "resume_event_ms": None if resume_ms is None else round(resume_ms, 1), "breakdown": breakdown,
                      "minor_faults": faults}))
    new.close()
finally:
    listener.close()
    for p in (proc, proc2):
        if p is None: continue
        try: os.killpg(p.pid, 9)
        except ProcessLookupError: pass
