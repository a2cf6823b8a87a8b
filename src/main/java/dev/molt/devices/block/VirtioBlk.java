package dev.molt.devices.block;

import dev.molt.devices.GuestWrites;
import dev.molt.devices.virtio.DescriptorChain;
import dev.molt.devices.virtio.MoreChains;
import dev.molt.devices.virtio.Spans;
import dev.molt.devices.virtio.VirtioDevice;
import dev.molt.devices.virtio.VirtqueueException;
import dev.molt.memory.GuestMemory;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.List;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

/**
 * virtio-blk (virtio 1.x 5.2) over a raw image: one request queue; read, write, flush, get-id,
 * discard and write-zeroes. A request is a 16-byte header the device reads, data, and a status
 * byte the device writes last. A request the device can answer but not carry out (out of range,
 * not whole sectors, a write to a read-only drive, a failed system call) gets VIRTIO_BLK_S_IOERR;
 * an unknown one VIRTIO_BLK_S_UNSUPP. Only a chain with no status byte to answer in is thrown
 * back to the transport, which then marks the device as needing a reset.
 */
public final class VirtioBlk implements VirtioDevice {
    public static final int DEVICE_ID = 2;
    public static final int QUEUE_SIZE = 256;

    // Feature bits (5.2.3).
    static final long F_SEG_MAX = 1L << 2, F_RO = 1L << 5, F_BLK_SIZE = 1L << 6, F_FLUSH = 1L << 9,
            F_DISCARD = 1L << 13, F_WRITE_ZEROES = 1L << 14;
    // Request types and statuses (5.2.6).
    public static final int T_IN = 0, T_OUT = 1, T_FLUSH = 4, T_GET_ID = 8, T_DISCARD = 11, T_WRITE_ZEROES = 13;
    public static final int S_OK = 0, S_IOERR = 1, S_UNSUPP = 2;
    static final int HEADER = 16, SEGMENT = 16;
    static final int WRITE_ZEROES_F_UNMAP = 1;
    /** Largest discard or write-zeroes request, in sectors (QEMU's default, BDRV_REQUEST_MAX_SECTORS). */
    static final int MAX_ZERO_SECTORS = 0x3F_FFFF;
    /** struct virtio_blk_config up to write_zeroes_may_unmap and its padding. */
    static final int CONFIG_SIZE = 60;

    private final VirtioBlkConfig config;
    private final BlockImage image;
    private final byte[] configSpace;

    public VirtioBlk(VirtioBlkConfig config, BlockImage image) {
        this.config = config;
        this.image = image;
        this.configSpace = configSpace(image.sectors());
    }

    private static byte[] configSpace(long sectors) {
        ByteBuffer b = ByteBuffer.allocate(CONFIG_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(0, sectors);              // capacity
        b.putInt(12, QUEUE_SIZE - 2);       // seg_max: header and status take two descriptors
        b.putInt(20, BlockImage.SECTOR);    // blk_size
        b.putInt(36, MAX_ZERO_SECTORS);     // max_discard_sectors
        b.putInt(40, 1);                    // max_discard_seg
        b.putInt(44, 1);                    // discard_sector_alignment
        b.putInt(48, MAX_ZERO_SECTORS);     // max_write_zeroes_sectors
        b.putInt(52, 1);                    // max_write_zeroes_seg
        b.put(56, (byte) 1);                // write_zeroes_may_unmap
        return b.array();
    }

    @Override
    public int deviceId() {
        return DEVICE_ID;
    }

    @Override
    public String typeName() {
        return "virtio-blk-device";
    }

    @Override
    public long features() {
        return F_SEG_MAX | F_BLK_SIZE | F_FLUSH | F_DISCARD | F_WRITE_ZEROES | (config.drive().readOnly() ? F_RO : 0);
    }

    /** A batch's requests run at once, as QEMU's thread pool (aio=threads) or io_uring runs them. */
    @Override
    public int concurrentRequests() {
        return BlockImage.CONCURRENT_REQUESTS;
    }

    @Override
    public int queueCount() {
        return 1;
    }

    @Override
    public int queueMaxSize() {
        return QUEUE_SIZE;
    }

    @Override
    public byte[] configSpace() {
        return configSpace.clone();
    }

    @Override
    public int handle(int queue, DescriptorChain chain, MoreChains more, GuestMemory mem, GuestWrites writes) {
        List<DescriptorChain.Buffer> writable = chain.writable();
        if (writable.isEmpty() || writable.getLast().len() == 0) {
            throw new VirtqueueException("request at descriptor " + chain.head() + " has no status byte (its last buffer is not device-writable)");
        }
        DescriptorChain.Buffer last = writable.getLast();
        long statusGpa = last.gpa() + last.len() - 1;
        Spans out = Spans.of(chain.readable());
        Spans in = Spans.of(writable);
        in = in.take(in.length() - 1);
        Result r = out.length() < HEADER ? new Result(S_IOERR, 0) : serve(mem, writes, out, in);
        mem.slice(statusGpa, 1).set(JAVA_BYTE, 0, (byte) r.status());
        writes.written(statusGpa, 1);
        return (int) Math.min(Integer.MAX_VALUE, r.written() + 1);
    }

    /** A status and how many data bytes the device wrote into the guest's buffers. */
    private record Result(int status, long written) {
        static final Result OK = new Result(S_OK, 0);
        static final Result IOERR = new Result(S_IOERR, 0);
        static final Result UNSUPP = new Result(S_UNSUPP, 0);

        static Result of(long errno) {
            return errno == 0 ? OK : IOERR;
        }
    }

    private Result serve(GuestMemory mem, GuestWrites writes, Spans out, Spans in) {
        ByteBuffer h = ByteBuffer.wrap(out.copyOut(mem, HEADER)).order(ByteOrder.LITTLE_ENDIAN);
        int type = h.getInt(0);
        long sector = h.getLong(8);
        Spans payload = out.drop(HEADER);
        return switch (type) {
            case T_IN -> read(mem, writes, sector, in);
            case T_OUT -> write(mem, sector, payload);
            case T_FLUSH -> Result.of(image.flush());
            case T_GET_ID -> {
                byte[] id = java.util.Arrays.copyOf(config.serial().getBytes(StandardCharsets.UTF_8), VirtioBlkConfig.SERIAL_BYTES);
                int n = in.copyIn(mem, id);
                in.written(writes, n);
                yield new Result(S_OK, n);
            }
            case T_DISCARD, T_WRITE_ZEROES -> zeroes(mem, type, payload);
            default -> Result.UNSUPP;
        };
    }

    /** Whether {@code [sector, sector + bytes / 512)} is whole sectors inside the image. */
    private boolean inRange(long sector, long bytes) {
        if (bytes % BlockImage.SECTOR != 0) return false;
        long capacity = image.sectors();
        return Long.compareUnsigned(sector, capacity) <= 0 && bytes / BlockImage.SECTOR <= capacity - sector;
    }

    private Result read(GuestMemory mem, GuestWrites writes, long sector, Spans into) {
        if (!inRange(sector, into.length())) return Result.IOERR;
        long r = image.read(segments(mem, into), sector * BlockImage.SECTOR);
        into.written(writes, into.length()); // even a failed read may have written part of it
        return r != 0 ? Result.IOERR : new Result(S_OK, into.length());
    }

    private Result write(GuestMemory mem, long sector, Spans from) {
        if (config.drive().readOnly() || !inRange(sector, from.length())) return Result.IOERR;
        return Result.of(image.write(segments(mem, from), sector * BlockImage.SECTOR));
    }

    /** Guest RAM's own memory under the spans, for the image to read into or write from. */
    private static List<java.lang.foreign.MemorySegment> segments(GuestMemory mem, Spans spans) {
        List<java.lang.foreign.MemorySegment> out = new java.util.ArrayList<>(spans.parts().size());
        for (Spans.Span s : spans.parts()) out.add(mem.slice(s.gpa(), s.len()));
        return out;
    }

    /** Discard and write-zeroes: one segment {le64 sector, le32 num_sectors, le32 flags} (5.2.6). */
    private Result zeroes(GuestMemory mem, int type, Spans payload) {
        if (payload.length() < SEGMENT || payload.length() % SEGMENT != 0) return Result.IOERR;
        if (payload.length() > SEGMENT) return Result.UNSUPP; // more segments than max_*_seg
        ByteBuffer seg = ByteBuffer.wrap(payload.copyOut(mem, SEGMENT)).order(ByteOrder.LITTLE_ENDIAN);
        long sector = seg.getLong(0);
        long sectors = Integer.toUnsignedLong(seg.getInt(8));
        int flags = seg.getInt(12);
        boolean unmap = (flags & WRITE_ZEROES_F_UNMAP) != 0;
        if (type == T_DISCARD ? flags != 0 : (flags & ~WRITE_ZEROES_F_UNMAP) != 0) return Result.UNSUPP;
        if (config.drive().readOnly() || sectors > MAX_ZERO_SECTORS || !inRange(sector, sectors * BlockImage.SECTOR)) return Result.IOERR;
        long offset = sector * BlockImage.SECTOR, len = sectors * BlockImage.SECTOR;
        return Result.of(type == T_DISCARD ? image.discard(offset, len) : image.writeZeroes(offset, len, unmap));
    }

    @Override
    public void holdHostResources(boolean hold) {
        image.hold(hold);
    }

    @Override
    public void close() {
        image.close();
    }
}
