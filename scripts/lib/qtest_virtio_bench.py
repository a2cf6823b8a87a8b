#!/usr/bin/env python3
"""The VMM side of virtio-blk and virtio-net under -accel qtest, where no guest CPU runs: this script is
the guest's driver over the qtest protocol (modern virtio-mmio, polled). Each round makes BATCH requests
available at once, notifies once, and times from the notify until the device has used them all (its
used index, read over qtest, which adds a round trip of the socket to each poll; the same for every
VMM; the line's qtest_rtt_us says what one costs). MOLT_BENCH_WARMUP seconds of untimed rounds come
first (default 1: molt's JIT), then MOLT_BENCH_SECONDS of timed ones (default 2). Prints one JSON line.

Modes: randread, randwrite (4 KiB at random 4 KiB-aligned offsets of a 256 MiB raw image filled with
data, page cache warm), seqread, seqwrite (1 MiB after 1 MiB): ops, seconds in the device, iops,
MiB/s. pps, rtt: UDP datagrams to scripts/lib/echo_net.py's responder through a tap (the VMM runs in
its namespace), each round's datagrams answered before the next: answers per second, and with rtt
(BATCH 1) the median round trip in microseconds.
Usage: qtest_virtio_bench.py VMM_BINARY WORKDIR MODE BATCH [extra VMM options...]   (root for pps/rtt)"""
import json
import os
import random
import statistics
import struct
import subprocess
import sys
import time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import qtest  # noqa: E402
from echo_net import EchoNet  # noqa: E402

vmm, work, mode, batch, extra = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5:]
SECONDS = float(os.environ.get("MOLT_BENCH_SECONDS", "2"))
WARMUP = float(os.environ.get("MOLT_BENCH_WARMUP", "1"))    # untimed rounds first (molt's JIT)
NET = mode in ("pps", "rtt")
os.makedirs(work, exist_ok=True)
IMAGE, IMAGE_BYTES = f"{work}/disk.raw", 256 << 20
MAC = bytes.fromhex("525400123456")
RAM, Q = 0x100000, 256                      # rings from 1 MiB, queues of 256 entries
BUFS = 0x400000                             # data buffers from 4 MiB


class Device:
    """A virtio-mmio transport found by probing microvm's 24 slots (molt fills them from the bottom,
    QEMU from the top); set up with VERSION_1 (+ feature bits given) and nq queues."""

    def __init__(self, t, device_id, features, nq):
        self.t = t
        self.base = next((b for b in (0xfeb00000 + 0x200 * i for i in range(24))
                          if self.rd(0, b) == 0x74726976 and self.rd(8, b) == device_id), None)
        if self.base is None:
            raise SystemExit("no virtio-mmio device %d" % device_id)
        if self.rd(4) != 2:
            raise SystemExit("the transport is legacy (QEMU needs -global virtio-mmio.force-legacy=false)")
        for s in (0, 1, 3):
            self.wr(0x70, s)
        self.wr(0x24, 0); self.wr(0x20, features)
        self.wr(0x24, 1); self.wr(0x20, 1)
        self.wr(0x70, 11)
        if not self.rd(0x70) & 8:
            raise SystemExit("FEATURES_OK refused")
        self.queues = []
        for q in range(nq):
            desc = RAM + q * 0x10000
            rings = (desc, desc + 0x1000, desc + 0x2000)
            self.wr(0x30, q)
            self.wr(0x38, Q)
            for off, addr in zip((0x80, 0x90, 0xa0), rings):
                self.wr(off, addr & 0xffffffff); self.wr(off + 4, addr >> 32)
            self.wr(0x44, 1)
            self.queues.append({"desc": desc, "avail": desc + 0x1000, "used": desc + 0x2000, "idx": 0, "used_seen": 0})
        self.wr(0x70, 15)

    def rd(self, off, base=None):
        return int(self.t.ok("readl 0x%x" % ((self.base if base is None else base) + off)), 16)

    def wr(self, off, v):
        self.t.ok("writel 0x%x 0x%x" % (self.base + off, v))

    def offer(self, q, descs, heads):
        """Writes the descriptor table entries {index: (addr, len, flags, next)} and heads into the
        available ring, then its index: the batch is available, not yet notified."""
        vq = self.queues[q]
        for i, (addr, ln, fl, nx) in descs.items():
            self.t.write(vq["desc"] + 16 * i, struct.pack("<QIHH", addr, ln, fl, nx))
        ring = b"".join(struct.pack("<H", h) for h in heads)
        start = vq["idx"] % Q
        first = ring[:2 * (Q - start)]
        self.t.write(vq["avail"] + 4 + 2 * start, first)
        if len(ring) > len(first):
            self.t.write(vq["avail"] + 4, ring[len(first):])
        vq["idx"] = (vq["idx"] + len(heads)) & 0xffff
        self.t.ok("writew 0x%x 0x%x" % (vq["avail"] + 2, vq["idx"]))

    def used_idx(self, q):
        return int(self.t.ok("readw 0x%x" % (self.queues[q]["used"] + 2)), 16)

    def wait_used(self, q, n, timeout=30):
        """Polls until at least n more elements are used; returns every new one's (id, len)."""
        vq, end = self.queues[q], time.monotonic() + timeout
        while True:
            new = (self.used_idx(q) - vq["used_seen"]) & 0xffff
            if new >= n:
                break
            if time.monotonic() > end:
                raise SystemExit("the device used %d of %d" % (new, n))
        first, out = vq["used_seen"], []
        raw = self.t.read(vq["used"] + 4, 8 * Q)
        for k in range(new):
            out.append(struct.unpack_from("<II", raw, 8 * ((first + k) % Q)))
        vq["used_seen"] = (first + new) & 0xffff
        return out


def start(prefix, args):
    sock = f"{work}/qtest.sock"
    listener = qtest.Listener(sock)
    proc = subprocess.Popen(prefix + [vmm, *extra, "-accel", "qtest", "-machine", "microvm", "-m", "256M", "-display", "none",
                                      "-nodefaults", "-qtest", f"unix:{sock}", "-qtest-log", "none", *args],
                            stdout=subprocess.DEVNULL, stderr=open(f"{work}/vmm.err", "w"), start_new_session=True)
    try:
        return proc, listener, listener.accept()
    except Exception:
        os.killpg(proc.pid, 9)
        raise SystemExit("the VMM did not connect: " + open(f"{work}/vmm.err").read()[-300:])


def blk(t):
    dev = Device(t, 2, 0, 1)
    bs = 4096 if mode.startswith("rand") else 1 << 20
    write = mode.endswith("write")
    blocks = IMAGE_BYTES // bs
    hdr, status = BUFS, BUFS + 16 * batch
    data = BUFS + 0x10000
    if write:
        t.write(data, qtest.pattern(3, bs * batch))
    rng, nxt, ops, busy = random.Random(1), 0, 0, 0.0
    warm = time.monotonic() + WARMUP
    end = warm + SECONDS
    while time.monotonic() < end:
        if ops and warm and time.monotonic() > warm:
            ops, busy, warm = 0, 0.0, None
        descs, heads, hdrs = {}, [], b""
        for k in range(batch):
            blk_no = rng.randrange(blocks) if mode.startswith("rand") else nxt % blocks
            nxt += 1
            hdrs += struct.pack("<IIQ", 1 if write else 0, 0, blk_no * bs // 512)
            d = 3 * k
            descs[d] = (hdr + 16 * k, 16, 1, d + 1)
            descs[d + 1] = (data + bs * k, bs, 1 | (0 if write else 2), d + 2)
            descs[d + 2] = (status + k, 1, 2, 0)
            heads.append(d)
        t.write(hdr, hdrs)
        t.write(status, b"\xff" * batch)
        dev.offer(0, descs, heads)
        t0 = time.perf_counter()
        dev.wr(0x50, 0)
        dev.wait_used(0, batch)
        busy += time.perf_counter() - t0
        if any(t.read(status, batch)):
            raise SystemExit("a request failed")
        ops += batch
    return {"ops": ops, "seconds": round(busy, 4), "iops": round(ops / busy), "mib_s": round(ops * bs / busy / (1 << 20), 1)}


def udp_frame(seq):
    payload = struct.pack(">QQQ", 0x74656e746c6f6d, 0, seq) + bytes(40)
    ip = bytearray(struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + 8 + len(payload), seq & 0xffff, 0x4000, 64, 17, 0,
                               bytes([10, 99, 0, 2]), bytes([10, 99, 0, 1])))
    s = sum(struct.unpack(">10H", ip))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    ip[10:12] = struct.pack(">H", ~s & 0xffff)
    udp = struct.pack(">HHHH", 7001, 7000, 8 + len(payload), 0)
    return b"\xff" * 6 + MAC + b"\x08\x00" + bytes(ip) + udp + payload


FRAME = 14 + 20 + 8 + 64


def net(t):
    dev = Device(t, 1, 1 << 5, 2)
    # every receive buffer posted once, given back as soon as it is used
    rxbuf = lambda i: BUFS + 2048 * i  # noqa: E731
    dev.offer(0, {i: (rxbuf(i), 2048, 2, 0) for i in range(Q)}, list(range(Q)))
    dev.wr(0x50, 0)
    txbase = BUFS + 2048 * Q
    seq, answered, busy, rtts = 0, 0, 0.0, []
    warm = time.monotonic() + WARMUP
    end = warm + SECONDS
    while time.monotonic() < end:
        if answered and warm and time.monotonic() > warm:
            answered, busy, rtts, warm = 0, 0.0, [], None
        t.write(txbase, b"".join(bytes(12) + udp_frame(seq + k).ljust(2036, b"\0") for k in range(batch)))
        dev.offer(1, {k: (txbase + 2048 * k, 12 + FRAME, 0, 0) for k in range(batch)}, list(range(batch)))
        want = set(range(seq, seq + batch))
        seq += batch
        t0 = time.perf_counter()
        dev.wr(0x50, 1)
        while want:
            # whatever else the namespace sends (it should be nothing: IPv6 is off there) is skipped,
            # its time counted, as a guest's driver would spend it too
            got = dev.wait_used(0, 1, timeout=5)
            took = time.perf_counter() - t0
            for i, ln in got:
                f = t.read(rxbuf(i) + 12, FRAME) if ln == 12 + FRAME else b""
                if f[34:38] == bytes.fromhex("1b581b59") and struct.unpack(">Q", f[42:50])[0] == 0x74656e746c6f6d:
                    want.discard(struct.unpack(">Q", f[58:66])[0])
            dev.offer(0, {}, [i for i, _ in got])
            dev.wr(0x50, 0)
        busy += took
        rtts.append(took)
        dev.wait_used(1, batch)
        answered += batch
    out = {"ops": answered, "seconds": round(busy, 4), "pps": round(answered / busy)}
    if mode == "rtt":
        out["rtt_us"] = round(statistics.median(rtts) * 1e6, 1)
    return out


echo = EchoNet("molt-qbench-%d" % os.getpid(), ["qb0"]) if NET else None
try:
    if NET:
        # the driver here answers no ARP: the responder's side knows the guest's MAC for good
        echo.neighbour("10.99.0.2", MAC.hex(":"))
        proc, listener, t = start(echo.prefix, ["-netdev", "tap,id=n0,ifname=qb0,script=no,downscript=no",
                                                "-device", "virtio-net-device,netdev=n0,mac=" + MAC.hex(":")])
    else:
        if not os.path.exists(IMAGE):
            with open(IMAGE, "wb") as f:
                f.write(qtest.pattern(5, IMAGE_BYTES))
        proc, listener, t = start([], ["-drive", f"if=none,id=d0,file={IMAGE},format=raw,cache=writeback",
                                       "-device", "virtio-blk-device,drive=d0"])
    try:
        result = net(t) if NET else blk(t)
        # what one poll of the used index costs with this VMM (a qtest round trip): part of every figure
        t0 = time.perf_counter()
        for _ in range(500):
            t.ok("readw 0x%x" % RAM)
        result["qtest_rtt_us"] = round((time.perf_counter() - t0) / 500 * 1e6, 1)
        print(json.dumps({"mode": mode, "batch": batch, **result}))
    finally:
        t.close()
        listener.close()
        os.killpg(proc.pid, 9)
        proc.wait()
finally:
    if echo:
        echo.close()
