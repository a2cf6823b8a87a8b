#!/usr/bin/env python3
"""One run of the test guest's benchmark mode (guest/README.md: blkbench=, netbench=) under molt or QEMU
10.2 with KVM: boots the guest with a 256 MiB raw image (filled with data) or a tap into
scripts/lib/echo_net.py's responder, reads its BENCH line and prints it as one JSON line (iops and MiB/s,
or answers per second, or the median round trip in microseconds). MOLT_BENCH_ACCEL=tcg runs QEMU under
TCG instead (a check of this script where there is no KVM; molt needs KVM).
Usage: guest_bench.py molt|qemu VMM GUEST WORKDIR randread|randwrite|seqread|seqwrite|pps|rtt BATCH"""
import json
import os
import re
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "lib"))
import guest_vm  # noqa: E402
import qtest  # noqa: E402
from echo_net import EchoNet  # noqa: E402

kind, vmm, guest, work, mode, batch = sys.argv[1:7]
NET = mode in ("pps", "rtt")
seconds = float(os.environ.get("MOLT_BENCH_SECONDS", "2"))
os.makedirs(work, exist_ok=True)
append = "mem=16M benchms=%d " % (seconds * 1000)
append += ("netbench=" + mode) if NET else ("blkbench=%s benchqd=%d" % (mode, min(int(batch), 16)))
image = f"{work}/disk.raw"
if not NET and not os.path.exists(image):
    with open(image, "wb") as f:
        f.write(qtest.pattern(5, 256 << 20))
echo = EchoNet("molt-gbench-%d" % os.getpid(), ["gb0"]) if NET else None
try:
    argv = guest_vm.command(kind, vmm, guest, append, disk=None if NET else image, tap="gb0" if NET else None,
                            accel=os.environ.get("MOLT_BENCH_ACCEL", "kvm"))
    vm = guest_vm.Console((echo.prefix if echo else []) + argv)
    try:
        line = vm.await_prefix("BENCH ", 120 + seconds)
    finally:
        vm.close()
finally:
    if echo:
        echo.close()
if not line or " ERROR " in line:
    raise SystemExit("no BENCH line: %s" % (line or vm.lines[-3:]))
f = dict(kv.split("=") for kv in re.findall(r"\w+=\d+", line))
if NET and mode == "pps":
    out = {"pps": int(f["pps"])}
elif NET:
    out = {"rtt_us": round(int(f["p50_ns"]) / 1000, 1), "lost": int(f["lost"])}
else:
    out = {"iops": int(f["iops"]), "mib_s": round(int(f["bps"]) / (1 << 20), 1)}
print(json.dumps({"mode": mode, **out}))
