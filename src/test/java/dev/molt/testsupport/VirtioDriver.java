package dev.molt.testsupport;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * A virtio-mmio driver for tests, as QEMU's libqos drives its devices: it negotiates, sets up one
 * split queue in guest RAM, writes descriptor chains and the available ring, notifies, and reads
 * the used ring. It reaches the device through {@link Bus}: in-process (unit tests) or over the
 * qtest protocol (integration tests), the same code.
 */
public final class VirtioDriver {
    /** Guest memory and the transport's registers as a CPU reaches them. */
    public interface Bus {
        void write(long gpa, byte[] data) throws Exception;

        byte[] read(long gpa, int len) throws Exception;

        void writel(long addr, int value) throws Exception;

        int readl(long addr) throws Exception;
    }

    public static final int ACKNOWLEDGE = 1, DRIVER = 2, DRIVER_OK = 4, FEATURES_OK = 8, NEEDS_RESET = 0x40;
    public static final long VERSION_1 = 1L << 32, INDIRECT_DESC = 1L << 28, EVENT_IDX = 1L << 29;
    public static final int INDIRECT = 4;

    /** A buffer of a chain: {@code writable} for the device to write. */
    public record Buf(long gpa, int len, boolean writable) {}

    /** A used-ring element. */
    public record Used(int id, int len) {}

    private final Bus bus;
    private final long base;
    private final int size;
    private final int queue;
    private final long desc, avail, used;
    private int nextDesc;
    private int availIdx;
    private int usedSeen;

    /** A driver for the transport at {@code base}, its queue of {@code size} in guest RAM from {@code ringBase} (4 KiB-aligned). */
    public VirtioDriver(Bus bus, long base, long ringBase, int size) {
        this(bus, base, ringBase, size, 0);
    }

    /** A driver for queue {@code queue} of the transport at {@code base} (a device with several queues has one per queue). */
    public VirtioDriver(Bus bus, long base, long ringBase, int size, int queue) {
        this.bus = bus;
        this.queue = queue;
        this.base = base;
        this.size = size;
        this.desc = ringBase;
        this.avail = ringBase + 16L * size;
        this.used = (avail + 6 + 2L * size + 4095) & ~4095L;
    }

    public long ringEnd() {
        return used + 6 + 8L * size;
    }

    public int readl(int reg) throws Exception {
        return bus.readl(base + reg);
    }

    public void writel(int reg, int v) throws Exception {
        bus.writel(base + reg, v);
    }

    public long deviceFeatures() throws Exception {
        writel(0x14, 0);
        long lo = Integer.toUnsignedLong(readl(0x10));
        writel(0x14, 1);
        return lo | (long) readl(0x10) << 32;
    }

    /** Reset, negotiate {@code features}: returns whether the device kept FEATURES_OK. */
    public boolean negotiate(long features) throws Exception {
        writel(0x70, 0);
        writel(0x70, ACKNOWLEDGE);
        writel(0x70, ACKNOWLEDGE | DRIVER);
        writel(0x24, 0);
        writel(0x20, (int) features);
        writel(0x24, 1);
        writel(0x20, (int) (features >>> 32));
        writel(0x70, ACKNOWLEDGE | DRIVER | FEATURES_OK);
        return (readl(0x70) & FEATURES_OK) != 0;
    }

    /** The whole start-up (3.1.1) with {@code features}, queue 0 at the rings, DRIVER_OK. */
    public void init(long features) throws Exception {
        if (!negotiate(features)) throw new AssertionError("the device refused features 0x" + Long.toHexString(features));
        setUpQueue();
        driverOk();
    }

    /** Sets up this driver's queue at its rings (after {@link #negotiate}, before {@link #driverOk}). */
    public void setUpQueue() throws Exception {
        bus.write(desc, new byte[(int) (ringEnd() - desc)]);
        writel(0x30, queue);
        if (readl(0x34) < size) throw new AssertionError("queue max " + readl(0x34) + " < " + size);
        writel(0x38, size);
        writel(0x80, (int) desc);
        writel(0x84, (int) (desc >>> 32));
        writel(0x90, (int) avail);
        writel(0x94, (int) (avail >>> 32));
        writel(0xA0, (int) used);
        writel(0xA4, (int) (used >>> 32));
        writel(0x44, 1);
        nextDesc = availIdx = usedSeen = 0;
    }

    public void driverOk() throws Exception {
        writel(0x70, ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK);
    }

    /** Writes a chain in free descriptors and makes it available (without notifying); returns its head. */
    public int add(List<Buf> bufs) throws Exception {
        int head = nextDesc;
        for (int i = 0; i < bufs.size(); i++) {
            int index = (head + i) % size;
            boolean more = i + 1 < bufs.size();
            writeDesc(index, bufs.get(i).gpa(), bufs.get(i).len(), (more ? 1 : 0) | (bufs.get(i).writable() ? 2 : 0), more ? (index + 1) % size : 0);
        }
        nextDesc = (head + bufs.size()) % size;
        publish(head);
        return head;
    }

    /**
     * Makes {@code bufs} available as one indirect descriptor (VIRTIO_F_INDIRECT_DESC): the chain
     * written as a table at {@code table} in guest RAM, entry i chaining to i + 1. Returns its head.
     */
    public int addIndirect(List<Buf> bufs, long table) throws Exception {
        bus.write(table, indirectTable(bufs));
        int head = nextDesc;
        writeDesc(head, table, 16 * bufs.size(), INDIRECT, 0);
        nextDesc = (head + 1) % size;
        publish(head);
        return head;
    }

    /** An indirect table of {@code bufs}, chained in order (a test corrupts it before writing it). */
    public static byte[] indirectTable(List<Buf> bufs) {
        ByteBuffer t = ByteBuffer.allocate(16 * bufs.size()).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < bufs.size(); i++) {
            boolean more = i + 1 < bufs.size();
            t.putLong(bufs.get(i).gpa()).putInt(bufs.get(i).len()).putShort((short) ((more ? 1 : 0) | (bufs.get(i).writable() ? 2 : 0)))
                    .putShort((short) (more ? i + 1 : 0));
        }
        return t.array();
    }

    /** VIRTIO_F_EVENT_IDX: the used index after which the driver wants its next interrupt. */
    public void setUsedEvent(int idx) throws Exception {
        bus.write(avail + 4 + 2L * size, le16(idx));
    }

    /** VIRTIO_F_EVENT_IDX: the available index after which the device wants its next notify. */
    public int availEvent() throws Exception {
        return u16(bus.read(used + 4 + 8L * size, 2));
    }

    /** Writes one raw descriptor (a test builds corrupt chains with it). */
    public void writeDesc(int index, long addr, int len, int flags, int next) throws Exception {
        ByteBuffer d = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
        d.putLong(addr).putInt(len).putShort((short) flags).putShort((short) next);
        bus.write(desc + 16L * index, d.array());
    }

    /** Puts {@code head} in the available ring and bumps its index. */
    public void publish(int head) throws Exception {
        bus.write(avail + 4 + 2L * (availIdx % size), le16(head));
        availIdx = (availIdx + 1) & 0xFFFF;
        bus.write(avail + 2, le16(availIdx));
    }

    /** Sets the available index directly (a corrupt driver). */
    public void setAvailIdx(int idx) throws Exception {
        availIdx = idx & 0xFFFF;
        bus.write(avail + 2, le16(availIdx));
    }

    public void notifyQueue() throws Exception {
        writel(0x50, queue);
    }

    public int usedIdx() throws Exception {
        return u16(bus.read(used + 2, 2));
    }

    /** Waits for the used index to pass every element seen so far by {@code count}, and returns the new elements. */
    public List<Used> awaitUsed(int count, long timeoutMillis) throws Exception {
        long deadline = System.currentTimeMillis() + timeoutMillis;
        while (((usedIdx() - usedSeen) & 0xFFFF) < count) {
            if (System.currentTimeMillis() > deadline) {
                throw new AssertionError("used index " + usedIdx() + " did not reach " + ((usedSeen + count) & 0xFFFF)
                        + " (status 0x" + Integer.toHexString(readl(0x70)) + ")");
            }
            Thread.sleep(1);
        }
        List<Used> out = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            ByteBuffer e = ByteBuffer.wrap(bus.read(used + 4 + 8L * ((usedSeen + i) % size), 8)).order(ByteOrder.LITTLE_ENDIAN);
            out.add(new Used(e.getInt(0), e.getInt(4)));
        }
        usedSeen = (usedSeen + count) & 0xFFFF;
        return out;
    }

    /** Reads and acknowledges the interrupt status. */
    public int ackInterrupt() throws Exception {
        int isr = readl(0x60);
        writel(0x64, isr);
        return isr;
    }

    public int usedSeen() {
        return usedSeen;
    }

    /** The driver's position, for carrying it on after a live update (the device's is in its state). */
    public record Position(int nextDesc, int availIdx, int usedSeen) {}

    public Position position() {
        return new Position(nextDesc, availIdx, usedSeen);
    }

    public void resume(Position p) {
        nextDesc = p.nextDesc();
        availIdx = p.availIdx();
        usedSeen = p.usedSeen();
    }

    static byte[] le16(int v) {
        return new byte[] {(byte) v, (byte) (v >>> 8)};
    }

    static int u16(byte[] b) {
        return (b[0] & 0xFF) | (b[1] & 0xFF) << 8;
    }
}
