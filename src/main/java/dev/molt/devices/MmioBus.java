package dev.molt.devices;

import java.util.ArrayList;
import java.util.List;

/**
 * The MMIO regions of guest-physical address space that devices emulate (KVM_EXIT_MMIO and
 * qtest's memory accesses end here; RAM does not). A handful of regions, so lookup is a scan of a
 * small array. Register everything before vCPUs start, as on {@link PortBus}.
 */
public final class MmioBus {
    /** A registered region: guest-physical {@code [base, base + length)} to {@code device}. */
    public record Region(long base, long length, MmioDevice device) {
        public boolean contains(long addr) {
            return addr - base >= 0 && addr - base < length;
        }

        long end() {
            return base + length;
        }
    }

    private Region[] regions = new Region[0];

    /** Maps {@code [base, base + length)} to {@code device}; offsets passed to it start at 0. */
    public void register(long base, long length, MmioDevice device) {
        if (device == null) throw new IllegalArgumentException("device must not be null");
        if (length <= 0 || base < 0 || base + length < base) {
            throw new IllegalArgumentException(String.format("MMIO range 0x%x+0x%x is not a valid range", base, length));
        }
        for (Region r : regions) {
            if (base < r.end() && r.base() < base + length) {
                throw new IllegalStateException(String.format("MMIO range 0x%x+0x%x overlaps 0x%x+0x%x, already used by %s",
                        base, length, r.base(), r.length(), r.device().getClass().getSimpleName()));
            }
        }
        List<Region> next = new ArrayList<>(List.of(regions));
        next.add(new Region(base, length, device));
        regions = next.toArray(Region[]::new);
    }

    /** The region holding {@code addr}, or null (RAM, or nothing). */
    public Region find(long addr) {
        for (Region r : regions) if (r.contains(addr)) return r;
        return null;
    }

    /** The regions in registration order. */
    public List<Region> regions() {
        return List.of(regions);
    }

    /**
     * A read as a CPU makes it. Unemulated addresses read as 0, as QEMU's unassigned memory does and
     * as molt's MMIO exits answered before there was a bus (guests probe HPET and others there).
     */
    public long read(long addr, int size) {
        Region r = find(addr);
        if (r == null) return 0;
        long mask = size == 8 ? -1L : (1L << (8 * size)) - 1;
        return r.device().read(addr - r.base(), size) & mask;
    }

    /** A write as a CPU makes it; writes to unemulated addresses are dropped. */
    public void write(long addr, int size, long value) {
        Region r = find(addr);
        if (r != null) r.device().write(addr - r.base(), size, value);
    }
}
