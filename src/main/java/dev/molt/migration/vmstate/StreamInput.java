package dev.molt.migration.vmstate;

import java.io.IOException;
import java.io.InputStream;
import java.util.Arrays;
import java.util.zip.CRC32C;

/**
 * The reader's view of the input: exact-length reads that keep the running CRC32C, and turn an
 * early end or an I/O failure into a {@link VmStateException} saying where in the stream it hit.
 */
final class StreamInput {
    /** First chunk for a payload: big enough for any device section, small next to the limits. */
    private static final int FIRST_CHUNK = 64 << 10;

    /** Where a read happens, for its error: "section 'cpu'" with section "cpu", "the stream header" without. */
    record Place(String description, String section) {}

    private final InputStream in;
    private final CRC32C crc = new CRC32C();
    private final byte[] scratch = new byte[8];
    private long position;

    StreamInput(InputStream in) {
        this.in = in;
    }

    long position() {
        return position;
    }

    /** The CRC32C of everything read so far. */
    int crc() {
        return (int) crc.getValue();
    }

    int u8(Place p) {
        fill(scratch, 0, 1, p);
        return scratch[0] & 0xFF;
    }

    long u32(Place p) {
        return le(4, p);
    }

    long u64(Place p) {
        return le(8, p);
    }

    /**
     * Reads exactly {@code n} bytes. The buffer grows (doubling from 64 KiB) only as data arrives:
     * a length field that promises more than the stream holds costs at most twice what it holds.
     */
    byte[] bytes(int n, Place p) {
        byte[] buf = new byte[Math.min(n, FIRST_CHUNK)];
        int got = 0;
        while (got < n) {
            if (got == buf.length) buf = Arrays.copyOf(buf, (int) Math.min(n, 2L * buf.length));
            int chunk = buf.length - got;
            fill(buf, got, chunk, p);
            got += chunk;
        }
        return buf;
    }

    /** Reads up to {@code n} bytes (fewer only at the end of the input); for the magic. */
    int upTo(byte[] b, int n, Place p) {
        int got;
        try {
            got = in.readNBytes(b, 0, n);
        } catch (IOException e) {
            throw VmStateException.io(p.section(), p.description(), e);
        }
        crc.update(b, 0, got);
        position += got;
        return got;
    }

    /** Reads the checksum at the end: not itself part of what it covers. */
    long checksum(Place p) {
        try {
            int got = in.readNBytes(scratch, 0, 4);
            if (got < 4) throw truncated(p);
        } catch (IOException e) {
            throw VmStateException.io(p.section(), p.description(), e);
        }
        position += 4;
        long v = 0;
        for (int i = 0; i < 4; i++) v |= (scratch[i] & 0xFFL) << (8 * i);
        return v;
    }

    private long le(int width, Place p) {
        fill(scratch, 0, width, p);
        long v = 0;
        for (int i = 0; i < width; i++) v |= (scratch[i] & 0xFFL) << (8 * i);
        return v;
    }

    private void fill(byte[] b, int off, int len, Place p) {
        int got;
        try {
            got = in.readNBytes(b, off, len);
        } catch (IOException e) {
            throw VmStateException.io(p.section(), p.description(), e);
        }
        if (got < len) throw truncated(p);
        crc.update(b, off, len);
        position += len;
    }

    private static VmStateException truncated(Place p) {
        return VmStateException.truncated(p.section(), p.description());
    }
}
