package dev.molt.migration.vmstate;

import dev.molt.sys.NativeSource;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.function.Function;

import static dev.molt.migration.vmstate.Samples.ALL;
import static dev.molt.migration.vmstate.Samples.UART;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * The reader's two inputs (StreamInput.Native for descriptor-backed channels, StreamInput.Heap for
 * any other stream, the CPR state's) read the same bytes alike: the same sections, byte count and
 * checksum, and the same error at the same place when the stream is cut short.
 */
class StreamInputTest {
    /** A NativeSource over bytes, handing out at most {@code chunk} bytes per read, as a socket may. */
    static final class ChunkedSource extends InputStream implements NativeSource {
        private final byte[] bytes;
        private final int chunk;
        private int at;

        ChunkedSource(byte[] bytes, int chunk) {
            this.bytes = bytes;
            this.chunk = chunk;
        }

        @Override
        public long readNative(MemorySegment into) {
            if (at == bytes.length) return -1;
            int n = (int) Math.min(Math.min(into.byteSize(), chunk), bytes.length - at);
            MemorySegment.copy(bytes, at, into, JAVA_BYTE, 0, n);
            at += n;
            return n;
        }

        @Override
        public int read() {
            throw new AssertionError("a NativeSource is read natively");
        }
    }

    /** A stream whose raw section (300 KiB) is larger than the inputs' first buffer, between two small ones. */
    static byte[] stream() {
        byte[] big = new byte[300 << 10];
        new Random(7).nextBytes(big);
        return Samples.stream(w -> {
            w.section(UART, 0, Samples.uart());
            w.rawSection("blob", 1, 1, big);
            w.section(ALL, 3, Samples.all());
            w.finish();
        });
    }

    /** Everything read, as bytes: each section's name, instance and encoding, then the count and checksum. */
    static List<String> read(InputStream in) {
        var r = new StateStreamReader(in).register(UART, ALL).registerRaw("blob", 1, 1);
        List<String> out = new ArrayList<>();
        for (Section s; (s = r.next().orElse(null)) != null; ) {
            byte[] body = switch (s.name()) {
                case "serial16550" -> UART.encode(s.decode(UART));
                case "all" -> ALL.encode(s.decode(ALL));
                default -> s.payload().bytes("blob", s.payloadSize());
            };
            out.add(s.name() + "/" + s.instanceId() + "/" + Arrays.hashCode(body) + "/" + body.length);
        }
        r.finish();
        out.add(r.bytesRead() + " bytes, crc " + r.checksum());
        return out;
    }

    static final List<Function<byte[], InputStream>> INPUTS = List.of(
            ByteArrayInputStream::new,
            b -> new ChunkedSource(b, 7),
            b -> new ChunkedSource(b, 1 << 20));

    @Test
    void bothInputsReadTheSameSectionsCountAndChecksum() {
        byte[] s = stream();
        List<String> heap = read(new ByteArrayInputStream(s));
        assertEquals(4, heap.size());
        assertEquals(s.length + " bytes, crc " + storedChecksum(s), heap.getLast());
        for (var input : INPUTS) assertEquals(heap, read(input.apply(s)));
    }

    @Test
    void aStreamCutShortFailsAtTheSamePlaceWhicheverTheInput() {
        byte[] s = stream();
        for (int cut = 0; cut < s.length; cut += cut < 200 ? 1 : 4099) {
            byte[] shorter = Arrays.copyOf(s, cut);
            String expected = assertThrows(VmStateException.class, () -> read(new ByteArrayInputStream(shorter))).getMessage();
            for (var input : INPUTS) {
                assertEquals(expected, assertThrows(VmStateException.class, () -> read(input.apply(shorter))).getMessage(), "cut at " + cut);
            }
        }
    }

    @Test
    void theHeapInputReadsNoByteBeyondTheStream() throws Exception {
        byte[] s = stream();
        byte[] withMore = Arrays.copyOf(s, s.length + 3);
        withMore[s.length] = 'X';
        var in = new ByteArrayInputStream(withMore);
        read(in);
        assertEquals('X', in.read(), "what follows the stream is left to its caller");
    }

    /** The stream's CRC32C: over all but its last four bytes, which hold it. */
    static long storedChecksum(byte[] stream) {
        var crc = new java.util.zip.CRC32C();
        crc.update(stream, 0, stream.length - 4);
        return crc.getValue();
    }

    @Test
    void theUartSampleSurvivesBothInputs() {
        byte[] s = Samples.stream(w -> {
            w.section(UART, 0, Samples.uart());
            w.finish();
        });
        for (var input : INPUTS) {
            var r = new StateStreamReader(input.apply(s));
            assertArrayEquals(Samples.uart().rxFifo(), r.expect(UART, 0).rxFifo());
            r.finish();
        }
    }
}
