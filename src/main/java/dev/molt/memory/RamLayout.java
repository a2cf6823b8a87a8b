package dev.molt.memory;

import java.util.ArrayList;
import java.util.List;

/**
 * Where guest RAM goes in the guest-physical address space: below the 32-bit MMIO hole (which holds
 * the IOAPIC at 0xFEC00000 and the LAPIC at 0xFEE00000) and, for larger guests, above 4 GiB.
 */
public final class RamLayout {
    /** Start of the 32-bit MMIO hole: RAM beyond this size continues at 4 GiB (as Firecracker does). */
    public static final long MMIO_HOLE_START = 3L << 30;
    public static final long FOUR_GIB = 1L << 32;

    private RamLayout() {}

    /** A guest-physical RAM range and its offset in the single RAM block that backs all of RAM. */
    public record Range(long gpa, long size, long blockOffset) {
        public long end() {
            return gpa + size;
        }
    }

    /** Splits {@code ramSize} bytes around the MMIO hole. */
    public static List<Range> split(long ramSize) {
        if (ramSize <= 0) throw new IllegalArgumentException("RAM size must be positive");
        List<Range> ranges = new ArrayList<>(2);
        long low = Math.min(ramSize, MMIO_HOLE_START);
        ranges.add(new Range(0, low, 0));
        if (ramSize > low) ranges.add(new Range(FOUR_GIB, ramSize - low, low));
        return ranges;
    }
}
