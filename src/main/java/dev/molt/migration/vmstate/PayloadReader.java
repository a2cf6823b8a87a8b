package dev.molt.migration.vmstate;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * Reads a section payload that is already in memory: little-endian integers and byte runs, each
 * checked against the bytes left before anything is read or allocated. Every error names the
 * section and the field being read. Raw sections ({@link Section#payload()}) are read through it.
 */
public final class PayloadReader {
    private final String section;
    private final byte[] buf;
    private final int end;
    private int pos;

    PayloadReader(String section, byte[] buf, int off, int len) {
        this.section = section;
        this.buf = buf;
        this.pos = off;
        this.end = off + len;
    }

    /** The section this payload belongs to (what errors name). */
    public String section() {
        return section;
    }

    public int remaining() {
        return end - pos;
    }

    /** Where the next read starts, to come back to with {@link #position(int)} (a fast path that read too far). */
    int position() {
        return pos;
    }

    void position(int p) {
        if (p < 0 || p > end) throw new IllegalArgumentException("position " + p + " outside the payload");
        pos = p;
    }

    public int u8(String field) {
        need(1, field);
        return buf[pos++] & 0xFF;
    }

    public int u16(String field) {
        return (int) le(2, field);
    }

    public long u32(String field) {
        return le(4, field);
    }

    public long u64(String field) {
        return le(8, field);
    }

    /** {@code length} bytes as a new array; the length is checked against the payload first. */
    public byte[] bytes(String field, int length) {
        needLength(length, field);
        byte[] out = Arrays.copyOfRange(buf, pos, pos + length);
        pos += length;
        return out;
    }

    /** A read-only view of the next {@code length} bytes, without copying them. */
    public MemorySegment segment(String field, int length) {
        needLength(length, field);
        MemorySegment s = MemorySegment.ofArray(buf).asSlice(pos, length).asReadOnly();
        pos += length;
        return s;
    }

    /** A reader over the next {@code length} bytes (a subsection); this reader skips past them. */
    PayloadReader slice(String field, long length) {
        if (length < 0 || length > remaining()) {
            throw error(field, "length " + Long.toUnsignedString(length) + " exceeds the " + remaining() + " bytes left in the payload");
        }
        PayloadReader sub = new PayloadReader(section, buf, pos, (int) length);
        pos += (int) length;
        return sub;
    }

    /** Checks that a length read from the stream fits in what is left, before allocating for it. */
    void needLength(long length, String field) {
        if (length < 0 || length > remaining()) {
            throw error(field, "length " + Long.toUnsignedString(length) + " exceeds the " + remaining() + " bytes left in the payload");
        }
    }

    /** Refuses leftover bytes: a payload longer than its description is not the state we think it is. */
    public void expectEnd(String field) {
        if (pos != end) throw error(field, (end - pos) + " bytes left over after the last field");
    }

    public VmStateException error(String field, String reason) {
        return new VmStateException(section, field, reason);
    }

    private long le(int width, String field) {
        need(width, field);
        long v = 0;
        for (int i = 0; i < width; i++) v |= (buf[pos + i] & 0xFFL) << (8 * i);
        pos += width;
        return v;
    }

    private void need(int n, String field) {
        if (n > remaining()) {
            throw error(field, field == null
                    ? "payload ends early (needs " + n + " bytes, " + remaining() + " left)"
                    : "payload ends inside the field (needs " + n + " bytes, " + remaining() + " left)");
        }
    }
}
