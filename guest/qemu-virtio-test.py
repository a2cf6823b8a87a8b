#!/usr/bin/env python3
"""Checks the test guest's virtio workloads and benchmarks under QEMU 10.2 (a developer tool, the way
the guest's virtio drivers are checked where molt cannot run it: no KVM needed, QEMU's TCG does).

Usage: guest/qemu-virtio-test.py [--accel tcg|kvm] [scenario ...]   (scenarios: workload, migrate, bench)
Needs QEMU 10.2 (../shared/tools/build-qemu.sh; MOLT_QEMU names another binary), root, /dev/net/tun
and ip(8): the guest's NIC is a tap on a bridge in a network namespace where scripts/lib/echo_net.py
answers its datagrams. Exit status 0 when every scenario passed.

workload: blk=1 net=1 on 2 vCPUs for 8 s: every tick line's block counters all ok and equal to the
tick number; every datagram sent once a tick and answered in the end (the newest may still be on
its way; under TCG an answer may come a tick or two late), none twice, out of order or damaged; the responder saw each datagram once.
migrate: the same across a live migration to a second QEMU on a second tap: the totals continue
there, at most one datagram per CPU lost (the answer on its way to the source's tap).
bench: every blkbench= and netbench= mode prints its BENCH line with a non-zero rate."""
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "scripts", "lib"))
import guest_vm  # noqa: E402
import qmp  # noqa: E402
from echo_net import EchoNet  # noqa: E402

ELF = os.path.join(HERE, "build", "molt-guest.elf")
TICK = re.compile(r"^tick (\d+) (\d+) \d+ (ok|CORRUPT)(?: blk=(\d+)/(\d+)/(\d+))?"
                  r"(?: net=(\d+)/(\d+) dup=(\d+) ooo=(\d+) bad=(\d+))?$")
ACCEL = "tcg"


def new_disk(work):
    disk = os.path.join(work, "disk.raw")
    with open(disk, "wb") as f:
        f.truncate(64 << 20)
    return disk


def boot(work, net, append, seconds):
    argv = guest_vm.command("qemu", guest_vm.QEMU, ELF, append, disk=new_disk(work), tap="gt0", accel=ACCEL)
    vm = guest_vm.Console(net.prefix + argv)
    try:
        if not vm.await_prefix("READY ", 120):
            return None, vm.lines[-5:]
        vm.run_for(seconds)
        return vm.lines, None
    finally:
        vm.close()


def scenario_workload(work):
    log = os.path.join(work, "responder.log")
    with EchoNet("molt-guestnet-check", ["gt0"], log=log) as net:
        lines, fail = boot(work, net, "mem=16M blk=1 net=1", 8)
    if lines is None:
        return [f"no READY: {fail}"]
    errs, last = check_workload(lines, pauses=0)
    seen = [l.strip() for l in open(log)] if os.path.exists(log) else []
    if len(seen) != len(set(seen)) or len(seen) < sum(s for _, s, _ in last.values()):
        errs.append(f"the responder saw {len(seen)} datagrams ({len(set(seen))} distinct); the guest sent {last}")
    print(f"    ticks/sent/answered per cpu: {last}; responder saw {len(seen)}")
    return errs[:10]


def check_workload(lines, pauses):
    """The tick lines' totals: blocks all ok, a datagram a tick, none answered twice, late or damaged,
    at the end at most 1 + pauses unanswered per CPU. Returns (errors, {cpu: (n, sent, answered)})."""
    errs, last = [], {}
    for l in lines:
        m = TICK.match(l)
        if not m:
            continue
        cpu, n, ok = int(m[1]), int(m[2]), m[3] == "ok"
        blk = tuple(int(x) for x in m.group(4, 5, 6))
        sent, answered, dup, ooo, bad = (int(x) for x in m.group(7, 8, 9, 10, 11))
        if not ok or blk != (n, 0, 0):
            errs.append(f"cpu {cpu} tick {n}: {l}")
        if sent != n or dup or ooo or bad or answered > sent:
            errs.append(f"cpu {cpu} tick {n}: network counters {l}")
        last[cpu] = (n, sent, answered)
    if sorted(last) != [0, 1] or min(n for n, _, _ in last.values()) < 20:
        errs.append(f"too few ticks: {last}")
    elif any(a < s - 1 - pauses for _, s, a in last.values()):
        errs.append(f"datagrams never answered (ticks, sent, answered): {last}")
    return errs, last


def scenario_migrate(work):
    """A live migration (QEMU to QEMU, the destination on a second tap of the bridge) under the
    workloads: the totals continue on the destination, at most one datagram per CPU lost with the
    source's tap."""
    disk, uri = new_disk(work), "unix:" + os.path.join(work, "mig.sock")
    with EchoNet("molt-guestnet-check", ["gt0", "gt1"]) as net:
        def start(tap, name, *extra):
            argv = guest_vm.command("qemu", guest_vm.QEMU, ELF, "mem=16M blk=1 net=1", disk=disk, tap=tap, accel=ACCEL,
                                    extra=["-qmp", f"unix:{work}/{name}.qmp,server=on,wait=off", *extra])
            return guest_vm.Console(net.prefix + argv)
        src, dst = start("gt0", "src"), start("gt1", "dst", "-incoming", uri)
        try:
            if not src.await_prefix("READY ", 120):
                return [f"no READY: {src.lines[-5:]}"]
            src.run_for(3)
            q = qmp.connect(f"{work}/src.qmp")
            r = qmp.execute(q, "migrate", uri=uri)
            if "error" in r:
                return [f"migrate: {r}"]
            status = None
            for _ in range(600):
                src.pump(0.05)
                dst.pump(0.05)
                status = qmp.execute(q, "query-migrate")["return"].get("status")
                if status in ("completed", "failed"):
                    break
            if status != "completed":
                return [f"migration {status}"]
            dst.run_for(5)
        finally:
            src.close()
            dst.close()
    errs, last = check_workload(src.lines + dst.lines, pauses=1)
    moved = [l for l in dst.lines if l.startswith("tick ")]
    if len(moved) < 50:
        errs.append(f"the destination printed {len(moved)} tick lines")
    print(f"    ticks/sent/answered per cpu: {last}; {len(moved)} tick lines on the destination")
    return errs[:10]


BENCH = {
    "blkbench=randread": r"^BENCH blk randread bs=4096 qd=1 ops=\d+ ns=\d+ iops=[1-9]\d* bps=\d+$",
    "blkbench=randwrite benchqd=4": r"^BENCH blk randwrite bs=4096 qd=4 ops=\d+ ns=\d+ iops=[1-9]\d* bps=\d+$",
    "blkbench=seqread": r"^BENCH blk seqread bs=1048576 qd=1 ops=\d+ ns=\d+ iops=[1-9]\d* bps=\d+$",
    "blkbench=seqwrite": r"^BENCH blk seqwrite bs=1048576 qd=1 ops=\d+ ns=\d+ iops=[1-9]\d* bps=\d+$",
    "netbench=pps": r"^BENCH net pps window=32 sent=\d+ answered=[1-9]\d* ns=\d+ pps=[1-9]\d*$",
    "netbench=rtt": r"^BENCH net rtt n=[1-9]\d* lost=0 p50_ns=[1-9]\d* min_ns=\d+ max_ns=\d+$",
}


def scenario_bench(work):
    errs = []
    with EchoNet("molt-guestnet-check", ["gt0"]) as net:
        for mode, rx in BENCH.items():
            lines, fail = boot(work, net, f"mem=16M {mode} benchms=500", 0.5)
            got = [l for l in lines or fail if l.startswith("BENCH ")]
            print(f"    {mode}: {got}")
            if len(got) != 1 or not re.match(rx, got[0]):
                errs.append(f"{mode}: {got or (lines or fail)[-3:]}")
    return errs


def main():
    global ACCEL
    args = sys.argv[1:]
    if "--accel" in args:
        i = args.index("--accel")
        ACCEL = args[i + 1]
        del args[i:i + 2]
    if not os.access(guest_vm.QEMU, os.X_OK):
        sys.exit(f"no QEMU 10.2 at {guest_vm.QEMU}")
    subprocess.check_call([os.path.join(HERE, "build.sh")], stdout=subprocess.DEVNULL)
    scenarios = {"workload": scenario_workload, "migrate": scenario_migrate, "bench": scenario_bench}
    failed = 0
    for name in args or list(scenarios):
        with tempfile.TemporaryDirectory() as work:
            errs = scenarios[name](work)
        failed += not guest_vm.report(name, errs)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
