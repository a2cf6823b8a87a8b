#!/usr/bin/env python3
"""The demo under -accel qtest, for hosts without KVM: molt runs a machine whose 1 GiB of RAM is a
shared memfd, no guest CPU runs, and the test's side of QEMU's qtest protocol writes a 256 MiB
pattern into guest RAM. molt then live-updates itself with cpr-exec: the same PID execs a new molt,
which maps the RAM back from the inherited memfd; the pattern is read back byte for byte. Then with
x-cpr-reload: the new molt is loaded into the same process, built while the machine runs, and takes
it over with the same qtest and QMP connections; the pattern is read back again on them.
Usage: qtest_demo.py MOLT"""
import json, os, shutil, subprocess, sys, tempfile, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import qmp as q
import qtest

molt = sys.argv[1]
run = tempfile.mkdtemp()
qmp_sock, qtest_sock, state = f"{run}/vm.qmp", f"{run}/qtest.sock", f"{run}/vm.state"
args = ["-accel", "qtest", "-machine", "microvm,aux-ram-share=on", "-m", "1G", "-smp", "2", "-display", "none",
        "-serial", f"file:{run}/console.log", "-qmp", f"unix:{qmp_sock},server=on,wait=off",
        "-qtest", f"unix:{qtest_sock}", "-qtest-log", "none"]
listener = qtest.Listener(qtest_sock)
proc = subprocess.Popen([molt, *args], stdin=subprocess.DEVNULL, stderr=open(f"{run}/molt.err", "w"))


def started(pid):
    return subprocess.run(["ps", "-o", "lstart=", "-p", str(pid)], capture_output=True, text=True).stdout.strip()


try:
    print("== molt under -accel qtest (1 GiB of shared memfd RAM, no guest CPU) ==")
    t = listener.accept()
    base, size = 16 << 20, 256 << 20
    data = qtest.pattern(2026, size)
    t0 = time.monotonic()
    t.write(base, data)
    print("wrote a %d MiB pattern into guest RAM through qtest in %.1f s, sha256 %s"
          % (size >> 20, time.monotonic() - t0, qtest.digest(data)))
    print("molt PID before the update: %d (started %s)" % (proc.pid, started(proc.pid)))
    print("== cpr-exec live update: migrate_set_parameter mode cpr-exec; migrate file:%s ==" % state)
    f = q.connect(qmp_sock)
    r = q.execute(f, "migrate-set-parameters", **{"mode": "cpr-exec", "cpr-exec-command": [molt, *args, "-incoming", "file:" + state]})
    if "error" in r: raise SystemExit("migrate-set-parameters: " + r["error"]["desc"])
    r = q.execute(f, "migrate", uri="file:" + state)
    if "error" in r: raise SystemExit("migrate: " + r["error"]["desc"])
    t.close()
    for _ in range(600):
        try:
            g = q.connect(qmp_sock)
            m = q.execute(g, "query-migrate")["return"]
            if m.get("status") == "completed" and q.execute(g, "query-status")["return"]["status"] == "running":
                print("update completed: the machine paused for %s ms (%s)" % (m["downtime"], m.get("x-cpr-downtime-breakdown")))
                break
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.1)
    else:
        raise SystemExit("the new molt did not resume the machine")
    new = listener.accept()
    back = new.read(base, size)
    same = back == data
    print("molt PID after the update:  %d (started %s), state file %d bytes (no RAM in it)"
          % (proc.pid, started(proc.pid), os.path.getsize(state)))
    print("== read the %d MiB back through the new molt's qtest: sha256 %s, %s ==" % (size >> 20, qtest.digest(back),
          "byte for byte the same" if same else "DIFFERENT"))
    if not same or proc.poll() is not None:
        print(open(f"{run}/molt.err").read(), file=sys.stderr)
        sys.exit(1)
    print("== x-cpr-reload: migrate_set_parameter mode x-cpr-reload; migrate file:%s (the same process, no exec) ==" % state)
    g = q.connect(qmp_sock)
    r = q.execute(g, "migrate-set-parameters", **{"mode": "x-cpr-reload"})
    if "error" in r: raise SystemExit("migrate-set-parameters: " + r["error"]["desc"])
    r = q.execute(g, "migrate", uri="file:" + state)
    if "error" in r: raise SystemExit("migrate: " + r["error"]["desc"])
    for _ in range(600):
        m = q.execute(g, "query-migrate")["return"] # the same QMP connection, served by the new code once it took over
        if m.get("status") in ("completed", "failed"): break
        time.sleep(0.05)
    if m.get("status") != "completed": raise SystemExit("x-cpr-reload: " + str(m))
    print("reload completed: the machine paused for %s ms (%s)" % (m["downtime"], m.get("x-cpr-downtime-breakdown")))
    back = new.read(base, size) # the same qtest connection too
    same = back == data
    print("molt PID after the reload:  %d (started %s); read back over the same qtest connection: sha256 %s, %s"
          % (proc.pid, started(proc.pid), qtest.digest(back), "byte for byte the same" if same else "DIFFERENT"))
    if not same or proc.poll() is not None:
        print(open(f"{run}/molt.err").read(), file=sys.stderr)
        sys.exit(1)
finally:
    listener.close()
    proc.kill()
    proc.wait()
    shutil.rmtree(run, ignore_errors=True)
