package dev.molt.memory;

import java.lang.foreign.MemorySegment;

/**
 * One contiguous range of guest-physical RAM and the host memory behind it.
 *
 * @param gpa   first guest-physical address
 * @param host  host mapping, exactly {@code size} bytes long
 * @param block the RAM block this range belongs to (name is what the VM state refers to)
 * @param blockOffset offset of this range inside the block
 */
public record GuestRegion(long gpa, MemorySegment host, String block, long blockOffset) {
    public long size() {
        return host.byteSize();
    }

    public long end() {
        return gpa + size();
    }

    public boolean contains(long addr, long len) {
        return len >= 0 && addr >= gpa && addr - gpa <= size() - len;
    }
}
