#!/usr/bin/env python3
"""Checks guest/build/molt-guest.elf under QEMU/KVM (a developer tool; molt's
own tests drive the guest under molt).

Usage: guest/qemu-test.py [--quick] [scenario ...]
Needs qemu-system-x86_64 (Debian: apt-get install -y qemu-system-x86) and
/dev/kvm. Each scenario boots the guest, reads the serial port (QEMU
-serial stdio), optionally types commands, and checks the output lines.
Exit status 0 when every scenario passed.
"""
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "scripts", "lib"))
import guest_vm  # noqa: E402
ELF = os.path.join(HERE, "build", "molt-guest.elf")
TICK_RE = re.compile(r"^tick (\d+) (\d+) (\d+) (ok|CORRUPT)(?: blk=\S+)?(?: net=\S+ dup=\d+ ooo=\d+ bad=\d+)?$")
READY_RE = re.compile(r"^READY cpus=(\d+) mem=(\d+) clock=(kvmclock|tsc)$")


class Guest(guest_vm.Console):
    def __init__(self, smp=2, mem="256M", append="mem=64M", machine="pc", extra=()):
        self.cmd = ["qemu-system-x86_64", "-enable-kvm", "-machine", machine, "-cpu", "host",
                    "-m", mem, "-smp", str(smp), "-kernel", ELF, "-append", append,
                    "-display", "none", "-monitor", "none", "-serial", "stdio",
                    "-no-reboot", *extra]
        super().__init__(self.cmd, stdin=subprocess.PIPE)
        self.cursor = 0          # wait_for looks at lines from here on

    def wait_for(self, pattern, timeout):
        """Returns (time, match) of the first line after the previous match
        that matches pattern."""
        rx = re.compile(pattern)
        end = time.monotonic() + timeout
        i = self.cursor
        while True:
            while i < len(self.lines):
                m = rx.search(self.lines[i])
                if m:
                    self.cursor = i + 1
                    return self.times[i], m
                i += 1
            left = end - time.monotonic()
            if left <= 0 or self.p.poll() is not None and not self.pump(0):
                return None, None
            if not self.pump(min(left, 0.2)) and self.p.poll() is not None:
                return None, None

    def send(self, text):
        self.p.stdin.write(text.encode())
        self.p.stdin.flush()

    def exited(self, timeout):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.p.poll() is not None:
                self.pump(0)
                return True
            self.pump(0.1)
        return False

    def text(self):
        return self.lines


def ticks(lines):
    out = {}
    for t in lines:
        m = TICK_RE.match(t)
        if m:
            out.setdefault(int(m.group(1)), []).append((int(m.group(2)), int(m.group(3)), m.group(4)))
    return out


def check_ticks(lines, ncpus, tick_ms=10):
    """Every CPU ticks, n counts 1,2,3..., all ok, period about tick_ms."""
    errs = []
    tk = ticks(lines)
    for c in range(ncpus):
        seq = tk.get(c, [])
        if len(seq) < 5:
            errs.append(f"cpu {c}: only {len(seq)} ticks")
            continue
        ns = [n for n, _, _ in seq]
        if ns != list(range(ns[0], ns[0] + len(ns))) or ns[0] != 1:
            errs.append(f"cpu {c}: tick numbers not 1,2,3...: {ns[:10]}")
        if any(s != "ok" for _, _, s in seq):
            errs.append(f"cpu {c}: not all ok")
        ts = [t for _, t, _ in seq]
        gaps = [(b - a) / 1e6 for a, b in zip(ts, ts[1:])]
        avg = sum(gaps) / len(gaps)
        if abs(avg - tick_ms) > tick_ms * 0.2:
            errs.append(f"cpu {c}: average tick period {avg:.2f} ms")
    return errs


def scenario_basic(smp=2, mem="256M", append="mem=64M", expect_mem=64 << 20, run=3.0, machine="pc"):
    g = Guest(smp=smp, mem=mem, append=append, machine=machine)
    try:
        t, m = g.wait_for(r"^READY ", 120)
        if not m:
            return [f"no READY; output: {g.text()[-5:]}"], None
        ready_line = [x for x in g.text() if x.startswith("READY ")][0]
        m2 = READY_RE.match(ready_line)
        errs = []
        if not m2 or int(m2.group(1)) != smp or int(m2.group(2)) != expect_mem:
            errs.append(f"bad READY line: {ready_line!r}")
        g.run_for(run)
        errs += check_ticks(g.text(), smp, tick_ms=int(re.search(r"tick=(\d+)", append).group(1))
                            if "tick=" in append else 10)
        if any(x.startswith("EXCEPTION") for x in g.text()):
            errs.append("EXCEPTION seen")
        return errs, t
    finally:
        g.close()


def scenario_commands():
    errs = []
    g = Guest(smp=2)
    try:
        _, m = g.wait_for(r"^READY ", 60)
        if not m:
            return ["no READY"]
        g.run_for(0.5)
        g.send("hello world\r")
        _, m = g.wait_for(r"^rx hello world$", 5)
        if not m:
            errs.append("no 'rx hello world' echo")
        g.send("corrupt\n")
        _, m = g.wait_for(r"^rx corrupt$", 5)
        if not m:
            errs.append("no 'rx corrupt'")
        _, m = g.wait_for(r"^tick 0 \d+ \d+ CORRUPT$", 5)
        if not m:
            errs.append("no CORRUPT tick on cpu 0")
        _, m = g.wait_for(r"^CORRUPT cpu=0 addr=0x[0-9a-f]+ want=0x[0-9a-f]+ got=0x[0-9a-f]+$", 5)
        if not m:
            errs.append("no CORRUPT detail line")
        g.run_for(1.0)
        t1 = ticks(g.text()).get(1, [])
        if not t1 or any(s != "ok" for _, _, s in t1):
            errs.append("cpu 1 should stay ok")
        g.send("reboot\r")
        if not g.exited(10):
            errs.append("reboot did not end QEMU (-no-reboot)")
    finally:
        g.close()
    g = Guest(smp=2)
    try:
        _, m = g.wait_for(r"^READY ", 60)
        g.send("triple\r")
        if not g.exited(10):
            errs.append("triple did not end QEMU (-no-reboot)")
    finally:
        g.close()
    return errs


def scenario_dirty():
    g = Guest(smp=2, append="mem=64M dirty=64 slice=4M")
    try:
        _, m = g.wait_for(r"^READY ", 60)
        if not m:
            return ["no READY"]
        g.run_for(5.0)   # 64 pages/tick: the 32 MiB shares are rewritten every 1.3 s
        return check_ticks(g.text(), 2)
    finally:
        g.close()


def scenario_mem_too_big():
    g = Guest(smp=1, append="mem=1G")
    try:
        _, m = g.wait_for(r"^ERROR mem=1G exceeds RAM", 30)
        return [] if m else [f"no ERROR line: {g.text()[-3:]}"]
    finally:
        g.close()


def main():
    if not os.path.exists(ELF):
        subprocess.check_call([os.path.join(HERE, "build.sh")])
    quick = "--quick" in sys.argv
    names = [a for a in sys.argv[1:] if not a.startswith("--")]
    scenarios = {
        "smp2": lambda: scenario_basic(smp=2),
        "smp1": lambda: scenario_basic(smp=1),
        "smp4": lambda: scenario_basic(smp=4),
        "tick20": lambda: scenario_basic(smp=2, append="mem=32M tick=20", expect_mem=32 << 20),
        "commands": lambda: (scenario_commands(), None),
        "dirty": lambda: (scenario_dirty(), None),
        "toobig": lambda: (scenario_mem_too_big(), None),
        "m4g": lambda: scenario_basic(smp=2, mem="4G", append="mem=3900M",
                                      expect_mem=3900 << 20, run=2.0),
        "m5g": lambda: scenario_basic(smp=2, mem="5G", append="mem=4800M",
                                      expect_mem=4800 << 20, run=2.0),
    }
    if not names:
        names = ["smp2", "commands"] if quick else list(scenarios)
    failed = 0
    for n in names:
        t0 = time.monotonic()
        errs, ready = scenarios[n]()
        took = time.monotonic() - t0
        extra = f" READY after {ready:.2f}s" if ready is not None else ""
        failed += not guest_vm.report(n, errs, f" ({took:.1f}s){extra}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
