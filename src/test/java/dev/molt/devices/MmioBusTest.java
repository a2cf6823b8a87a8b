package dev.molt.devices;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The MMIO bus: offsets relative to each region, unassigned addresses, overlaps refused. */
class MmioBusTest {
    /** A device that records accesses and answers its offset. */
    private static final class Recorder implements MmioDevice {
        final List<String> log = new ArrayList<>();

        @Override
        public long read(long offset, int size) {
            log.add("r " + offset + "/" + size);
            return 0x1122_3344_5566_7788L + offset;
        }

        @Override
        public void write(long offset, int size, long value) {
            log.add("w " + offset + "/" + size + "=" + Long.toHexString(value));
        }
    }

    @Test
    void accessesReachTheirRegionWithRelativeOffsets() {
        MmioBus bus = new MmioBus();
        Recorder a = new Recorder(), b = new Recorder();
        bus.register(0xFEB0_0000L, 0x200, a);
        bus.register(0xFEB0_0200L, 0x200, b);
        assertEquals(0x5566_7788L + 0x10, bus.read(0xFEB0_0010L, 4), "masked to the access size");
        bus.write(0xFEB0_0250L, 4, 7);
        assertEquals(List.of("r 16/4"), a.log);
        assertEquals(List.of("w 80/4=7"), b.log);
        assertEquals(0, bus.read(0xFEB0_0400L, 1), "unassigned reads 0");
        assertEquals(0, bus.read(0, 8));
        bus.write(0xFEB0_0400L, 4, 1); // dropped
        assertNull(bus.find(0xFEB0_0400L));
        assertEquals(b, bus.find(0xFEB0_03FFL).device());
    }

    @Test
    void overlapsAndEmptyRangesAreRefused() {
        MmioBus bus = new MmioBus();
        bus.register(0x1000, 0x100, new Recorder());
        assertEquals("MMIO range 0x10ff+0x10 overlaps 0x1000+0x100, already used by Recorder",
                assertThrows(IllegalStateException.class, () -> bus.register(0x10FF, 0x10, new Recorder())).getMessage());
        assertThrows(IllegalStateException.class, () -> bus.register(0xF00, 0x101, new Recorder()));
        assertThrows(IllegalArgumentException.class, () -> bus.register(0x2000, 0, new Recorder()));
        assertThrows(IllegalArgumentException.class, () -> bus.register(Long.MAX_VALUE, 2, new Recorder()));
        bus.register(0x1100, 0x100, new Recorder()); // adjacent is fine
    }
}
