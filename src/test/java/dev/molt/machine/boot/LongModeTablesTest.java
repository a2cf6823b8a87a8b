package dev.molt.machine.boot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class LongModeTablesTest {
    @Test
    void descriptorsAreTheDocumentedValues() {
        assertEquals(0x00AF9B000000FFFFL, LongModeTables.CODE64.descriptor());
        assertEquals(0x00CF93000000FFFFL, LongModeTables.DATA.descriptor());
        assertEquals(0x00CF9B000000FFFFL, LongModeTables.CODE32.descriptor());
        assertEquals(0x0000_8B00_0000_0067L, LongModeTables.PVH_TASK_REGISTER.descriptor());
    }

    @Test
    void segmentValuesForKvmSregs() {
        SegmentSpec cs = LongModeTables.CODE64;
        assertEquals(0x10, cs.selector());
        assertEquals(0, cs.base());
        assertEquals(0xFFFF_FFFFL, cs.limit());
        assertEquals(0xB, cs.type());
        assertTrue(cs.present() && cs.s() && cs.l() && cs.g());
        assertFalse(cs.db());
        SegmentSpec ds = LongModeTables.DATA;
        assertEquals(0x18, ds.selector());
        assertEquals(3, ds.type());
        assertTrue(ds.db() && ds.s() && ds.g());
        assertFalse(ds.l());
        SegmentSpec cs32 = LongModeTables.CODE32;
        assertEquals(0x08, cs32.selector());
        assertTrue(cs32.db() && cs32.g());
        assertFalse(cs32.l());
    }

    @Test
    void writesGdtIdtAndIdentityMap() {
        try (TestRam ram = new TestRam(16 << 20)) {
            ram.mem.fill(0x500, 0x40, (byte) 0x77);
            ram.mem.fill(0x9000, 0x3000, (byte) 0x77);
            LongModeTables.write(ram.mem);
            assertEquals(0, ram.mem.getLong(0x500));
            assertEquals(0x00CF9B000000FFFFL, ram.mem.getLong(0x508));
            assertEquals(0x00AF9B000000FFFFL, ram.mem.getLong(0x510));
            assertEquals(0x00CF93000000FFFFL, ram.mem.getLong(0x518));
            assertEquals(0, ram.mem.getLong(0x520), "zero IDT gate");
            assertEquals(0x77, ram.u8(0x528), "nothing written past the IDT");
            assertEquals(31, LongModeTables.GDT_LIMIT);
            assertEquals(7, LongModeTables.IDT_LIMIT);
            assertEquals(0xA003, ram.mem.getLong(0x9000));
            assertEquals(0, ram.mem.getLong(0x9008), "rest of the PML4 cleared");
            assertEquals(0xB003, ram.mem.getLong(0xA000));
            assertEquals(0, ram.mem.getLong(0xAFF8));
            assertEquals(0x83, ram.mem.getLong(0xB000));
            assertEquals(0x200083, ram.mem.getLong(0xB008));
            assertEquals((511L << 21) | 0x83, ram.mem.getLong(0xBFF8));
            assertEquals(0x9000, LongModeTables.CR3);
        }
    }
}
