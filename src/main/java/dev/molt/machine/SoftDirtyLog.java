package dev.molt.machine;

import dev.molt.memory.GuestRegion;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;

/**
 * A dirty log kept in software, one bit per 4 KiB page of each RAM region, for the writes no
 * kernel log sees: all of them under qtest (the client's), and under KVM those molt makes itself
 * (a device's DMA into guest RAM). Off until live migration turns it on.
 */
final class SoftDirtyLog {
    private static final int PAGE_SHIFT = 12;

    private List<GuestRegion> regions = List.of();
    /**
     * Null while off. Volatile so that {@link #mark} needs no lock while off: a device's threads mark
     * every write they make, several at once, and contended they would queue on this monitor. A write
     * whose mark finds the log off was made before it was turned on, so the first pass copies it.
     */
    private volatile long[][] dirty;

    synchronized void start(List<GuestRegion> regions) {
        this.regions = List.copyOf(regions);
        long[][] bits = new long[regions.size()][];
        for (int i = 0; i < bits.length; i++) bits[i] = new long[(int) (Machine.dirtyBitmapBytes(regions.get(i).size()) / 8)];
        dirty = bits;
    }

    synchronized void stop() {
        dirty = null;
    }

    synchronized boolean on() {
        return dirty != null;
    }

    /** Records that {@code [gpa, gpa + len)} was written; a no-op while off. */
    void mark(long gpa, long len) {
        if (dirty == null || len <= 0) return;
        markLogged(gpa, len);
    }

    private synchronized void markLogged(long gpa, long len) {
        long[][] dirty = this.dirty;
        if (dirty == null) return; // turned off meanwhile
        for (int i = 0; i < regions.size(); i++) {
            GuestRegion r = regions.get(i);
            long from = Math.max(gpa, r.gpa());
            long to = Math.min(gpa + len, r.end());
            if (from >= to) continue;
            long[] bits = dirty[i];
            for (long page = (from - r.gpa()) >>> PAGE_SHIFT; page <= (to - 1 - r.gpa()) >>> PAGE_SHIFT; page++) {
                bits[(int) (page >>> 6)] |= 1L << (page & 63);
            }
        }
    }

    /** Adds region {@code index}'s bits to {@code bitmap} (OR: a kernel's log may be there already) and clears them. */
    synchronized void drainInto(int index, MemorySegment bitmap) {
        if (dirty == null) throw new IllegalStateException("dirty logging is off");
        long[] bits = dirty[index];
        // In bulk through an array: word by word on native memory, C1's code (the launcher's JIT) took
        // milliseconds of a migration's pause for a 4 GiB guest's bitmap.
        long[] merged = new long[bits.length];
        MemorySegment.copy(bitmap, ValueLayout.JAVA_LONG_UNALIGNED, 0, merged, 0, merged.length);
        for (int w = 0; w < bits.length; w++) merged[w] |= bits[w];
        MemorySegment.copy(merged, 0, bitmap, ValueLayout.JAVA_LONG_UNALIGNED, 0, merged.length);
        java.util.Arrays.fill(bits, 0);
    }
}
