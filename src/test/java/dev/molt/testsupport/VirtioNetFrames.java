package dev.molt.testsupport;

import dev.molt.devices.net.MacAddress;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
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
    private final VirtioDriver rx, tx, ctrl;
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
        this.ctrl = new VirtioDriver(bus, base, area + 0x2800, QUEUE, 2); // between the receive queue's indirect tables and the transmit queue
        this.rxBufs = area + 0x8000;
        this.txBufs = rxBufs + (long) QUEUE * bufSize;
    }

    /** This driver, its queues where they were, reaching the guest through {@code other} (a migration's destination). */
    public VirtioNetFrames movedTo(VirtioDriver.Bus other) {
        VirtioNetFrames m = new VirtioNetFrames(other, base, area, bufSize);
        m.rx.resume(rx.position());
        m.tx.resume(tx.position());
        m.ctrl.resume(ctrl.position());
        m.txNext = txNext;
        return m;
    }

    public VirtioDriver rx() {
        return rx;
    }

    public VirtioDriver tx() {
        return tx;
    }

    public VirtioDriver ctrl() {
        return ctrl;
    }

    /** VIRTIO_NET_OK and VIRTIO_NET_ERR, the control queue's answers. */
    public static final int CTRL_OK = 0, CTRL_ERR = 1;

    /**
     * Sends a control command (class, command, data) and returns the device's ack byte. A command
     * of more than 1 KiB (a long MAC table) goes after the transmit buffers, the end of the layout.
     */
    public int control(int cls, int cmd, byte[] data) throws Exception {
        byte[] command = new byte[2 + data.length];
        long cmdAt = command.length <= 0x400 ? area + 0x3400 : txBufs + (long) QUEUE * bufSize, ackAt = area + 0x3800;
        command[0] = (byte) cls;
        command[1] = (byte) cmd;
        System.arraycopy(data, 0, command, 2, data.length);
        bus.write(cmdAt, command);
        bus.write(ackAt, new byte[] {(byte) 0xEE});
        ctrl.add(List.of(new VirtioDriver.Buf(cmdAt, command.length, false), new VirtioDriver.Buf(ackAt, 1, true)));
        ctrl.notifyQueue();
        VirtioDriver.Used u = ctrl.awaitUsed(1, 10_000).getFirst();
        if (u.len() != 1) throw new AssertionError("control answer of " + u.len() + " bytes");
        return bus.read(ackAt, 1)[0] & 0xFF;
    }

    /** Negotiates {@code features}, sets up both queues, DRIVER_OK. */
    public void init(long features) throws Exception {
        if (!rx.negotiate(features)) throw new AssertionError("the device refused features 0x" + Long.toHexString(features));
        rx.setUpQueue();
        tx.setUpQueue();
        ctrl.setUpQueue();
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

    /**
     * Waits for the next received frame and posts its buffers again: with MRG_RXBUF the frame's
     * first buffer says in num_buffers how many used buffers it fills, and they are joined.
     */
    public Received receive(long timeoutMillis) throws Exception {
        VirtioDriver.Used u = rx.awaitUsed(1, timeoutMillis).getFirst();
        byte[] all = bus.read(rxBufs + (long) u.id() * bufSize, u.len());
        Received first = new Received(Arrays.copyOf(all, HDR), Arrays.copyOfRange(all, HDR, all.length));
        java.io.ByteArrayOutputStream frame = new java.io.ByteArrayOutputStream();
        frame.writeBytes(first.frame());
        List<Integer> lengths = new java.util.ArrayList<>(List.of(u.len()));
        if (first.numBuffers() > 1) {
            for (VirtioDriver.Used more : rx.awaitUsed(first.numBuffers() - 1, timeoutMillis)) {
                frame.writeBytes(bus.read(rxBufs + (long) more.id() * bufSize, more.len()));
                lengths.add(more.len());
            }
        }
        for (int i = 0; i < lengths.size(); i++) post();
        rx.notifyQueue();
        lastLengths = List.copyOf(lengths);
        return new Received(first.header(), frame.toByteArray());
    }

    private List<Integer> lastLengths = List.of();

    /** The used lengths of the buffers the last received frame filled, in order. */
    public List<Integer> lastLengths() {
        return lastLengths;
    }

    /** VIRTIO_NET_CTRL_MAC_TABLE_SET's data: the unicast table, then the multicast one, each a le32 count and the addresses. */
    public static byte[] macTable(List<MacAddress> unicast, List<MacAddress> multicast) {
        ByteBuffer b = ByteBuffer.allocate(8 + MacAddress.BYTES * (unicast.size() + multicast.size())).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(unicast.size());
        unicast.forEach(m -> b.put(m.bytes()));
        b.putInt(multicast.size());
        multicast.forEach(m -> b.put(m.bytes()));
        return b.array();
    }

    /** The markers of the {@link EthFrames#probe probes} received until the one marked {@code last}, other frames skipped. */
    public List<Integer> probesUntil(int last) throws Exception {
        List<Integer> markers = new ArrayList<>();
        while (markers.isEmpty() || markers.getLast() != last) {
            markers.add(receive(fr -> EthFrames.type(fr) == EthFrames.ETHERTYPE_PROBE, 30_000).frame()[EthFrames.ETH] & 0xFF);
        }
        return markers;
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
