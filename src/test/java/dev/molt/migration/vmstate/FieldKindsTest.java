package dev.molt.migration.vmstate;

import org.junit.jupiter.api.Test;

import java.util.HexFormat;
import java.util.List;

import static dev.molt.migration.vmstate.Samples.ALL;
import static dev.molt.migration.vmstate.Samples.All;
import static dev.molt.migration.vmstate.Samples.Entry;
import static dev.molt.migration.vmstate.Samples.Segment;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class FieldKindsTest {
    @Test
    void everyKindRoundTrips() {
        All a = Samples.all();
        byte[] payload = ALL.encode(a);
        All b = ALL.decode(payload, 1);
        assertEquals(a.u8(), b.u8());
        assertEquals(a.mode(), b.mode());
        assertEquals(a.u16(), b.u16());
        assertEquals(a.u32(), b.u32());
        assertEquals(a.u64(), b.u64());
        assertEquals(a.i32(), b.i32());
        assertEquals(a.i64(), b.i64());
        assertEquals(a.flag(), b.flag());
        assertArrayEquals(a.page(), b.page());
        assertArrayEquals(a.fifo(), b.fifo());
        assertEquals(a.label(), b.label());
        assertEquals(a.entries(), b.entries());
        assertEquals(a.seg(), b.seg());
        assertArrayEquals(payload, ALL.encode(b));
    }

    @Test
    void extremesRoundTrip() {
        All max = new All(255, 3, 0xFFFF, 0xFFFF_FFFFL, -1L, Integer.MAX_VALUE, Long.MAX_VALUE, false, new byte[16],
                new byte[16], "x".repeat(32), List.of(new Entry(0, -1), new Entry(1, 0), new Entry(2, 0), new Entry(3, 0)),
                new Segment(0xFFFF, -1));
        All min = new All(0, 0, 0, 0, 0, Integer.MIN_VALUE, Long.MIN_VALUE, false, new byte[16], new byte[0], "",
                List.of(), new Segment(0, 0));
        for (All a : List.of(max, min)) {
            All b = ALL.decode(ALL.encode(a), 1);
            assertArrayEquals(ALL.encode(a), ALL.encode(b));
            assertEquals(a.u64(), b.u64());
            assertEquals(a.i32(), b.i32());
            assertEquals(a.label(), b.label());
        }
    }

    @Test
    void littleEndianWireLayout() {
        All a = Samples.all();
        String hex = HexFormat.of().formatHex(ALL.encode(a));
        String expected = "fe" + "02" + "efbe" + "ffffffff" + "0100000000000080" + "fbffffff" + "0000000000000080" + "01"
                + "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf"                      // fixed bytes: no length
                + "03000000" + "010203"                                  // variable bytes: u32 length
                + "0a000000" + "68c3a96c6c6f20e29883"                    // UTF-8 "héllo ☃"
                + "01000000" + "02000000"                                // list: element version, count
                + "74010000" + "1000000000000000" + "00"                 // entry 0 and its end of subsections
                + "800000c0" + "010d000000000000" + "00"
                + "01000000" + "1000" + "0000ffff00000000" + "00"        // struct: version, fields, end
                + "00";                                                  // the value's end of subsections
        assertEquals(expected, hex);
    }

    @Test
    void u32HeldInAnIntNeedsTheUnsignedGetter() {
        record Reg(int value) {}
        var desc = VmStateDescription.<Reg>of("reg", 1, b -> b
                .u32("value", r -> Integer.toUnsignedLong(r.value()))
                .construct(v -> new Reg((int) v.u32("value"))));
        assertEquals(new Reg(-2), desc.decode(desc.encode(new Reg(-2)), 1));
    }

    @Test
    void accessorOfTheWrongKindFailsTheLoadNamingTheField() {
        record R(int a) {}
        var desc = VmStateDescription.<R>of("r", 1, b -> b.u8("a", R::a).construct(v -> new R(v.u16("a"))));
        var e = assertThrows(VmStateException.class, () -> desc.decode(new byte[] {7, 0}, 1));
        assertEquals("section 'r': cannot build the state: field 'a' of 'r' is not a u16 (u8 a)", e.getMessage());
    }

    @Test
    void schemaListsTheFieldsInWireOrder() {
        assertEquals("""
                all v1 (loads v1..v1)
                  u8 u8
                  u8 mode [0..3]
                  u16 u16
                  u32 u32
                  u64 u64
                  i32 i32
                  i64 i64
                  bool flag
                  bytes[16] page
                  bytes[0..16] fifo
                  string[..32] label
                  list[..4] of entry entries
                  struct segment seg
                """, ALL.schema());
    }

    @Test
    void malformedDeclarationsAreRefusedWhenBuilt() {
        record R(int a) {}
        assertThrows(IllegalArgumentException.class, () -> VmStateDescription.<R>of("r", 1, b -> b.u8("a", R::a).u8("a", R::a).construct(v -> null)));
        assertThrows(IllegalArgumentException.class, () -> VmStateDescription.<R>of("r", 1, b -> b.u8("a", R::a)));
        assertThrows(IllegalArgumentException.class, () -> VmStateDescription.<R>of("r", 1, b -> b.u8("a", R::a, 0, 256).construct(v -> null)));
        assertThrows(IllegalArgumentException.class, () -> VmStateDescription.<R>of("r", 1, b -> b.u8("a.b", R::a).construct(v -> null)));
        assertThrows(IllegalArgumentException.class, () -> VmStateDescription.<R>of("r", 1, b -> b.u8("a", R::a).since(2).construct(v -> null)));
        assertThrows(IllegalArgumentException.class, () -> VmStateDescription.<R>of("bad name", 1, b -> b.construct(v -> null)));
        assertThrows(IllegalArgumentException.class, () -> VmStateDescription.<R>of("r", 0, b -> b.construct(v -> null)));
        assertThrows(IllegalArgumentException.class, () -> VmStateDescription.<R>of("r", 2, b -> b.minimumVersion(3).construct(v -> null)));
    }

    @Test
    void bytesAccessorReturnsACopy() {
        record B(byte[] b) {}
        var desc = VmStateDescription.<B>of("b", 1, b -> b.bytes("b", B::b, 0, 4)
                .construct(v -> {
                    byte[] first = v.bytes("b");
                    first[0] = 9;
                    return new B(v.bytes("b"));
                }));
        assertArrayEquals(new byte[] {1}, desc.decode(desc.encode(new B(new byte[] {1})), 1).b());
    }

    @Test
    void presentIsTrueForFieldsInTheStream() {
        record R(int a) {}
        var desc = VmStateDescription.<R>of("r", 1, b -> b.u8("a", R::a).construct(v -> {
            assertTrue(v.present("a"));
            assertEquals(1, v.version());
            return new R(v.u8("a"));
        }));
        assertEquals(new R(3), desc.decode(desc.encode(new R(3)), 1));
        assertFalse(desc.schema().isEmpty());
    }
}
