package dev.molt.machine.boot;

import java.nio.file.Path;

/**
 * A kernel file's bytes with little-endian reads that are always bounds-checked: offsets and sizes
 * come from the file itself, so a corrupt or hostile image must end in a {@link BootException}
 * naming the file, never in an IndexOutOfBoundsException. Offsets are {@code long} so that u64
 * fields (which may be "negative" as Java longs) can be checked without overflow.
 */
final class ImageBytes {
    private final Path path;
    private final byte[] bytes;

    ImageBytes(Path path, byte[] bytes) {
        this.path = path;
        this.bytes = bytes;
    }

    Path path() {
        return path;
    }

    byte[] bytes() {
        return bytes;
    }

    int length() {
        return bytes.length;
    }

    /** Whether [offset, offset + len) lies inside the file (no overflow for any inputs). */
    boolean contains(long offset, long len) {
        return offset >= 0 && len >= 0 && offset <= bytes.length && len <= bytes.length - offset;
    }

    /** Throws unless [offset, offset + len) lies inside the file; {@code what} names the structure. */
    void require(long offset, long len, String what) {
        if (!contains(offset, len)) {
            throw error(String.format("%s (0x%x bytes at file offset 0x%x) lies beyond the end of the file (0x%x bytes)",
                    what, len, offset, bytes.length));
        }
    }

    int u8(long offset) {
        require(offset, 1, "a field");
        return bytes[(int) offset] & 0xFF;
    }

    int u16(long offset) {
        require(offset, 2, "a field");
        return u8(offset) | u8(offset + 1) << 8;
    }

    /** Unsigned, in the low 32 bits of the result. */
    long u32(long offset) {
        require(offset, 4, "a field");
        return (u16(offset) | (long) u16(offset + 2) << 16);
    }

    /** All 64 bits; a value of 2^63 or more comes back negative, which every range check rejects. */
    long u64(long offset) {
        require(offset, 8, "a field");
        return u32(offset) | u32(offset + 4) << 32;
    }

    BootException error(String problem) {
        return BootException.forFile("kernel", path, problem);
    }
}
