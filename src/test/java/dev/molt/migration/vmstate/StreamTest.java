package dev.molt.migration.vmstate;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.zip.CRC32C;

import static dev.molt.migration.vmstate.Samples.ALL;
import static dev.molt.migration.vmstate.Samples.UART;
import static dev.molt.migration.vmstate.Samples.Uart;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class StreamTest {
    static final HexFormat HEX = HexFormat.of();

    static VmStateException fails(String message, Executable e) {
        var ex = assertThrows(VmStateException.class, e);
        assertEquals(message, ex.getMessage());
        return ex;
    }

    static StateStreamReader reader(byte[] b) {
        return new StateStreamReader(new ByteArrayInputStream(b));
    }

    static byte[] twoSections() {
        return Samples.stream(w -> {
            w.section(UART, 0, Samples.uart());
            w.section(ALL, 3, Samples.all());
            w.finish();
        });
    }

    /** Reads everything registered, the way a receiver that does not care about order would. */
    static List<Object> readAll(byte[] b) {
        var r = reader(b).register(UART, ALL);
        List<Object> out = new ArrayList<>();
        for (Section s; (s = r.next().orElse(null)) != null; ) {
            out.add(switch (s.name()) {
                case "serial16550" -> s.decode(UART);
                case "all" -> s.decode(ALL);
                default -> throw new AssertionError(s);
            });
        }
        return out;
    }

    @Test
    void exactBytesOfASmallStream() {
        byte[] s = Samples.stream(w -> {
            w.section(UART, 0, Samples.uart());
            w.finish();
        });
        String body = "4d4f4c54564d5300" + "01000000"                    // "MOLTVMS\0", format 1
                + "01" + "0b" + HEX.formatHex("serial16550".getBytes())  // section, name
                + "00000000" + "01000000" + "0b00000000000000"           // instance 0, version 1, payload 11
                + "01" + "00" + "05" + "01" + "02000000" + "6f6b" + "00" // dll dlm ier thr, rx-fifo "ok", end of subsections
                + "02";                                                   // end marker
        var crc = new CRC32C();
        crc.update(HEX.parseHex(body));
        long c = crc.getValue();
        String checksum = String.format("%02x%02x%02x%02x", c & 0xFF, (c >> 8) & 0xFF, (c >> 16) & 0xFF, (c >> 24) & 0xFF);
        assertEquals(body + checksum, HEX.formatHex(s));
    }

    /** The annotated example of docs/migration-format.md, byte for byte. */
    @Test
    void theDocumentedExample() {
        String documented = """
                4d 4f 4c 54 56 4d 53 00 01 00 00 00 01 0a 72 61 6d 2d 6c 61 79 6f 75 74 00 00 00 00 01 00 00 00
                46 00 00 00 00 00 00 00 00 10 00 00 01 00 00 00 01 00 00 00 0b 00 00 00 6d 69 63 72 6f 76 6d 2e
                72 61 6d 00 00 01 00 00 00 00 00 01 00 00 00 01 00 00 00 00 00 00 00 00 00 00 00 00 00 01 00 00
                00 00 00 00 00 00 00 00 00 00 00 00 00 00 01 03 72 61 6d 00 00 00 00 01 00 00 00 0e 00 00 00 00
                00 00 00 01 00 00 00 00 00 10 00 00 00 00 00 00 04 01 0b 73 65 72 69 61 6c 31 36 35 35 30 00 00
                00 00 01 00 00 00 0b 00 00 00 00 00 00 00 01 00 05 01 02 00 00 00 6f 6b 00 02 76 fd d2 8f
                """.replaceAll("\\s+", "");
        var layout = new RamLayoutState(List.of(new RamLayoutState.Block("microvm.ram", 0x10000,
                List.of(new RamLayoutState.Range(0, 0x10000, 0)))));
        byte[] s = Samples.stream(w -> {
            w.ramLayout(layout);
            w.zeroPage(0, 0x1000);
            w.endOfPass();
            w.section(UART, 0, Samples.uart());
            w.finish();
        });
        assertEquals(documented, HEX.formatHex(s));
    }

    @Test
    void sectionsRoundTripInOrderOrByExpect() {
        byte[] s = twoSections();
        List<Object> all = readAll(s);
        assertEquals(2, all.size());
        assertEquals(Samples.uart().dll(), ((Uart) all.get(0)).dll());
        assertArrayEquals(ALL.encode(Samples.all()), ALL.encode((Samples.All) all.get(1)));

        var r = reader(s);
        assertEquals(1, r.formatVersion());
        Uart u = r.expect(UART, 0);
        assertArrayEquals(Samples.uart().rxFifo(), u.rxFifo());
        Samples.All a = r.expect(ALL, 3);
        assertEquals("héllo ☃", a.label());
        r.finish();
        assertEquals(s.length, r.bytesRead());
        assertEquals(Optional.empty(), r.next(), "the reader stays at the end");
    }

    @Test
    void rawSections() {
        byte[] s = Samples.stream(w -> {
            w.rawSection("blob", 9, 2, new PayloadWriter().u32(0xCAFE).u8(1).toByteArray());
            w.rawSection("blob", 9, 2, new byte[0]);
            w.finish();
        });
        var r = reader(s).registerRaw("blob", 1, 2);
        Section first = r.next().orElseThrow();
        assertEquals("blob", first.name());
        assertEquals(9, first.instanceId());
        assertEquals(2, first.version());
        PayloadReader p = first.payload();
        assertEquals(0xCAFE, p.u32("magic"));
        assertEquals(1, p.u8("flag"));
        p.expectEnd(null);
        assertEquals(0, r.next().orElseThrow().payloadSize());
        r.finish();

        fails("section 'blob': version 2 is newer than this molt supports (1)", () -> reader(s).registerRaw("blob", 1, 1).next());
    }

    @Test
    void randomBytesAreNotAStream() {
        fails("not a molt VM state stream (bad magic)", () -> reader("GET / HTTP/1.1\r\n".getBytes()));
        fails("not a molt VM state stream (bad magic)", () -> reader(new byte[] {'M', 'O', 'X'}));
        var e = fails("stream truncated in the stream header", () -> reader(new byte[0]));
        assertTrue(e.section().isEmpty());
        fails("stream truncated in the stream header", () -> reader("MOLTVMS\0\1".getBytes()));
    }

    @Test
    void newerOrOlderFormatIsRefused() {
        fails("stream format 3 is newer than this molt supports (1)",
                () -> reader(new PayloadWriter().bytes("MOLTVMS\0".getBytes()).u32(3).toByteArray()));
        fails("stream format 0 is older than the oldest this molt reads (1)",
                () -> reader(new PayloadWriter().bytes("MOLTVMS\0".getBytes()).u32(0).toByteArray()));
    }

    @Test
    void truncationSaysWhere() {
        byte[] s = twoSections();
        int uartPayloadAt = 12 + 1 + 1 + 11 + 16;
        int uartEnd = uartPayloadAt + 11;
        var e = fails("stream truncated in section 'serial16550'", () -> readAll(Arrays.copyOf(s, uartPayloadAt + 3)));
        assertEquals("serial16550", e.section().orElseThrow());
        assertEquals("stream truncated", e.reason());
        fails("stream truncated in section 'serial16550'", () -> readAll(Arrays.copyOf(s, 12 + 1 + 1 + 11 + 5)));
        fails("stream truncated in the first section header", () -> readAll(Arrays.copyOf(s, 12 + 1 + 4)));
        fails("stream truncated in the section header after section 'serial16550'", () -> readAll(Arrays.copyOf(s, uartEnd)));
        fails("stream truncated in the end marker", () -> readAll(Arrays.copyOf(s, s.length - 2)));
        fails("stream truncated in the section header after section 'all'", () -> readAll(Arrays.copyOf(s, s.length - 5)));
    }

    @Test
    void checksumMismatch() {
        byte[] s = twoSections();
        byte[] bad = s.clone();
        bad[12 + 1 + 1 + 11 + 16] ^= 0x01; // dll 1 -> 0: still a valid UART
        var crc = new CRC32C();
        crc.update(bad, 0, bad.length - 4);
        long stored = (s[s.length - 4] & 0xFFL) | (s[s.length - 3] & 0xFFL) << 8 | (s[s.length - 2] & 0xFFL) << 16 | (s[s.length - 1] & 0xFFL) << 24;
        fails(String.format("checksum mismatch: the stream says 0x%08x, its content gives 0x%08x (the stream is corrupt)", stored, crc.getValue()),
                () -> readAll(bad));
        byte[] badCrc = s.clone();
        badCrc[s.length - 1] ^= 0x40;
        assertThrows(VmStateException.class, () -> readAll(badCrc));
    }

    @Test
    void unknownSectionsAreRefusedUnlessRegistered() {
        byte[] s = Samples.stream(w -> {
            w.rawSection("mystery", 2, 5, new byte[10]);
            w.finish();
        });
        var e = fails("section 'mystery': unknown to this molt (instance 2, version 5)", () -> readAll(s));
        assertEquals("mystery", e.section().orElseThrow());
        var r = reader(s).registerRaw("mystery", 5, 5);
        assertEquals(10, r.next().orElseThrow().payloadSize());
        r.finish();
    }

    @Test
    void payloadLimitIsCheckedBeforeReading() {
        byte[] s = twoSections();
        fails("section 'serial16550': payload length 11 exceeds the limit 8",
                () -> new StateStreamReader(new ByteArrayInputStream(s), new StreamLimits(8)).expect(UART, 0));
        // A huge declared length with nothing behind it: refused by the limit, or truncated after
        // reading what is there; never an allocation of the declared size.
        byte[] huge = new PayloadWriter().bytes(Arrays.copyOf(s, 12 + 1 + 1 + 11 + 8)).u64(-1).toByteArray();
        fails("section 'serial16550': payload length 18446744073709551615 exceeds the limit 16777216", () -> readAll(huge));
        byte[] big = new PayloadWriter().bytes(Arrays.copyOf(s, 12 + 1 + 1 + 11 + 8)).u64(16 << 20).bytes(new byte[100]).toByteArray();
        fails("stream truncated in section 'serial16550'", () -> readAll(big));
    }

    @Test
    void framingErrors() {
        byte[] header = Arrays.copyOf(twoSections(), 12);
        fails("bad record type 0x07 after the stream header", () -> readAll(new PayloadWriter().bytes(header).u8(7).toByteArray()));
        fails("bad section name is empty", () -> readAll(new PayloadWriter().bytes(header).u8(1).u8(0).toByteArray()));
        fails("bad section name has a byte that is not printable ASCII (0x20)",
                () -> readAll(new PayloadWriter().bytes(header).u8(1).u8(2).u8('a').u8(' ').toByteArray()));
    }

    @Test
    void duplicateInstancesAreRefused() {
        byte[] s = Samples.stream(w -> {
            w.section(UART, 0, Samples.uart());
            w.section(UART, 1, Samples.uart());
            w.section(UART, 0, Samples.uart());
            w.finish();
        });
        fails("section 'serial16550': instance 0 appears twice", () -> readAll(s));
    }

    @Test
    void expectAndFinishCheckTheSequence() {
        byte[] s = twoSections();
        fails("section 'all': expected instance 3 here, found section 'serial16550' instance 0", () -> reader(s).register(UART).expect(ALL, 3));
        fails("section 'serial16550': expected instance 1 here, found section 'serial16550' instance 0", () -> reader(s).expect(UART, 1));
        var r = reader(s);
        r.expect(UART, 0);
        r.expect(ALL, 3);
        fails("section 'serial16550': missing: the stream ended before instance 1", () -> r.expect(UART, 1));
        var r2 = reader(s).register(ALL);
        r2.expect(UART, 0);
        fails("section 'all': unexpected section (instance 3) where the stream should end", r2::finish);
    }

    @Test
    void decodingAsTheWrongDescriptionIsRefused() {
        var r = reader(twoSections()).register(UART);
        Section s = r.next().orElseThrow();
        fails("section 'serial16550': cannot be loaded as 'all'", () -> s.decode(ALL));
    }

    @Test
    void ioErrorsBecomeVmStateExceptions() {
        byte[] s = twoSections();
        InputStream failing = new InputStream() {
            int pos;

            @Override
            public int read() throws IOException {
                if (pos >= 30) throw new IOException("connection reset");
                return s[pos++] & 0xFF;
            }
        };
        var e = fails("I/O error in section 'serial16550': connection reset", () -> new StateStreamReader(failing).expect(UART, 0));
        assertTrue(e.getCause() instanceof IOException);
    }

    @Test
    void writerRefusesInvalidValuesWithoutWritingThem() throws IOException {
        var out = new java.io.ByteArrayOutputStream();
        var w = new StateStreamWriter(out);
        long before = w.bytesWritten();
        var e = assertThrows(VmStateException.class, () -> w.section(UART, 0, new Uart(1, 0, 0x10, false, new byte[0])));
        assertEquals("section 'serial16550' field 'ier': value 16 is out of range 0..15", e.getMessage());
        assertEquals(before, w.bytesWritten());
        w.section(UART, 0, Samples.uart());
        w.finish();
        assertEquals(out.size(), w.bytesWritten());
        reader(out.toByteArray()).expect(UART, 0);
        assertThrows(IllegalStateException.class, () -> w.section(UART, 1, Samples.uart()));
        var w2 = new StateStreamWriter(new java.io.ByteArrayOutputStream());
        assertThrows(IllegalArgumentException.class, () -> w2.rawSection("no spaces", 0, 1, new byte[0]));
    }

    @Test
    void theReaderStopsAtTheEndOfTheStream() throws IOException {
        byte[] s = twoSections();
        byte[] withTrailer = Arrays.copyOf(s, s.length + 3);
        var in = new ByteArrayInputStream(withTrailer);
        var r = new StateStreamReader(in);
        r.expect(UART, 0);
        r.expect(ALL, 3);
        r.finish();
        assertEquals(3, in.available(), "bytes after the checksum belong to the caller");
    }
}
