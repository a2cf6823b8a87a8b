package dev.molt.testsupport;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * virtio-blk requests over a {@link VirtioDriver}, one at a time: the header, data and status
 * byte are placed in a scratch area of guest RAM the test owns ({@code scratch}: header at +0,
 * status at +16, data from +4096).
 */
public final class VirtioBlkRequests {
    public static final int T_IN = 0, T_OUT = 1, T_FLUSH = 4, T_GET_ID = 8, T_DISCARD = 11, T_WRITE_ZEROES = 13;
    public static final int S_OK = 0, S_IOERR = 1, S_UNSUPP = 2;

    private final VirtioDriver driver;
    private final VirtioDriver.Bus bus;
    private final long scratch;
    private boolean indirect;

    public VirtioBlkRequests(VirtioDriver driver, VirtioDriver.Bus bus, long scratch) {
        this.driver = driver;
        this.bus = bus;
        this.scratch = scratch;
    }

    /** From now on each request goes as one indirect table (VIRTIO_F_INDIRECT_DESC, negotiated) at scratch + 64. */
    public void useIndirect() {
        indirect = true;
    }

    public long header() {
        return scratch;
    }

    public long status() {
        return scratch + 16;
    }

    public long data() {
        return scratch + 4096;
    }

    /** A request's answer: its status byte and the used element's length. */
    public record Answer(int status, int usedLen) {}

    /**
     * Sends a request whose data buffer is {@code [data(), data() + len)} (readable for the device
     * unless {@code deviceWrites}), waits for it, and returns its answer.
     */
    public Answer request(int type, long sector, int len, boolean deviceWrites) throws Exception {
        int head = submit(type, sector, len, deviceWrites);
        return answer(head);
    }

    /** Makes the request available and notifies, without waiting; returns its head. */
    public int submit(int type, long sector, int len, boolean deviceWrites) throws Exception {
        byte[] h = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putInt(type).putInt(0).putLong(sector).array();
        bus.write(header(), h);
        bus.write(status(), new byte[] {(byte) 0xEE});
        List<VirtioDriver.Buf> bufs = new ArrayList<>();
        bufs.add(new VirtioDriver.Buf(header(), 16, false));
        if (len > 0) bufs.add(new VirtioDriver.Buf(data(), len, deviceWrites));
        bufs.add(new VirtioDriver.Buf(status(), 1, true));
        int head = indirect ? driver.addIndirect(bufs, scratch + 64) : driver.add(bufs);
        driver.notifyQueue();
        return head;
    }

    /** Waits for the next used element, which must be {@code head}'s, and returns its answer. */
    public Answer answer(int head) throws Exception {
        VirtioDriver.Used u = driver.awaitUsed(1, 30_000).getFirst();
        if (u.id() != head) throw new AssertionError("used id " + u.id() + ", expected head " + head);
        return new Answer(bus.read(status(), 1)[0] & 0xFF, u.len());
    }

    public Answer write(long sector, byte[] data) throws Exception {
        bus.write(data(), data);
        return request(T_OUT, sector, data.length, false);
    }

    public byte[] read(long sector, int len) throws Exception {
        Answer a = request(T_IN, sector, len, true);
        if (a.status() != S_OK) throw new AssertionError("read of sector " + sector + " answered " + a.status());
        return bus.read(data(), len);
    }

    /** Discard or write-zeroes of one segment. */
    public Answer zeroes(int type, long sector, int sectors, int flags) throws Exception {
        byte[] seg = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(sector).putInt(sectors).putInt(flags).array();
        bus.write(data(), seg);
        return request(type, 0, 16, false);
    }
}
