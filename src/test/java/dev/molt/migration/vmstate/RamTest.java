package dev.molt.migration.vmstate;

import dev.molt.memory.GuestRam;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static dev.molt.migration.vmstate.RamLayoutState.Block;
import static dev.molt.migration.vmstate.RamLayoutState.Range;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RamTest {
    static final int PAGE = RamLayoutState.PAGE_SIZE;

    static final RamLayoutState LAYOUT = new RamLayoutState(List.of(
            new Block("ram0", 0x10000, List.of(new Range(0, 0x10000, 0))),
            new Block("ram1", 0x8000, List.of(new Range(0x100000, 0x4000, 0), new Range(0x200000, 0x4000, 0x4000)))));

    /** Remembers every call and keeps a copy of RAM, to check what was written and where. */
    static final class Recorder implements RamPageSink {
        final List<String> calls = new ArrayList<>();
        final byte[][] ram;

        Recorder(RamLayoutState layout) {
            ram = new byte[layout.blocks().size()][];
            for (int i = 0; i < ram.length; i++) ram[i] = new byte[(int) layout.blocks().get(i).size()];
        }

        @Override
        public void page(int block, long offset, MemorySegment data) {
            calls.add((data == null ? "zero " : "data ") + block + ":" + Long.toHexString(offset));
            if (data == null) Arrays.fill(ram[block], (int) offset, (int) offset + PAGE, (byte) 0);
            else MemorySegment.copy(data, ValueLayout.JAVA_BYTE, 0, ram[block], (int) offset, PAGE);
        }

        @Override
        public void endOfPass() {
            calls.add("end-of-pass");
        }
    }

    static MemorySegment page(int fill) {
        byte[] b = new byte[PAGE];
        Arrays.fill(b, (byte) fill);
        b[7] = (byte) (fill + 1);
        return MemorySegment.ofArray(b);
    }

    static VmStateException fails(String message, Executable e) {
        var ex = assertThrows(VmStateException.class, e);
        assertEquals(message, ex.getMessage());
        return ex;
    }

    static Recorder read(byte[] stream, RamLayoutState local) {
        Recorder rec = new Recorder(local);
        var r = new StateStreamReader(new ByteArrayInputStream(stream)).acceptRam(local, rec);
        r.finish();
        return rec;
    }

    @Test
    void pagesRoundTripAroundDeviceState() {
        byte[] s = Samples.stream(w -> {
            w.ramLayout(LAYOUT);
            w.page(0, 0, page(0x11));
            w.page(1, 0x7000, page(0x22));
            w.zeroPage(0, 0x1000);
            w.page(0, 0x2000, MemorySegment.ofArray(new byte[PAGE]));  // all zeros: sent as a ZERO record
            w.endOfPass();
            w.page(0, 0, page(0x33));                                   // dirtied again, second pass
            w.section(Samples.UART, 0, Samples.uart());
            w.endOfPass();
            w.finish();
        });
        Recorder rec = new Recorder(LAYOUT);
        var r = new StateStreamReader(new ByteArrayInputStream(s)).acceptRam(LAYOUT, rec);
        Samples.Uart u = r.expect(Samples.UART, 0);
        assertEquals(5, u.ier());
        r.finish();
        assertEquals(List.of("data 0:0", "data 1:7000", "zero 0:1000", "zero 0:2000", "end-of-pass", "data 0:0", "end-of-pass"), rec.calls);
        assertEquals(0x33, rec.ram[0][0]);
        assertEquals(0x34, rec.ram[0][7]);
        assertEquals(0x22, rec.ram[1][0x7FFF]);
    }

    @Test
    void zeroPagesAreSmall() throws IOException {
        var a = new ByteArrayOutputStream();
        var w = new StateStreamWriter(a);
        w.ramLayout(LAYOUT);
        long before = w.bytesWritten();
        for (int i = 0; i < 16; i++) w.page(0, (long) i * PAGE, MemorySegment.ofArray(new byte[PAGE]));
        w.endOfPass();
        assertTrue(w.bytesWritten() - before < 16 * 14 + 64, "16 zero pages take 13 bytes each plus framing");
    }

    @Test
    void manyPagesAreBatchedIntoSeveralSections() {
        RamLayoutState big = new RamLayoutState(List.of(new Block("big", 4 << 20, List.of(new Range(0, 4 << 20, 0)))));
        int pages = 700;
        byte[] s = Samples.stream(w -> {
            w.ramLayout(big);
            for (int i = 0; i < pages; i++) w.page(0, (long) i * PAGE, page(i));
            w.finish();
        });
        Recorder rec = read(s, big);
        assertEquals(pages, rec.calls.size());
        assertEquals((byte) 699, rec.ram[0][699 * PAGE]);
        // 700 pages in batches of at most 256 fit under a 1.1 MiB section limit.
        var r = new StateStreamReader(new ByteArrayInputStream(s), new StreamLimits(1_100_000)).acceptRam(big, new Recorder(big));
        r.finish();
    }

    @Test
    void zeroRecordsFillASectionOfTheSameSizeAsDataPages() throws IOException {
        // 256 MiB of zero pages: 65,536 records of 13 bytes. In sections of 256 records that was 256
        // sections; a section of data's size holds all of them.
        RamLayoutState big = new RamLayoutState(List.of(new Block("big", 256L << 20, List.of(new Range(0, 256L << 20, 0)))));
        int pages = 65_536;
        var a = new ByteArrayOutputStream();
        var w = new StateStreamWriter(a);
        w.ramLayout(big);
        long before = w.bytesWritten();
        for (int i = 0; i < pages; i++) w.zeroPage(0, (long) i * PAGE);
        w.page(0, 0, page(7)); // and a page of data after them
        w.endOfPass();
        long ram = w.bytesWritten() - before;
        w.finish();
        assertTrue(ram < (pages + 1L) * 13 + PAGE + 2 * 64, "one section's framing, not 256: " + ram + " bytes");
        // The sections are no larger than 256 pages of data: a reader limited to that (as every molt is) takes them.
        Recorder rec = new Recorder(big);
        var r = new StateStreamReader(new ByteArrayInputStream(a.toByteArray()), new StreamLimits(1_100_000)).acceptRam(big, rec);
        r.finish();
        assertEquals(pages + 2, rec.calls.size(), "every zero page, the data page and the end of the pass");
        assertEquals((byte) 7, rec.ram[0][0]);
    }

    /** A stream with the layout and then one hand-made "ram" section. */
    static byte[] withRamSection(PayloadWriter records) {
        return Samples.stream(w -> {
            w.ramLayout(LAYOUT);
            w.rawSection("ram", 0, 1, records.toByteArray());
            w.finish();
        });
    }

    static PayloadWriter valid() {
        return new PayloadWriter().u8(RamPages.DATA).u32(0).u64(0).segment(page(9));
    }

    @Test
    void badPageRecordsAreRefusedBeforeAnyWrite() {
        List<Object[]> cases = List.of(
                new Object[] {valid().u8(RamPages.ZERO).u32(0).u64(0x1001),
                        "section 'ram' field 'page[1].offset': offset 0x1001 is not a multiple of the page size 4096"},
                new Object[] {valid().u8(RamPages.ZERO).u32(0).u64(0x10000),
                        "section 'ram' field 'page[1].offset': offset 0x10000 is outside block 'ram0' (size 0x10000)"},
                new Object[] {valid().u8(RamPages.DATA).u32(1).u64(-PAGE),
                        "section 'ram' field 'page[1].offset': offset 0xfffffffffffff000 is outside block 'ram1' (size 0x8000)"},
                new Object[] {valid().u8(RamPages.ZERO).u32(2).u64(0),
                        "section 'ram' field 'page[1].block': block index 2 does not exist (the layout has 2 blocks)"},
                new Object[] {valid().u8(RamPages.ZERO).u32(-1).u64(0),
                        "section 'ram' field 'page[1].block': block index 4294967295 does not exist (the layout has 2 blocks)"},
                new Object[] {valid().u8(0x03),
                        "section 'ram' field 'page[1].flags': bad flags 0x03 (expected ZERO 0x01, DATA 0x02 or END_OF_PASS 0x04)"},
                new Object[] {valid().u8(RamPages.DATA).u32(0).u64(PAGE).bytes(new byte[10]),
                        "section 'ram' field 'page[1].data': length 4096 exceeds the 10 bytes left in the payload"},
                new Object[] {valid().u8(RamPages.ZERO).u32(0).u16(0),
                        "section 'ram' field 'page[1].offset': payload ends inside the field (needs 8 bytes, 2 left)"});
        for (Object[] c : cases) {
            Recorder rec = new Recorder(LAYOUT);
            byte[] s = withRamSection((PayloadWriter) c[0]);
            var r = new StateStreamReader(new ByteArrayInputStream(s)).acceptRam(LAYOUT, rec);
            fails((String) c[1], r::finish);
            assertEquals(List.of(), rec.calls, "nothing of a bad batch is written: " + c[1]);
        }
    }

    @Test
    void writerChecksPagesTheSameWay() throws IOException {
        var w = new StateStreamWriter(new ByteArrayOutputStream());
        assertThrows(IllegalStateException.class, () -> w.page(0, 0, page(1)));
        w.ramLayout(LAYOUT);
        fails("section 'ram' field 'page[0].offset': offset 0x10000 is outside block 'ram0' (size 0x10000)", () -> w.page(0, 0x10000, page(1)));
        fails("section 'ram' field 'page[0].offset': offset 0x10 is not a multiple of the page size 4096", () -> w.zeroPage(0, 0x10));
        fails("section 'ram' field 'page[0].block': block index 4294967295 does not exist (the layout has 2 blocks)", () -> w.zeroPage(-1, 0));
        assertThrows(IllegalArgumentException.class, () -> w.page(0, 0, MemorySegment.ofArray(new byte[100])));
    }

    @Test
    void ramSectionsOutOfPlace() {
        byte[] early = Samples.stream(w -> {
            w.rawSection("ram", 0, 1, valid().toByteArray());
            w.finish();
        });
        fails("section 'ram': RAM pages before the RAM layout", () -> read(early, LAYOUT));
        fails("section 'ram': unknown to this molt (instance 0, version 1)",
                () -> new StateStreamReader(new ByteArrayInputStream(early)).finish());

        byte[] pages = withRamSection(valid());
        fails("section 'ram': RAM pages in a stream whose receiver keeps its RAM in place",
                () -> new StateStreamReader(new ByteArrayInputStream(pages)).acceptRamLayout(LAYOUT).finish());

        byte[] twice = Samples.stream(w -> {
            w.ramLayout(LAYOUT);
            w.ramLayout(LAYOUT);
            w.finish();
        });
        fails("section 'ram-layout': appears twice", () -> read(twice, LAYOUT));

        byte[] none = Samples.stream(StateStreamWriter::finish);
        fails("the stream ended without a 'ram-layout' section", () -> read(none, LAYOUT));

        byte[] newer = Samples.stream(w -> {
            w.ramLayout(LAYOUT);
            w.rawSection("ram", 0, 2, new byte[0]);
            w.finish();
        });
        fails("section 'ram': version 2 is newer than this molt supports (1)", () -> read(newer, LAYOUT));
    }

    @Test
    void cprExecStreamCarriesTheLayoutOnly() {
        byte[] s = Samples.stream(w -> {
            w.ramLayout(LAYOUT);
            w.section(Samples.UART, 0, Samples.uart());
            w.finish();
        });
        var r = new StateStreamReader(new ByteArrayInputStream(s)).acceptRamLayout(LAYOUT);
        r.expect(Samples.UART, 0);
        r.finish();
    }

    @Test
    void layoutMismatchesNameTheBlockAndSizes() {
        Block ram0 = LAYOUT.blocks().get(0);
        Block ram1 = LAYOUT.blocks().get(1);
        fails("section 'ram-layout' field 'blocks': the stream has 2 RAM blocks, this VM has 1",
                () -> LAYOUT.requireSameAs(new RamLayoutState(List.of(ram0))));
        fails("section 'ram-layout' field 'blocks[0].name': block 0 is 'ram0' in the stream but 'pc.ram' here",
                () -> LAYOUT.requireSameAs(new RamLayoutState(List.of(new Block("pc.ram", 0x10000, ram0.ranges()), ram1))));
        fails("section 'ram-layout' field 'blocks[1].size': block 'ram1' is 32768 bytes in the stream but 65536 bytes here",
                () -> LAYOUT.requireSameAs(new RamLayoutState(List.of(ram0, new Block("ram1", 0x10000, ram1.ranges())))));
        fails("section 'ram-layout' field 'blocks[1].ranges': block 'ram1' has 2 guest-physical ranges in the stream but 1 here",
                () -> LAYOUT.requireSameAs(new RamLayoutState(List.of(ram0, new Block("ram1", 0x8000, List.of(new Range(0x100000, 0x8000, 0)))))));
        fails("section 'ram-layout' field 'blocks[1].ranges[1]': block 'ram1' range 1 is gpa 0x200000 length 0x4000 at block offset 0x4000"
                        + " in the stream but gpa 0x300000 length 0x4000 at block offset 0x4000 here",
                () -> LAYOUT.requireSameAs(new RamLayoutState(List.of(ram0, new Block("ram1", 0x8000,
                        List.of(ram1.ranges().get(0), new Range(0x300000, 0x4000, 0x4000)))))));
        LAYOUT.requireSameAs(new RamLayoutState(List.of(ram0, ram1)));

        // Through a stream: refused when the layout section arrives, before any page.
        byte[] s = Samples.stream(w -> {
            w.ramLayout(LAYOUT);
            w.page(0, 0, page(1));
            w.finish();
        });
        RamLayoutState smaller = new RamLayoutState(List.of(new Block("ram0", 0x8000, ram0.ranges().stream()
                .map(r -> new Range(r.gpa(), 0x8000, 0)).toList()), ram1));
        Recorder rec = new Recorder(smaller);
        fails("section 'ram-layout' field 'blocks[0].size': block 'ram0' is 65536 bytes in the stream but 32768 bytes here",
                () -> new StateStreamReader(new ByteArrayInputStream(s)).acceptRam(smaller, rec).finish());
        assertEquals(List.of(), rec.calls);
    }

    @Test
    void inconsistentLayoutInTheStreamIsRefused() {
        PayloadWriter p = new PayloadWriter().u32(PAGE).u32(1).u32(1)                  // page size, list version, 1 block
                .u32(4).bytes("ram0".getBytes()).u64(0x10000)                            // name, size
                .u32(1).u32(1).u64(0).u64(0x20000).u64(0).u8(0)                          // one range, longer than the block
                .u8(0).u8(0);
        fails("section 'ram-layout' field 'blocks[0]': cannot build the state: RAM block 'ram0': range at block offset 0x0 length 0x20000"
                + " lies outside the block (size 0x10000)", () -> RamLayoutState.DESCRIPTION.decode(p.toByteArray(), 1));
        PayloadWriter q = new PayloadWriter().u32(8192);
        fails("section 'ram-layout' field 'page-size': value 8192 is out of range 4096..4096", () -> RamLayoutState.DESCRIPTION.decode(q.toByteArray(), 1));
        assertEquals(LAYOUT, RamLayoutState.DESCRIPTION.decode(RamLayoutState.DESCRIPTION.encode(LAYOUT), 1));
    }

    @Test
    void sinkIntoSegmentsCopiesAndClears() {
        byte[] b0 = new byte[0x10000];
        byte[] b1 = new byte[0x8000];
        Arrays.fill(b0, 0x1000, 0x2000, (byte) 0x55);
        byte[] s = Samples.stream(w -> {
            w.ramLayout(LAYOUT);
            w.page(1, 0x4000, page(0x66));
            w.zeroPage(0, 0x1000);
            w.zeroPage(0, 0x3000);
            w.finish();
        });
        new StateStreamReader(new ByteArrayInputStream(s))
                .acceptRam(LAYOUT, RamPageSink.into(List.of(MemorySegment.ofArray(b0), MemorySegment.ofArray(b1))))
                .finish();
        assertArrayEquals(new byte[0x10000], b0);
        assertEquals(0x66, b1[0x4000]);
        assertEquals(0x67, b1[0x4007]);
        assertEquals(0, b1[0x3FFF]);
    }

    @Test
    void machineRamLayoutAndSink() {
        try (GuestRam ram = GuestRam.allocate(1 << 20, null, false, 39)) {
            RamLayoutState layout = RamLayoutState.of(ram);
            assertEquals(List.of(new Block(GuestRam.IMPLICIT_BLOCK, 1 << 20, List.of(new Range(0, 1 << 20, 0)))), layout.blocks());
            assertEquals(0, layout.blockIndex(GuestRam.IMPLICIT_BLOCK));
            byte[] s = Samples.stream(w -> {
                w.ramLayout(layout);
                w.page(0, 0x5000, page(0x42));
                w.finish();
            });
            try (GuestRamSink sink = RamPageSink.into(ram)) {
                new StateStreamReader(new ByteArrayInputStream(s)).acceptRam(layout, sink).finish();
            }
            assertEquals(0x42, ram.memory().read(0x5000, 1)[0]);
        }
    }
}
