package dev.molt.machine.boot;

import static dev.molt.machine.boot.E820.Type.RAM;
import static dev.molt.machine.boot.E820.Type.RESERVED;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.molt.machine.boot.E820.Entry;
import dev.molt.memory.RamLayout;
import java.util.List;
import org.junit.jupiter.api.Test;

class E820Test {
    static final long MIB = 1L << 20, GIB = 1L << 30;
    static final Entry BASE = new Entry(0, 0x9FC00, RAM);
    static final Entry SYSTEM = new Entry(0x9FC00, 0x60400, RESERVED);

    static List<Entry> map(long ramSize) {
        return E820.build(RamLayout.split(ramSize));
    }

    @Test
    void layout256MiB() {
        assertEquals(List.of(BASE, SYSTEM, new Entry(MIB, 255 * MIB, RAM)), map(256 * MIB));
    }

    @Test
    void layout3GiBEndsAtTheMmioHole() {
        assertEquals(List.of(BASE, SYSTEM, new Entry(MIB, 3 * GIB - MIB, RAM)), map(3 * GIB));
    }

    @Test
    void layout4GiBPutsTheLastGiBAbove4GiB() {
        assertEquals(List.of(BASE, SYSTEM, new Entry(MIB, 3 * GIB - MIB, RAM), new Entry(4 * GIB, GIB, RAM)),
                map(4 * GIB));
    }

    @Test
    void layout5GiB() {
        assertEquals(List.of(BASE, SYSTEM, new Entry(MIB, 3 * GIB - MIB, RAM), new Entry(4 * GIB, 2 * GIB, RAM)),
                map(5 * GIB));
    }

    @Test
    void layout64GiB() {
        List<Entry> m = map(64 * GIB);
        assertEquals(List.of(BASE, SYSTEM, new Entry(MIB, 3 * GIB - MIB, RAM), new Entry(4 * GIB, 61 * GIB, RAM)), m);
        assertEquals(65 * GIB, m.getLast().end());
    }

    @Test
    void ramOfOneMiBOrLessIsRefused() {
        var e = assertThrows(BootException.class, () -> map(MIB));
        assertEquals("guest RAM below 4 GiB is 1024 KiB: molt needs more than 1 MiB", e.getMessage());
    }

    @Test
    void typeCodes() {
        assertEquals(1, RAM.code());
        assertEquals(2, RESERVED.code());
    }

    @Test
    void zeroPageForm() {
        try (TestRam ram = new TestRam(8 * MIB)) {
            List<Entry> m = E820.build(ram.ranges);
            E820.writeZeroPage(ram.mem, 0x7000, m);
            assertEquals(3, ram.u8(0x7000 + 0x1E8));
            long t = 0x7000 + 0x2D0;
            assertEquals(0, ram.mem.getLong(t));
            assertEquals(0x9FC00, ram.mem.getLong(t + 8));
            assertEquals(1, ram.mem.getInt(t + 16));
            assertEquals(0x9FC00, ram.mem.getLong(t + 20), "packed: the second entry starts at byte 20");
            assertEquals(0x60400, ram.mem.getLong(t + 28));
            assertEquals(2, ram.mem.getInt(t + 36));
            assertEquals(MIB, ram.mem.getLong(t + 40));
            assertEquals(7 * MIB, ram.mem.getLong(t + 48));
            assertEquals(1, ram.mem.getInt(t + 56));
            assertEquals(0, ram.mem.getLong(t + 60), "nothing after the last entry");
        }
    }

    @Test
    void pvhForm() {
        try (TestRam ram = new TestRam(8 * MIB)) {
            List<Entry> m = List.of(BASE, SYSTEM, new Entry(MIB, 7 * MIB, RAM), new Entry(4 * GIB, GIB, RAM));
            ram.mem.fill(0x6100, 0x100, (byte) 0xEE);
            E820.writePvhMemmap(ram.mem, 0x6100, m);
            for (int i = 0; i < m.size(); i++) {
                long at = 0x6100 + 24L * i;
                assertEquals(m.get(i).addr(), ram.mem.getLong(at));
                assertEquals(m.get(i).size(), ram.mem.getLong(at + 8));
                assertEquals(m.get(i).type().code(), ram.mem.getInt(at + 16));
                assertEquals(0, ram.mem.getInt(at + 20), "reserved field is zero");
            }
            assertEquals(0xEE, ram.u8(0x6100 + 24 * 4), "writes exactly 4 entries");
        }
    }
}
