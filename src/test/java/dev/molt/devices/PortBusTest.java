package dev.molt.devices;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class PortBusTest {
    /** Answers {@code 0x12345600 | offset} and records writes as "offset/size=value". */
    static final class FakeDevice implements PortIoDevice {
        final List<String> log = new ArrayList<>();

        @Override
        public int read(int offset, int size) {
            log.add("r" + offset + "/" + size);
            return 0x1234_5600 | offset;
        }

        @Override
        public void write(int offset, int size, int value) {
            log.add("w" + offset + "/" + size + "=" + Integer.toHexString(value));
        }
    }

    final PortBus bus = new PortBus();
    final FakeDevice com1 = new FakeDevice();
    final FakeDevice kbc = new FakeDevice();

    @Test
    void dispatchesWithOffsetsRelativeToTheBase() {
        bus.register(0x3F8, 8, com1);
        bus.register(0x60, 5, kbc);
        assertEquals(0x02, bus.read(0x3FA, 1));
        assertEquals(0x5604, bus.read(0x64, 2));
        assertEquals(0x1234_5607, bus.read(0x3FF, 4));
        bus.write(0x3F8, 1, 0x41);
        bus.write(0x60, 2, 0xABCD);
        assertEquals(List.of("r2/1", "r7/4", "w0/1=41"), com1.log);
        assertEquals(List.of("r4/2", "w0/2=abcd"), kbc.log);
    }

    @Test
    void writesAreMaskedToTheAccessSize() {
        bus.register(0x80, 1, com1);
        bus.write(0x80, 1, 0x1FF);
        assertEquals(List.of("w0/1=ff"), com1.log);
    }

    @Test
    void unemulatedPortsReadAllOnesAndIgnoreWrites() {
        bus.register(0x3F8, 8, com1);
        assertEquals(0xFF, bus.read(0x2F8, 1));
        assertEquals(0xFFFF, bus.read(0xCF8, 2));
        assertEquals(0xFFFF_FFFF, bus.read(0xCFC, 4));
        assertEquals(0xFF, bus.read(0x3F7, 1));
        assertEquals(0xFF, bus.read(0x400, 1));
        bus.write(0x2F8, 1, 0x41);
        bus.write(0xCF8, 4, 0x8000_0000);
        assertEquals(List.of(), com1.log);
        assertTrue(bus.isMapped(0x3FF));
        assertFalse(bus.isMapped(0x400));
    }

    @Test
    void overlappingRegistrationIsAnError() {
        bus.register(0x3F8, 8, com1);
        var e = assertThrows(IllegalStateException.class, () -> bus.register(0x3FF, 2, kbc));
        assertEquals("port range 0x3ff+2 overlaps port 0x3ff, already used by FakeDevice", e.getMessage());
        assertThrows(IllegalStateException.class, () -> bus.register(0x3F0, 16, kbc));
        assertEquals(0xFF, bus.read(0x400, 1), "a failed registration maps nothing");
        bus.register(0x3F0, 8, kbc); // adjacent is fine
        bus.register(0x400, 1, kbc);
        assertEquals(0x00, bus.read(0x400, 1));
    }

    @Test
    void invalidRangesAndSizes() {
        assertThrows(IllegalArgumentException.class, () -> bus.register(0xFFFF, 2, com1));
        assertThrows(IllegalArgumentException.class, () -> bus.register(-1, 1, com1));
        assertThrows(IllegalArgumentException.class, () -> bus.register(0x10, 0, com1));
        assertThrows(IllegalArgumentException.class, () -> bus.read(0x10, 3));
        assertThrows(IllegalArgumentException.class, () -> bus.write(0x10, 8, 0));
        bus.register(0xFFFF, 1, com1);
        assertEquals(0x00, bus.read(0xFFFF, 1));
    }

    @Test
    void worksWithTheRealDevices() {
        Serial16550 uart = new Serial16550(level -> {}, (d, o, l) -> {});
        I8042 i8042 = new I8042(() -> {});
        bus.register(Serial16550.COM1_BASE, Serial16550.PORT_COUNT, uart);
        bus.register(I8042.BASE, I8042.PORT_COUNT, i8042);
        assertEquals(0x60, bus.read(0x3FD, 1));
        bus.write(0x64, 1, 0xAA);
        assertEquals(0x55, bus.read(0x60, 1));
        assertEquals(0xFF, bus.read(0x61, 1));
    }
}
