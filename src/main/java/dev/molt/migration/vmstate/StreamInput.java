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
 * One buffering algorithm over two kinds of buffer:
 *
 * <ul>
 * <li>{@link Native}, for a {@link NativeSource} (a descriptor-backed migration channel): the buffer
 *     is native memory, read(2) fills it, and a "ram" section's payload is handed on as a slice of it
 *     ({@link #segment}): the pages reach guest RAM with one native copy and never pass through the
 *     Java heap. Such a channel carries nothing but the stream until the receiver answers, so each
 *     read there asks for at least {@link #READ_AHEAD} bytes (and gets what has arrived: it never
 *     waits for more than it needs).
 * <li>{@link Heap}, for any other input stream (the CPR state a live update's new molt reads first,
 *     exec: channels): a byte array, read exactly the bytes needed (the caller's buffered stream may
 *     hold more). It touches none of the foreign memory API, whose first use costs a new JVM some
 *     15 ms of method-handle set-up (a var handle for each layout): a cpr-exec's new molt reads its
 *     CPR state this way first thing, inside the guest's pause.
 * </ul>
 */
abstract sealed class StreamInput permits StreamInput.Native, StreamInput.Heap {
    /** First chunk for a payload: big enough for any device section, small next to the limits. */
    private static final int FIRST_CHUNK = 64 << 10;
    /** The buffer grows up to this: room for the largest "ram" section molt writes (256 pages, about 1 MiB) twice. */
    static final int CAPACITY = 2 << 20;
    private static final int FIRST_CAPACITY = 64 << 10;
    /** The heap buffer's first size: a CPR state is about a KiB, and a larger buffer is page faults in a new JVM. */
    private static final int FIRST_HEAP_CAPACITY = 4 << 10;
    /** The least a refill from a channel asks for: a read past the current need stays small, and so does the compaction that moves it. */
    private static final int READ_AHEAD = 64 << 10;

    /** Where a read happens, for its error: "section 'cpu'" with section "cpu", "the stream header" without. */
    record Place(String description, String section) {}

    static StreamInput of(InputStream in) {
        return in instanceof NativeSource n ? new Native(n) : new Heap(in);
    }

    private final CRC32C crc = new CRC32C();
    /** The least a refill asks for: {@link #READ_AHEAD} from a channel, 1 (exactly what is needed) from anything else. */
    private final int readAhead;
    /** The next byte to read, the end of what is buffered, and where the checksum has got to, in the buffer. */
    private long pos, end, crcPos;
    private long position;

    private StreamInput(int readAhead) {
        this.readAhead = readAhead;
    }

    // ---- the buffer ----

    abstract long size();

    /** Reads at least one and at most {@code max} bytes into the buffer at {@code at}; -1 at the end. */
    abstract long read(long at, long max) throws IOException;

    /** Moves {@code n} bytes from {@code from} to the start, into a buffer of {@code newSize} bytes (the current one if equal). */
    abstract void moveToStart(long from, long n, long newSize);

    abstract int u8At(long p);

    abstract int u32At(long p);

    abstract long u64At(long p);

    abstract void copyOut(long from, byte[] to, int offset, int n);

    abstract void checksum(CRC32C crc, long from, long n);

    /** Whether the buffer is native memory, whose bytes {@link #slice} hands out in place. */
    abstract boolean inPlace();

    abstract MemorySegment slice(long from, long n);

    // ---- reads ----

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
        int v = u8At(pos);
        skip(1);
        return v;
    }

    long u32(Place p) {
        need(4, p);
        long v = Integer.toUnsignedLong(u32At(pos));
        skip(4);
        return v;
    }

    long u64(Place p) {
        need(8, p);
        long v = u64At(pos);
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
            copyOut(pos, out, got, k);
            skip(k);
            got += k;
        }
        return out;
    }

    /**
     * Reads exactly {@code n} bytes into the native buffer and returns them in place: valid until
     * the next read. Null if {@code n} is more than the buffer holds or the buffer is not native
     * memory (then read {@link #bytes}).
     */
    MemorySegment segment(int n, Place p) {
        if (n > CAPACITY || !inPlace()) return null;
        need(n, p);
        MemorySegment s = slice(pos, n);
        skip(n);
        return s;
    }

    /** Reads up to {@code n} bytes (fewer only at the end of the input); for the magic. */
    int upTo(byte[] b, int n, Place p) {
        int got = 0;
        while (got < n && fill(1, p)) {
            int k = (int) Math.min(end - pos, n - got);
            copyOut(pos, b, got, k);
            skip(k);
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
            if (pos + n > size()) {
                // Moves what is buffered but not read to the start (of a larger buffer, doubling up to
                // CAPACITY, if n bytes do not fit), checksumming what was read.
                updateCrc();
                long newSize = size();
                while (newSize < n) newSize *= 2;
                moveToStart(pos, end - pos, Math.min(newSize, CAPACITY));
                end -= pos;
                crcPos = 0;
                pos = 0;
            }
            long want = Math.min(size() - end, Math.max(n - (end - pos), readAhead));
            long r;
            try {
                r = read(end, want);
            } catch (IOException e) {
                throw VmStateException.io(p.section(), p.description(), e);
            }
            if (r < 0) return false;
            end += r;
        }
        return true;
    }

    private void updateCrc() {
        if (pos > crcPos) checksum(crc, crcPos, pos - crcPos);
        crcPos = pos;
    }

    /** Native memory filled by read(2): see the class comment. */
    static final class Native extends StreamInput {
        private final NativeSource source;
        private MemorySegment buf = Arena.ofAuto().allocate(FIRST_CAPACITY, 8);

        Native(NativeSource source) {
            super(READ_AHEAD);
            this.source = source;
        }

        @Override long size() { return buf.byteSize(); }

        @Override long read(long at, long max) throws IOException { return source.readNative(buf.asSlice(at, max)); }

        @Override
        void moveToStart(long from, long n, long newSize) {
            MemorySegment to = newSize == buf.byteSize() ? buf : Arena.ofAuto().allocate(newSize, 8);
            MemorySegment.copy(buf, from, to, 0, n);
            buf = to;
        }

        @Override int u8At(long p) { return buf.get(JAVA_BYTE, p) & 0xFF; }

        @Override int u32At(long p) { return buf.get(RamPages.U32, p); }

        @Override long u64At(long p) { return buf.get(RamPages.U64, p); }

        @Override void copyOut(long from, byte[] to, int offset, int n) { MemorySegment.copy(buf, JAVA_BYTE, from, to, offset, n); }

        @Override void checksum(CRC32C crc, long from, long n) { crc.update(buf.asSlice(from, n).asByteBuffer()); }

        @Override boolean inPlace() { return true; }

        @Override MemorySegment slice(long from, long n) { return buf.asSlice(from, n); }
    }

    /** A byte array, for any other input stream: see the class comment. */
    static final class Heap extends StreamInput {
        private final InputStream in;
        private byte[] buf = new byte[FIRST_HEAP_CAPACITY];

        Heap(InputStream in) {
            super(1);
            this.in = in;
        }

        @Override long size() { return buf.length; }

        @Override long read(long at, long max) throws IOException { return in.read(buf, (int) at, (int) max); }

        @Override
        void moveToStart(long from, long n, long newSize) {
            byte[] to = newSize == buf.length ? buf : new byte[(int) newSize];
            System.arraycopy(buf, (int) from, to, 0, (int) n);
            buf = to;
        }

        @Override int u8At(long p) { return buf[(int) p] & 0xFF; }

        // Little-endian, as RamPages.U32 and U64 (the stream's byte order), without a VarHandle.
        @Override int u32At(long p) { return u8At(p) | u8At(p + 1) << 8 | u8At(p + 2) << 16 | u8At(p + 3) << 24; }

        @Override long u64At(long p) { return Integer.toUnsignedLong(u32At(p)) | (long) u32At(p + 4) << 32; }

        @Override void copyOut(long from, byte[] to, int offset, int n) { System.arraycopy(buf, (int) from, to, offset, n); }

        @Override void checksum(CRC32C crc, long from, long n) { crc.update(buf, (int) from, (int) n); }

        @Override boolean inPlace() { return false; }

        @Override MemorySegment slice(long from, long n) { throw new UnsupportedOperationException("a heap buffer"); }
    }
}
