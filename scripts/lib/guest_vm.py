"""The test guest (guest/README.md) under molt or QEMU 10.2 with a virtio-blk disk and a virtio-net tap,
for the guest's checks and benchmarks: the command line of each VMM and a reader of the serial console.

QEMU's microvm does not append virtio_mmio.device= for this kernel and fills its transports from the top
(the first device at 0xfeb02e00, the next 0x200 below), and its transports are legacy unless told
otherwise; molt appends the words itself (docs/virtio.md)."""
import os
import re
import select
import subprocess
import time

QEMU = os.environ.get("MOLT_QEMU", os.path.expanduser("~/.cache/molt-qemu/10.2.2/build/qemu-system-x86_64"))
MAC = "52:54:00:12:34:56"


def command(kind, vmm, guest, append, cpus=2, ram="256M", disk=None, tap=None, accel="kvm", extra=()):
    """argv for kind 'molt' or 'qemu' (vmm: the binary), serial console on stdout."""
    devices, slot = [], 0
    if disk:
        devices += ["-drive", f"if=none,id=d0,file={disk},format=raw", "-device", "virtio-blk-device,drive=d0"]
    if tap:
        devices += ["-netdev", f"tap,id=n0,ifname={tap},script=no,downscript=no", "-device", f"virtio-net-device,netdev=n0,mac={MAC}"]
    if kind == "molt":
        return [vmm, "-machine", "microvm", "-m", ram, "-smp", str(cpus), "-kernel", guest, "-append", append,
                "-serial", "stdio", "-display", "none", *devices, *extra]
    for _ in range(bool(disk) + bool(tap)):
        append += " virtio_mmio.device=512@0x%x:%d" % (0xfeb02e00 - 0x200 * slot, 23 - slot)
        slot += 1
    fw = os.path.join(os.path.dirname(os.path.dirname(vmm)), "firmware")
    return [vmm, "-L", fw if os.path.isdir(fw) else "/usr/share/qemu", "-accel", accel, "-machine", "microvm",
            *(["-cpu", "host"] if accel == "kvm" else []), "-m", ram, "-smp", str(cpus), "-kernel", guest,
            "-append", append, "-global", "virtio-mmio.force-legacy=false", "-serial", "stdio", "-display", "none",
            "-nodefaults", "-no-reboot", *devices, *extra]


class Console:
    """A VMM process whose stdout is the guest's serial console, read line by line: lines[i] arrived
    times[i] seconds after the start."""

    def __init__(self, argv, stdin=subprocess.DEVNULL):
        self.t0 = time.monotonic()
        self.p = subprocess.Popen(argv, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  start_new_session=True)
        self.buf, self.lines, self.times = b"", [], []

    def pump(self, timeout):
        """Reads what arrives within timeout; False once the VMM closed its output."""
        r, _, _ = select.select([self.p.stdout], [], [], timeout)
        if not r:
            return True
        data = os.read(self.p.stdout.fileno(), 65536)
        if not data:
            return False
        self.buf += data
        *done, self.buf = self.buf.split(b"\n")
        for line in done:
            text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", line.decode("latin-1").replace("\r", ""))
            self.lines.append(text)
            self.times.append(time.monotonic() - self.t0)
        return True

    def await_prefix(self, prefix, timeout):
        """The first line starting with prefix, or None when timeout passed or the VMM ended."""
        end, i = time.monotonic() + timeout, 0
        while True:
            while i < len(self.lines):
                if self.lines[i].startswith(prefix):
                    return self.lines[i]
                i += 1
            left = end - time.monotonic()
            if left <= 0 or not self.pump(min(left, 0.2)):
                return None

    def run_for(self, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if not self.pump(0.1) and self.p.poll() is not None:
                break

    def close(self):
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait()


def report(name, errs, note=""):
    """Prints PASS/FAIL NAME NOTE and the errors under it; True if it passed."""
    print(f"{'PASS' if not errs else 'FAIL'} {name}{note}")
    for e in errs:
        print(f"    {e}")
    return not errs
