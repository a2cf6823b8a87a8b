package dev.molt.migration.vmstate;

import dev.molt.sys.NativeSource;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.zip.CRC32C;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

/**
 * The reader's view of the input: exact-length reads that keep the running CRC32C, and turn an
 * early end or an I/O failure into a {@link VmStateException} saying where in the stream it hit.
 *
 * <p>Its buffer is native memory. From a {@link NativeSource} (a descriptor-backed migration
 * channel) bytes are read with read(2) straight into it, and a "ram" section's payload is handed on
 * as a slice of it ({@link #segment}): the pages reach guest RAM with one native copy and never pass
 * through the Java heap. Such a channel carries nothing but the stream until the receiver answers,
 * so each read there asks for at least {@link #READ_AHEAD} bytes (and gets what has arrived: it
 * never waits for more than it needs). Any other input stream is read through a heap chunk, exactly
 * the bytes needed: the stream's bytes and no more, as the caller's buffered stream may hold more.
 */
final class StreamInput {
    /** First chunk for a payload: big enough for any device section, small next to the limits. */
    private static final int FIRST_CHUNK = 64 << 10;
    /** The native buffer grows up to this: room for the largest "ram" section molt writes (256 pages, about 1 MiB) twice. */
    static final int CAPACITY = 2 << 20;
    private static final int FIRST_CAPACITY = 64 << 10;
    /** The least a refill asks for: a read past the current need stays small, and so does the compaction that moves it. */
    private static final int READ_AHEAD = 64 << 10;

    /** Where a read happens, for its error: "section 'cpu'" with section "cpu", "the stream header" without. */
    record Place(String description, String section) {}

    /** What the buffer is filled from: at least one byte into {@code into}, or -1 at the end. */
    private interface Source {
        long read(MemorySegment into) throws IOException;
    }

    private final Source source;
    /** The least a refill asks for: {@link #READ_AHEAD} from a channel, 1 (exactly what is needed) from anything else. */
    private final int readAhead;
    private final CRC32C crc = new CRC32C();
    private MemorySegment buf = Arena.ofAuto().allocate(FIRST_CAPACITY, 8);
    /** The next byte to read, the end of what is buffered, and where the checksum has got to, in {@link #buf}. */
    private long pos, end, crcPos;
    private long position;

    StreamInput(InputStream in) {
        if (in instanceof NativeSource n) {
            this.source = n::readNative;
            this.readAhead = READ_AHEAD;
        } else {
            byte[][] chunk = {new byte[64]};
            this.source = into -> {
                int want = (int) Math.min(READ_AHEAD, into.byteSize());
                if (chunk[0].length < want) chunk[0] = new byte[want];
                int r = in.read(chunk[0], 0, want);
                if (r > 0) MemorySegment.copy(chunk[0], 0, into, JAVA_BYTE, 0, r);
                return r;
            };
            this.readAhead = 1;
        }
    }

    long position() {
        return position;
    }

    /** The CRC32C of everything read so far. */
    int crc() {
        updateCrc();
        return (int) crc.getValue();
    }

    int u8(Place p) {
        need(1, p);
        int v = buf.get(JAVA_BYTE, pos) & 0xFF;
        skip(1);
        return v;
    }

    long u32(Place p) {
        need(4, p);
        long v = Integer.toUnsignedLong(buf.get(RamPages.U32, pos));
        skip(4);
        return v;
    }

    long u64(Place p) {
        need(8, p);
        long v = buf.get(RamPages.U64, pos);
        skip(8);
        return v;
    }

    /**
     * Reads exactly {@code n} bytes. The array grows (doubling from 64 KiB) only as data arrives:
     * a length field that promises more than the stream holds costs at most twice what it holds.
     */
    byte[] bytes(int n, Place p) {
        byte[] out = new byte[Math.min(n, FIRST_CHUNK)];
        int got = 0;
        while (got < n) {
            if (got == out.length) out = Arrays.copyOf(out, (int) Math.min(n, 2L * out.length));
            need(1, p);
            int k = (int) Math.min(end - pos, out.length - got);
            MemorySegment.copy(take(k), JAVA_BYTE, 0, out, got, k);
            got += k;
        }
        return out;
    }

    /**
     * Reads exactly {@code n} bytes into the native buffer and returns them in place: valid until
     * the next read. Null if {@code n} is more than the buffer holds (then read {@link #bytes}).
     */
    MemorySegment segment(int n, Place p) {
        if (n > CAPACITY) return null;
        need(n, p);
        return take(n);
    }

    /** Reads up to {@code n} bytes (fewer only at the end of the input); for the magic. */
    int upTo(byte[] b, int n, Place p) {
        int got = 0;
        while (got < n && fill(1, p)) {
            int k = (int) Math.min(end - pos, n - got);
            MemorySegment.copy(take(k), JAVA_BYTE, 0, b, got, k);
            got += k;
        }
        return got;
    }

    /** Reads the checksum at the end: not itself part of what it covers. */
    long checksum(Place p) {
        updateCrc();
        long v = u32(p);
        crcPos = pos;
        return v;
    }

    private MemorySegment take(long n) {
        MemorySegment s = buf.asSlice(pos, n);
        skip(n);
        return s;
    }

    private void skip(long n) {
        pos += n;
        position += n;
    }

    private void need(int n, Place p) {
        if (!fill(n, p)) throw VmStateException.truncated(p.section(), p.description());
    }

    /** Makes {@code n} bytes (at most {@link #CAPACITY}) available from {@link #pos}; false if the input ends first. */
    private boolean fill(int n, Place p) {
        while (end - pos < n) {
            if (pos + n > buf.byteSize()) {
                if (n > buf.byteSize()) grow(n);
                else compact();
            }
            long want = Math.min(buf.byteSize() - end, Math.max(n - (end - pos), readAhead));
            long r;
            try {
                r = source.read(buf.asSlice(end, want));
            } catch (IOException e) {
                throw VmStateException.io(p.section(), p.description(), e);
            }
            if (r < 0) return false;
            end += r;
        }
        return true;
    }

    /** Moves what is buffered but not read to the start of the buffer, checksumming what was read. */
    private void compact() {
        updateCrc();
        MemorySegment.copy(buf, pos, buf, 0, end - pos);
        end -= pos;
        crcPos = 0;
        pos = 0;
    }

    /** A larger buffer (doubling, up to {@link #CAPACITY}) for {@code n} bytes, as they are about to arrive. */
    private void grow(int n) {
        updateCrc();
        long size = buf.byteSize();
        while (size < n) size *= 2;
        MemorySegment bigger = Arena.ofAuto().allocate(Math.min(size, CAPACITY), 8);
        MemorySegment.copy(buf, pos, bigger, 0, end - pos);
        end -= pos;
        crcPos = 0;
        pos = 0;
        buf = bigger;
    }

    private void updateCrc() {
        if (pos > crcPos) crc.update(buf.asSlice(crcPos, pos - crcPos).asByteBuffer());
        crcPos = pos;
    }
}
