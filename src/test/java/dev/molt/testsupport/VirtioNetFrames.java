package dev.molt.testsupport;

import java.util.Arrays;
import java.util.List;

/**
 * A virtio-net driver for tests, over {@link VirtioDriver}s for the receive (0) and transmit (1)
 * queues: frames go out with a zeroed 12-byte virtio_net_hdr_v1, receive buffers of one size are
 * posted and re-posted as frames arrive. Everything lives in guest RAM from {@code area}.
 */
public final class VirtioNetFrames {
    public static final int HDR = 12;
    public static final int QUEUE = 64;
    private final VirtioDriver.Bus bus;
    private final long base, area;
    private final VirtioDriver rx, tx;
    private final long rxBufs, txBufs;
    private final int bufSize;
    private int txNext;
    private boolean indirect;

    /** The layout: rings at {@code area}, then {@link #QUEUE} receive buffers of {@code bufSize}, then as many transmit buffers. */
    public VirtioNetFrames(VirtioDriver.Bus bus, long base, long area, int bufSize) {
        this.bus = bus;
        this.base = base;
        this.area = area;
        this.bufSize = bufSize;
        this.rx = new VirtioDriver(bus, base, area, QUEUE, 0);
        this.tx = new VirtioDriver(bus, base, area + 0x4000, QUEUE, 1);
        this.rxBufs = area + 0x8000;
        this.txBufs = rxBufs + (long) QUEUE * bufSize;
    }

    /** This driver, its queues where they were, reaching the guest through {@code other} (a migration's destination). */
    public VirtioNetFrames movedTo(VirtioDriver.Bus other) {
        VirtioNetFrames m = new VirtioNetFrames(other, base, area, bufSize);
        m.rx.resume(rx.position());
        m.tx.resume(tx.position());
        m.txNext = txNext;
        return m;
    }

    public VirtioDriver rx() {
        return rx;
    }

    public VirtioDriver tx() {
        return tx;
    }

    /** Negotiates {@code features}, sets up both queues, DRIVER_OK. */
    public void init(long features) throws Exception {
        if (!rx.negotiate(features)) throw new AssertionError("the device refused features 0x" + Long.toHexString(features));
        rx.setUpQueue();
        tx.setUpQueue();
        rx.driverOk();
    }

    /**
     * From now on every chain goes as an indirect table (VIRTIO_F_INDIRECT_DESC, which the driver
     * must have negotiated) of two buffers, the header apart from the frame, as Linux's driver
     * makes them. The tables lie between the rings (receive) and after them (transmit).
     */
    public void useIndirect() {
        indirect = true;
    }

    private void add(VirtioDriver queue, long tables, int slot, List<VirtioDriver.Buf> bufs) throws Exception {
        if (indirect) queue.addIndirect(bufs, tables + 32L * slot);
        else queue.add(bufs);
    }

    /** Makes {@code n} receive buffers available and notifies. */
    public void postRx(int n) throws Exception {
        for (int i = 0; i < n; i++) post();
        rx.notifyQueue();
    }

    private void post() throws Exception {
        int head = rx.position().nextDesc();
        long at = rxBufs + (long) head * bufSize;
        add(rx, area + 0x2000, head, indirect ? List.of(new VirtioDriver.Buf(at, HDR, true), new VirtioDriver.Buf(at + HDR, bufSize - HDR, true))
                : List.of(new VirtioDriver.Buf(at, bufSize, true)));
    }

    /** Sends {@code frame} and waits for the device to have taken it. */
    public void send(byte[] frame) throws Exception {
        send(new byte[HDR], frame);
    }

    /** Sends {@code frame} behind {@code header} (a virtio_net_hdr_v1: offload flags, checksum start and offset...). */
    public void send(byte[] header, byte[] frame) throws Exception {
        int slot = txNext++ % QUEUE;
        long at = txBufs + (long) slot * bufSize;
        byte[] withHdr = new byte[HDR + frame.length];
        System.arraycopy(header, 0, withHdr, 0, HDR);
        System.arraycopy(frame, 0, withHdr, HDR, frame.length);
        bus.write(at, withHdr);
        add(tx, area + 0x6000, slot, indirect ? List.of(new VirtioDriver.Buf(at, HDR, false), new VirtioDriver.Buf(at + HDR, frame.length, false))
                : List.of(new VirtioDriver.Buf(at, withHdr.length, false)));
        tx.notifyQueue();
        tx.awaitUsed(1, 30_000);
    }

    /** A received frame: its virtio_net_hdr_v1 and the frame after it. */
    public record Received(byte[] header, byte[] frame) {
        public int numBuffers() {
            return (header[10] & 0xFF) | (header[11] & 0xFF) << 8;
        }
    }

    /** Waits for the next received frame and posts its buffer again. */
    public Received receive(long timeoutMillis) throws Exception {
        VirtioDriver.Used u = rx.awaitUsed(1, timeoutMillis).getFirst();
        byte[] all = bus.read(rxBufs + (long) u.id() * bufSize, u.len());
        post();
        rx.notifyQueue();
        return new Received(Arrays.copyOf(all, HDR), Arrays.copyOfRange(all, HDR, all.length));
    }

    /** Received frames until one matches, skipping others (IPv6 router solicitations, say). */
    public Received receive(java.util.function.Predicate<byte[]> wanted, long timeoutMillis) throws Exception {
        long deadline = System.currentTimeMillis() + timeoutMillis;
        while (true) {
            Received r = receive(Math.max(1, deadline - System.currentTimeMillis()));
            if (wanted.test(r.frame())) return r;
        }
    }
}
