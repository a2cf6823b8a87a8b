package dev.molt.qtest;

import dev.molt.memory.GuestRegion;

import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * Guest-physical memory as a CPU sees it, for qtest's reads and writes: RAM regions, and between
 * and beyond them nothing, which reads as zeros and drops writes (QEMU's unassigned memory does
 * the same). An access may span regions and gaps.
 */
final class GuestAddressSpace {
    private final List<GuestRegion> regions;

    GuestAddressSpace(List<GuestRegion> regions) {
        this.regions = List.copyOf(regions);
    }

    /** Fills {@code out} from guest-physical {@code gpa} (wrapping at 2^64 as an address would). */
    void read(long gpa, byte[] out) {
        java.util.Arrays.fill(out, (byte) 0);
        forEachOverlap(gpa, out.length, (region, regionOffset, bufferOffset, len) ->
                MemorySegment.copy(region.host(), regionOffset, MemorySegment.ofArray(out), bufferOffset, len));
    }

    /** Writes {@code data[off, off + len)} at {@code gpa}; the parts outside RAM are dropped. */
    void write(long gpa, byte[] data, int off, int len) {
        forEachOverlap(gpa, len, (region, regionOffset, bufferOffset, n) ->
                MemorySegment.copy(MemorySegment.ofArray(data), off + bufferOffset, region.host(), regionOffset, n));
    }

    /** Sets {@code len} bytes at {@code gpa} to {@code value}. */
    void fill(long gpa, long len, byte value) {
        forEachOverlap(gpa, len, (region, regionOffset, bufferOffset, n) ->
                region.host().asSlice(regionOffset, n).fill(value));
    }

    private interface Overlap {
        void apply(GuestRegion region, long regionOffset, int bufferOffset, int len);
    }

    /** Calls {@code f} for each part of {@code [gpa, gpa + len)} that is RAM, in address order. */
    private void forEachOverlap(long gpa, long len, Overlap f) {
        for (GuestRegion r : regions) {
            // Unsigned arithmetic: an access near 2^64 must not wrap onto low RAM.
            long end = gpa + len;
            boolean wraps = Long.compareUnsigned(end, gpa) < 0;
            long from = Long.compareUnsigned(gpa, r.gpa()) > 0 ? gpa : r.gpa();
            long to = wraps || Long.compareUnsigned(end, r.end()) > 0 ? r.end() : end;
            if (Long.compareUnsigned(from, to) >= 0) continue;
            long done = from - gpa;
            long remaining = to - from;
            long regionOffset = from - r.gpa();
            while (remaining > 0) {
                int chunk = (int) Math.min(remaining, 1 << 30);
                f.apply(r, regionOffset, (int) done, chunk);
                regionOffset += chunk;
                done += chunk;
                remaining -= chunk;
            }
        }
    }
}
