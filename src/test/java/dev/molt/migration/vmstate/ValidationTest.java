package dev.molt.migration.vmstate;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import java.util.ArrayList;
import java.util.List;

import static dev.molt.migration.vmstate.Samples.ALL;
import static dev.molt.migration.vmstate.Samples.All;
import static dev.molt.migration.vmstate.Samples.Entry;
import static dev.molt.migration.vmstate.Samples.UART;
import static dev.molt.migration.vmstate.Samples.Uart;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Every check, on the save side and on the load side, with its exact message. */
class ValidationTest {
    /** Like the UART's FIFO, in a record that does not check its own length. */
    record Fifo(byte[] rxFifo) {}

    static final VmStateDescription<Fifo> FIFO = VmStateDescription.of("serial16550", 1, b -> b
            .bytes("rx-fifo", Fifo::rxFifo, 0, 16)
            .construct(v -> new Fifo(v.bytes("rx-fifo"))));

    static void fails(String message, Executable e) {
        assertEquals(message, assertThrows(VmStateException.class, e).getMessage());
    }

    static All with(java.util.function.UnaryOperator<All> f) {
        return f.apply(Samples.all());
    }

    /** A UART payload by hand: dll, dlm, ier, thr-empty-pending, then rx-fifo's length and bytes. */
    static PayloadWriter uartPayload(int ier, int thr, long fifoLength) {
        return new PayloadWriter().u8(1).u8(0).u8(ier).u8(thr).u32(fifoLength);
    }

    @Test
    void variableBytesTooLong() {
        fails("section 'serial16550' field 'rx-fifo': length 300 exceeds 16",
                () -> UART.decode(uartPayload(0, 0, 300).bytes(new byte[300]).u8(0).toByteArray(), 1));
        fails("section 'serial16550' field 'rx-fifo': length 17 exceeds 16", () -> FIFO.encode(new Fifo(new byte[17])));
    }

    @Test
    void lengthBeyondThePayloadIsRefusedBeforeAllocating() {
        fails("section 'serial16550' field 'rx-fifo': length 12 exceeds the 3 bytes left in the payload",
                () -> UART.decode(uartPayload(0, 0, 12).bytes(new byte[3]).toByteArray(), 1));
    }

    @Test
    void integerRanges() {
        fails("section 'serial16550' field 'ier': value 16 is out of range 0..15",
                () -> UART.decode(uartPayload(16, 0, 0).u8(0).toByteArray(), 1));
        fails("section 'serial16550' field 'ier': value 16 is out of range 0..15",
                () -> UART.encode(new Uart(1, 0, 16, false, new byte[0])));
        fails("section 'all' field 'u8': value 300 is out of range 0..255",
                () -> ALL.encode(with(a -> new All(300, a.mode(), a.u16(), a.u32(), a.u64(), a.i32(), a.i64(), a.flag(), a.page(), a.fifo(), a.label(), a.entries(), a.seg()))));
        fails("section 'all' field 'u8': value -1 is out of range 0..255",
                () -> ALL.encode(with(a -> new All(-1, a.mode(), a.u16(), a.u32(), a.u64(), a.i32(), a.i64(), a.flag(), a.page(), a.fifo(), a.label(), a.entries(), a.seg()))));
        fails("section 'all' field 'u16': value 65536 is out of range 0..65535",
                () -> ALL.encode(with(a -> new All(a.u8(), a.mode(), 65536, a.u32(), a.u64(), a.i32(), a.i64(), a.flag(), a.page(), a.fifo(), a.label(), a.entries(), a.seg()))));
        fails("section 'all' field 'u32': value -1 is out of range 0..4294967295",
                () -> ALL.encode(with(a -> new All(a.u8(), a.mode(), a.u16(), -1, a.u64(), a.i32(), a.i64(), a.flag(), a.page(), a.fifo(), a.label(), a.entries(), a.seg()))));
        fails("section 'all' field 'mode': value 4 is out of range 0..3",
                () -> ALL.encode(with(a -> new All(a.u8(), 4, a.u16(), a.u32(), a.u64(), a.i32(), a.i64(), a.flag(), a.page(), a.fifo(), a.label(), a.entries(), a.seg()))));
    }

    @Test
    void u64RangesCompareUnsigned() {
        record Big(long v) {}
        var desc = VmStateDescription.<Big>of("big", 1, b -> b.u64("v", Big::v, 0x1000, 0xFFFF_FFFF_FFFF_F000L)
                .construct(v -> new Big(v.u64("v"))));
        assertEquals(new Big(0xFFFF_FFFF_FFFF_F000L), desc.decode(desc.encode(new Big(0xFFFF_FFFF_FFFF_F000L)), 1));
        fails("section 'big' field 'v': value 18446744073709551615 is out of range 4096..18446744073709547520",
                () -> desc.decode(new PayloadWriter().u64(-1).u8(0).toByteArray(), 1));
        fails("section 'big' field 'v': value 4095 is out of range 4096..18446744073709547520",
                () -> desc.encode(new Big(4095)));
    }

    @Test
    void signedRanges() {
        record S(int v) {}
        var desc = VmStateDescription.<S>of("s", 1, b -> b.i32("v", S::v, -10, 10).construct(v -> new S(v.i32("v"))));
        fails("section 's' field 'v': value -11 is out of range -10..10", () -> desc.decode(new PayloadWriter().u32(-11).u8(0).toByteArray(), 1));
        assertEquals(new S(-10), desc.decode(desc.encode(new S(-10)), 1));
    }

    @Test
    void booleans() {
        fails("section 'serial16550' field 'thr-empty-pending': value 2 is not a boolean (0 or 1)",
                () -> UART.decode(uartPayload(0, 2, 0).u8(0).toByteArray(), 1));
    }

    @Test
    void bytesBounds() {
        record B(byte[] b) {}
        var desc = VmStateDescription.<B>of("b", 1, b -> b.bytes("b", B::b, 2, 4).construct(v -> new B(v.bytes("b"))));
        fails("section 'b' field 'b': length 1 is below the minimum 2", () -> desc.encode(new B(new byte[1])));
        fails("section 'b' field 'b': length 1 is below the minimum 2", () -> desc.decode(new PayloadWriter().u32(1).u8(0).u8(0).toByteArray(), 1));
        fails("section 'b' field 'b': length 4294967295 exceeds 4", () -> desc.decode(new PayloadWriter().u32(-1).toByteArray(), 1));
        fails("section 'all' field 'page': length 10 is not 16",
                () -> ALL.encode(with(a -> new All(a.u8(), a.mode(), a.u16(), a.u32(), a.u64(), a.i32(), a.i64(), a.flag(), new byte[10], a.fifo(), a.label(), a.entries(), a.seg()))));
    }

    @Test
    void strings() {
        record S(String s) {}
        var desc = VmStateDescription.<S>of("s", 1, b -> b.string("s", S::s, 4).construct(v -> new S(v.string("s"))));
        fails("section 's' field 's': length 6 exceeds 4", () -> desc.encode(new S("☃☃")));
        fails("section 's' field 's': length 300 exceeds 4", () -> desc.decode(new PayloadWriter().u32(300).toByteArray(), 1));
        fails("section 's' field 's': not valid UTF-8", () -> desc.decode(new PayloadWriter().u32(2).u8(0xC3).u8(0x28).u8(0).toByteArray(), 1));
        fails("section 's' field 's': not encodable as UTF-8 (an unpaired surrogate)", () -> desc.encode(new S("\uD800")));
        fails("section 's' field 's': not valid UTF-8", () -> desc.decode(new PayloadWriter().u32(2).u8(0xC0).u8(0xAF).u8(0).toByteArray(), 1));
        fails("section 's' field 's': not valid UTF-8", () -> desc.decode(new PayloadWriter().u32(3).u8(0xED).u8(0xA0).u8(0x80).u8(0).toByteArray(), 1));
        fails("section 's' field 's': not valid UTF-8", () -> desc.decode(new PayloadWriter().u32(1).u8(0xE2).u8(0).toByteArray(), 1));
    }

    @Test
    void listBounds() {
        List<Entry> five = new ArrayList<>();
        for (int i = 0; i < 5; i++) five.add(new Entry(i, i));
        fails("section 'all' field 'entries': count 5 exceeds 4",
                () -> ALL.encode(with(a -> new All(a.u8(), a.mode(), a.u16(), a.u32(), a.u64(), a.i32(), a.i64(), a.flag(), a.page(), a.fifo(), a.label(), five, a.seg()))));
        record L(List<Entry> l) {}
        var desc = VmStateDescription.<L>of("l", 1, b -> b.list("l", L::l, Samples.ENTRY, 1_000_000)
                .construct(v -> new L(v.list("l", Samples.ENTRY))));
        fails("section 'l' field 'l': count 999999 exceeds the 2 bytes left in the payload",
                () -> desc.decode(new PayloadWriter().u32(1).u32(999_999).u8(0).u8(0).toByteArray(), 1));
        fails("section 'l' field 'l': count 1000001 exceeds 1000000",
                () -> desc.decode(new PayloadWriter().u32(1).u32(1_000_001).toByteArray(), 1));
        fails("section 'l' field 'l': element version 7 is newer than this molt supports (1)",
                () -> desc.decode(new PayloadWriter().u32(7).u32(0).u8(0).toByteArray(), 1));
    }

    @Test
    void nestedFieldPaths() {
        record L(List<Entry> l) {}
        var desc = VmStateDescription.<L>of("l", 1, b -> b.list("l", L::l, Samples.ENTRY, 4)
                .construct(v -> new L(v.list("l", Samples.ENTRY))));
        PayloadWriter p = new PayloadWriter().u32(1).u32(2).u32(1).u64(2).u8(0).u32(3).u32(4);
        fails("section 'l' field 'l[1].data': payload ends inside the field (needs 8 bytes, 4 left)", () -> desc.decode(p.toByteArray(), 1));
        fails("section 'l' field 'l[0]': value is null", () -> desc.encode(new L(java.util.Arrays.asList((Entry) null))));
    }

    @Test
    void truncatedAndOverlongPayloads() {
        fails("section 'serial16550' field 'dlm': payload ends inside the field (needs 1 bytes, 0 left)",
                () -> UART.decode(new byte[] {1}, 1));
        fails("section 'serial16550': 3 bytes left over after the last field",
                () -> UART.decode(uartPayload(0, 0, 0).u8(0).u8(1).u8(2).u8(3).toByteArray(), 1));
    }

    @Test
    void nullsAndFailingGettersAreNamed() {
        fails("section 'serial16550' field 'rx-fifo': value is null", () -> FIFO.encode(new Fifo(null)));
        var e = assertThrows(VmStateException.class, () -> UART.encode(null));
        assertEquals("dll", e.field().orElseThrow());
    }

    @Test
    void theValuesOwnChecksAreValidation() {
        record Even(int v) {
            Even {
                if (v % 2 != 0) throw new IllegalArgumentException("v must be even, not " + v);
            }
        }
        var desc = VmStateDescription.<Even>of("even", 1, b -> b.u8("v", Even::v).construct(v -> new Even(v.u8("v"))));
        fails("section 'even': cannot build the state: v must be even, not 3", () -> desc.decode(new byte[] {3, 0}, 1));
        var e = assertThrows(VmStateException.class, () -> desc.decode(new byte[] {3, 0}, 1));
        assertEquals("even", e.section().orElseThrow());
        assertEquals("cannot build the state: v must be even, not 3", e.reason());
    }

    @Test
    void exceptionAccessors() {
        var e = assertThrows(VmStateException.class, () -> UART.decode(uartPayload(0, 0, 300).toByteArray(), 1));
        assertEquals("serial16550", e.section().orElseThrow());
        assertEquals("rx-fifo", e.field().orElseThrow());
        assertEquals("length 300 exceeds 16", e.reason());
    }
}
