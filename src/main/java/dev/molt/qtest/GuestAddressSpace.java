package dev.molt.qtest;

import dev.molt.devices.MmioBus;
import dev.molt.memory.GuestRegion;

import java.lang.foreign.MemorySegment;
import java.util.List;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

/**
 * Guest-physical memory as a CPU sees it, for qtest's reads and writes: RAM regions, emulated MMIO
 * regions (virtio-mmio), and between and beyond them nothing, which reads as zeros and drops writes
 * (QEMU's unassigned memory does the same for qtest). An access may span regions and gaps; the part
 * that falls on a device is made as device accesses, one of the access's own size when it fits in
 * the device (readl of a register), else of 4 bytes where aligned and 1 byte otherwise.
 */
final class GuestAddressSpace {
    private final List<GuestRegion> regions;
    private final GuestRegion[] lookup;
    private final MmioBus mmio;

    GuestAddressSpace(List<GuestRegion> regions, MmioBus mmio) {
        this.regions = List.copyOf(regions);
        this.lookup = this.regions.toArray(GuestRegion[]::new);
        this.mmio = mmio;
    }

    /** Fills {@code out} from guest-physical {@code gpa} (wrapping at 2^64 as an address would). */
    void read(long gpa, byte[] out) {
        GuestRegion whole = wholeInRam(gpa, out.length);
        if (whole != null) { // the common case (a used index, a frame), without the general walk's closures
            MemorySegment.copy(whole.host(), JAVA_BYTE, gpa - whole.gpa(), out, 0, out.length);
            return;
        }
        java.util.Arrays.fill(out, (byte) 0);
        forEachOverlap(gpa, out.length, (region, regionOffset, bufferOffset, len) ->
                MemorySegment.copy(region.host(), regionOffset, MemorySegment.ofArray(out), bufferOffset, len));
        forEachDevice(gpa, out.length, (r, offset, at, size) -> {
            long v = r.device().read(offset, size);
            for (int i = 0; i < size; i++) out[at + i] = (byte) (v >>> (8 * i));
        });
    }

    /** Writes {@code data[off, off + len)} at {@code gpa}; the parts outside RAM and devices are dropped. */
    void write(long gpa, byte[] data, int off, int len) {
        GuestRegion whole = wholeInRam(gpa, len);
        if (whole != null) {
            MemorySegment.copy(data, off, whole.host(), JAVA_BYTE, gpa - whole.gpa(), len);
            return;
        }
        forEachOverlap(gpa, len, (region, regionOffset, bufferOffset, n) ->
                MemorySegment.copy(MemorySegment.ofArray(data), off + bufferOffset, region.host(), regionOffset, n));
        forEachDevice(gpa, len, (r, offset, at, size) -> r.device().write(offset, size, littleEndian(data, off + at, size)));
    }

    /** Sets {@code len} bytes at {@code gpa} to {@code value}. */
    void fill(long gpa, long len, byte value) {
        forEachOverlap(gpa, len, (region, regionOffset, bufferOffset, n) ->
                region.host().asSlice(regionOffset, n).fill(value));
        forEachDevice(gpa, len, (r, offset, at, size) -> r.device().write(offset, size, littleEndian(new byte[] {value, value, value, value}, 0, size)));
    }

    /** The RAM region that holds all of {@code [gpa, gpa + len)}, or null (it spans regions, gaps or devices, or wraps). */
    private GuestRegion wholeInRam(long gpa, long len) {
        for (GuestRegion r : lookup) { // an array: a list's for-each is an iterator object per request in C1 code
            long offset = gpa - r.gpa();
            if (Long.compareUnsigned(offset, r.host().byteSize()) < 0 && Long.compareUnsigned(len, r.host().byteSize() - offset) <= 0) return r;
        }
        return null;
    }

    private static long littleEndian(byte[] b, int off, int size) {
        long v = 0;
        for (int i = size - 1; i >= 0; i--) v = v << 8 | (b[off + i] & 0xFF);
        return v;
    }

    private interface DeviceAccess {
        void apply(MmioBus.Region region, long offset, int bufferOffset, int size);
    }

    /** Calls {@code f} for each device access that {@code [gpa, gpa + len)} makes, in address order. */
    private void forEachDevice(long gpa, long len, DeviceAccess f) {
        for (MmioBus.Region r : mmio.regions()) {
            long from = Math.max(gpa, r.base());
            long to = Math.min(gpa + len, r.base() + r.length());
            if (gpa + len < gpa || from >= to) continue; // device regions sit well below 2^63: no wrap to handle
            if (from == gpa && to == gpa + len && (len == 1 || len == 2 || len == 4 || len == 8)) {
                f.apply(r, gpa - r.base(), 0, (int) len);
                continue;
            }
            for (long pos = from; pos < to; ) {
                int size = pos % 4 == 0 && to - pos >= 4 ? 4 : 1;
                f.apply(r, pos - r.base(), (int) (pos - gpa), size);
                pos += size;
            }
        }
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
