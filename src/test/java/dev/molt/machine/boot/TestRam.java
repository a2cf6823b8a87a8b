package dev.molt.machine.boot;

import dev.molt.memory.GuestMemory;
import dev.molt.memory.GuestRegion;
import dev.molt.memory.RamLayout;
import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.List;

/** Zero-filled guest RAM laid out by {@link RamLayout#split}, freed on close. Small sizes only. */
final class TestRam implements AutoCloseable {
    final Arena arena = Arena.ofConfined();
    final List<RamLayout.Range> ranges;
    final GuestMemory mem;

    TestRam(long size) {
        ranges = RamLayout.split(size);
        List<GuestRegion> regions = new ArrayList<>();
        for (RamLayout.Range r : ranges) {
            regions.add(new GuestRegion(r.gpa(), arena.allocate(r.size(), 4096), "ram", r.blockOffset()));
        }
        mem = new GuestMemory(regions);
    }

    int u8(long gpa) {
        return mem.read(gpa, 1)[0] & 0xFF;
    }

    int u16(long gpa) {
        return u8(gpa) | u8(gpa + 1) << 8;
    }

    long u32(long gpa) {
        return mem.getInt(gpa) & 0xFFFF_FFFFL;
    }

    @Override
    public void close() {
        arena.close();
    }
}
