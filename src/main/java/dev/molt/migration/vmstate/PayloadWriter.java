package dev.molt.migration.vmstate;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/**
 * Builds a section payload: little-endian integers and raw bytes in a growing array. Descriptions
 * write through it, and callers use it for raw sections (see {@link StateStreamWriter#rawSection}).
 */
public final class PayloadWriter {
    private byte[] buf;
    private int size;

    public PayloadWriter() {
        this(256);
    }

    public PayloadWriter(int initialCapacity) {
        buf = new byte[Math.max(16, initialCapacity)];
    }

    public int size() {
        return size;
    }

    /** Forgets the content, keeping the array (the RAM page batches reuse one writer). */
    public void reset() {
        size = 0;
    }

    public PayloadWriter u8(int v) {
        ensure(1);
        buf[size++] = (byte) v;
        return this;
    }

    public PayloadWriter u16(int v) {
        return le(v, 2);
    }

    public PayloadWriter u32(long v) {
        return le(v, 4);
    }

    public PayloadWriter u64(long v) {
        return le(v, 8);
    }

    public PayloadWriter bytes(byte[] b) {
        return bytes(b, 0, b.length);
    }

    public PayloadWriter bytes(byte[] b, int off, int len) {
        ensure(len);
        System.arraycopy(b, off, buf, size, len);
        size += len;
        return this;
    }

    /** Copies the whole segment (a guest page, typically) into the payload. */
    public PayloadWriter segment(MemorySegment s) {
        int len = Math.toIntExact(s.byteSize());
        ensure(len);
        MemorySegment.copy(s, ValueLayout.JAVA_BYTE, 0, buf, size, len);
        size += len;
        return this;
    }

    /** Appends a placeholder u32 and returns its position, for a length known only later. */
    int reserveU32() {
        int at = size;
        le(0, 4);
        return at;
    }

    void patchU32(int at, long v) {
        for (int i = 0; i < 4; i++) buf[at + i] = (byte) (v >>> (8 * i));
    }

    private PayloadWriter le(long v, int width) {
        ensure(width);
        for (int i = 0; i < width; i++) buf[size++] = (byte) (v >>> (8 * i));
        return this;
    }

    private void ensure(int more) {
        if (more > buf.length - size) {
            long want = Math.max((long) buf.length * 2, (long) size + more);
            if (want > Integer.MAX_VALUE - 16) throw new IllegalStateException("section payload larger than 2 GiB");
            buf = Arrays.copyOf(buf, (int) want);
        }
    }

    /** The payload so far, as a new array. */
    public byte[] toByteArray() {
        return Arrays.copyOf(buf, size);
    }

    /** The internal array (valid up to {@link #size()}): saves a copy when framing a section. */
    byte[] array() {
        return buf;
    }
}
