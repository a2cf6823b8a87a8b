package dev.molt.memory;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;

/**
 * The guest-physical address space as molt sees it: a sorted list of RAM regions. Every access is
 * bounds-checked against the regions, so a bad address (from a guest, a kernel image or a state
 * file) raises {@link GuestMemoryException} instead of touching host memory.
 */
public final class GuestMemory {
    private final List<GuestRegion> regions;
    /**
     * The same regions for the lookups every device request makes several of: a for-each over a
     * list makes an iterator object each time in molt's C1-compiled code (no escape analysis).
     */
    private final GuestRegion[] lookup;

    public GuestMemory(List<GuestRegion> regions) {
        for (int i = 1; i < regions.size(); i++) {
            if (regions.get(i).gpa() < regions.get(i - 1).end()) {
                throw new IllegalArgumentException("guest RAM regions overlap or are unsorted");
            }
        }
        this.regions = List.copyOf(regions);
        this.lookup = this.regions.toArray(GuestRegion[]::new);
    }

    public List<GuestRegion> regions() {
        return regions;
    }

    /** Total bytes of guest RAM. */
    public long size() {
        long total = 0;
        for (GuestRegion r : regions) total += r.size();
        return total;
    }

    /** The host memory for [gpa, gpa+len), which must lie inside one region. */
    public MemorySegment slice(long gpa, long len) {
        for (GuestRegion r : lookup) {
            if (r.contains(gpa, len)) return r.host().asSlice(gpa - r.gpa(), len);
        }
        throw new GuestMemoryException(String.format(
                "guest-physical range 0x%x+0x%x is not inside guest RAM", gpa, len));
    }

    public boolean contains(long gpa, long len) {
        for (GuestRegion r : lookup) {
            if (r.contains(gpa, len)) return true;
        }
        return false;
    }

    public void write(long gpa, byte[] data) {
        write(gpa, data, 0, data.length);
    }

    public void write(long gpa, byte[] data, int off, int len) {
        MemorySegment.copy(data, off, slice(gpa, len), ValueLayout.JAVA_BYTE, 0, len);
    }

    public byte[] read(long gpa, int len) {
        byte[] out = new byte[len];
        MemorySegment.copy(slice(gpa, len), ValueLayout.JAVA_BYTE, 0, out, 0, len);
        return out;
    }

    public void putLong(long gpa, long v) {
        slice(gpa, 8).set(ValueLayout.JAVA_LONG_UNALIGNED, 0, v);
    }

    public void putInt(long gpa, int v) {
        slice(gpa, 4).set(ValueLayout.JAVA_INT_UNALIGNED, 0, v);
    }

    public long getLong(long gpa) {
        return slice(gpa, 8).get(ValueLayout.JAVA_LONG_UNALIGNED, 0);
    }

    public int getInt(long gpa) {
        return slice(gpa, 4).get(ValueLayout.JAVA_INT_UNALIGNED, 0);
    }

    /** Zero-fills [gpa, gpa+len). */
    public void fill(long gpa, long len, byte value) {
        slice(gpa, len).fill(value);
    }
}
