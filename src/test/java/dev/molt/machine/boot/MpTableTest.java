package dev.molt.machine.boot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class MpTableTest {
    static int checksum(byte[] bytes) {
        int sum = 0;
        for (byte b : bytes) sum += b & 0xFF;
        return sum & 0xFF;
    }

    static String ascii(TestRam ram, long gpa, int len) {
        return new String(ram.mem.read(gpa, len), StandardCharsets.US_ASCII);
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 8, 37})
    void tablesForNCpus(int cpus) {
        try (TestRam ram = new TestRam(16 << 20)) {
            long fp = MpTable.write(ram.mem, cpus);
            assertEquals(0x9FC00, fp);

            // Floating pointer.
            assertEquals("_MP_", ascii(ram, fp, 4));
            assertEquals(0x9FC10, ram.u32(fp + 4));
            assertEquals(1, ram.u8(fp + 8));
            assertEquals(4, ram.u8(fp + 9));
            assertEquals(0, checksum(ram.mem.read(fp, 16)));
            for (int i = 11; i < 16; i++) assertEquals(0, ram.u8(fp + i), "feature byte " + i);

            // Configuration table header.
            long t = 0x9FC10;
            int length = 44 + 20 * cpus + 8 * 28;
            assertEquals("PCMP", ascii(ram, t, 4));
            assertEquals(length, ram.u16(t + 4));
            assertEquals(4, ram.u8(t + 6));
            assertEquals(0, checksum(ram.mem.read(t, length)));
            assertEquals("MOLT    ", ascii(ram, t + 8, 8));
            assertEquals(cpus + 28, ram.u16(t + 34), "entry count");
            assertEquals(0xFEE00000L, ram.u32(t + 36));
            assertTrue(t + length <= 0xA0000);

            long e = t + 44;
            for (int id = 0; id < cpus; id++, e += 20) {
                assertEquals(0, ram.u8(e), "CPU entry type");
                assertEquals(id, ram.u8(e + 1));
                assertEquals(0x14, ram.u8(e + 2));
                assertEquals(id == 0 ? 3 : 1, ram.u8(e + 3), "enabled, BSP for CPU 0");
                assertEquals(0x600, ram.u32(e + 4));
                assertEquals(0x201, ram.u32(e + 8));
            }
            assertEquals(1, ram.u8(e));
            assertEquals(0, ram.u8(e + 1));
            assertEquals("ISA   ", ascii(ram, e + 2, 6));
            e += 8;
            int ioapic = cpus + 1;
            assertEquals(2, ram.u8(e));
            assertEquals(ioapic, ram.u8(e + 1));
            assertEquals(0x14, ram.u8(e + 2));
            assertEquals(1, ram.u8(e + 3));
            assertEquals(0xFEC00000L, ram.u32(e + 4));
            e += 8;
            for (int pin = 0; pin < 24; pin++, e += 8) {
                assertEquals(3, ram.u8(e), "interrupt source entry");
                assertEquals(0, ram.u8(e + 1), "vectored");
                assertEquals(0, ram.u16(e + 2), "conforms to bus");
                assertEquals(0, ram.u8(e + 4), "ISA bus");
                assertEquals(pin, ram.u8(e + 5), "source IRQ");
                assertEquals(ioapic, ram.u8(e + 6));
                assertEquals(pin, ram.u8(e + 7), "identity routing: IRQ i -> pin i");
            }
            assertEquals(0x00_00_00_00_00_00_03_04L, ram.mem.getLong(e) & 0xFFFF, "local source, ExtINT");
            assertEquals(0, ram.u8(e + 6), "ExtINT to APIC 0");
            assertEquals(0, ram.u8(e + 7), "LINT0");
            e += 8;
            assertEquals(4, ram.u8(e));
            assertEquals(1, ram.u8(e + 1), "NMI");
            assertEquals(0xFF, ram.u8(e + 6), "all APICs");
            assertEquals(1, ram.u8(e + 7), "LINT1");
            assertEquals(t + length, e + 8);
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {0, -1, 38, 255, 256})
    void cpuCountsThatDoNotFitAreRefused(int cpus) {
        try (TestRam ram = new TestRam(16 << 20)) {
            var e = assertThrows(BootException.class, () -> MpTable.write(ram.mem, cpus));
            assertEquals("cannot describe " + cpus + " CPUs in the MP table: it must fit below 0xa0000,"
                    + " which allows 1 to 37", e.getMessage());
        }
    }
}
