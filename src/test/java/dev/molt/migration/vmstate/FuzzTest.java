package dev.molt.migration.vmstate;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.lang.foreign.MemorySegment;
import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;

import static dev.molt.migration.vmstate.RamLayoutState.Block;
import static dev.molt.migration.vmstate.RamLayoutState.Range;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Hostile input: random bytes, and mutations and truncations of a valid stream with several
 * sections and RAM pages. Every input must end in success or a VmStateException, in bounded time
 * and memory, and no page may be written outside the RAM layout.
 */
class FuzzTest {
    static final int PAGE = RamLayoutState.PAGE_SIZE;
    static final RamLayoutState LAYOUT = new RamLayoutState(List.of(
            new Block("ram0", 0x10000, List.of(new Range(0, 0x10000, 0))),
            new Block("ram1", 0x4000, List.of(new Range(0x100000, 0x4000, 0)))));
    static final StreamLimits LIMITS = new StreamLimits(64 << 20);
    /** Per input: the stream is ~20 KiB, so anything near this means a length was trusted. */
    static final long MAX_ALLOCATION = 4L << 20;

    static final com.sun.management.ThreadMXBean THREADS = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

    /** Checks every write against the layout instead of trusting the reader. */
    static final class Guard implements RamPageSink {
        final List<String> violations = new ArrayList<>();
        int pages;

        @Override
        public void page(int block, long offset, MemorySegment data) {
            pages++;
            if (block < 0 || block >= LAYOUT.blocks().size()) {
                violations.add("block " + block);
            } else if (offset < 0 || offset % PAGE != 0 || offset + PAGE > LAYOUT.blocks().get(block).size()) {
                violations.add("block " + block + " offset " + offset);
            } else if (data != null && data.byteSize() != PAGE) {
                violations.add("page of " + data.byteSize() + " bytes");
            }
        }
    }

    static byte[] validStream() {
        return Samples.stream(w -> {
            w.ramLayout(LAYOUT);
            Random r = new Random(7);
            for (int i = 0; i < 4; i++) {
                byte[] p = new byte[PAGE];
                r.nextBytes(p);
                w.page(i % 2, (long) i * PAGE, MemorySegment.ofArray(p));
            }
            w.zeroPage(0, 0x8000);
            w.endOfPass();
            w.section(Samples.UART, 0, Samples.uart());
            w.section(Samples.ALL, 1, Samples.all());
            w.section(SubsectionTest.DEV, 0, new SubsectionTest.Dev(3, new SubsectionTest.Ext(9, "n")));
            w.section(SubsectionTest.DEV, 1, new SubsectionTest.Dev(4, null));
            w.rawSection("blob", 0, 1, new byte[] {1, 2, 3});
            w.page(1, 0x3000, MemorySegment.ofArray(new byte[PAGE]));
            w.endOfPass();
            w.finish();
        });
    }

    /** Loads everything in the stream; returns normally or throws VmStateException. */
    static void load(byte[] input, Guard guard) {
        var r = new StateStreamReader(new ByteArrayInputStream(input), LIMITS)
                .acceptRam(LAYOUT, guard)
                .register(Samples.UART, Samples.ALL, SubsectionTest.DEV)
                .registerRaw("blob", 1, 1);
        for (Section s; (s = r.next().orElse(null)) != null; ) {
            switch (s.name()) {
                case "serial16550" -> s.decode(Samples.UART);
                case "all" -> s.decode(Samples.ALL);
                case "dev" -> s.decode(SubsectionTest.DEV);
                case "blob" -> s.payload().bytes("data", s.payloadSize());
                default -> throw new AssertionError(s.name());
            }
        }
        r.finish();
    }

    /** Runs one input; returns true if it loaded, false if it was refused properly. */
    static boolean survive(byte[] input, String what) {
        Guard guard = new Guard();
        long before = THREADS.getCurrentThreadAllocatedBytes();
        boolean ok;
        try {
            load(input, guard);
            ok = true;
        } catch (VmStateException e) {
            ok = false;
            if (e.getMessage() == null || e.getMessage().isEmpty()) fail(what + ": empty message");
        } catch (Throwable t) {
            throw new AssertionError(what + ": " + t + " for input " + HexFormat.of().formatHex(input, 0, Math.min(input.length, 200)), t);
        }
        long allocated = THREADS.getCurrentThreadAllocatedBytes() - before;
        if (allocated > MAX_ALLOCATION) fail(what + ": allocated " + allocated + " bytes");
        if (!guard.violations.isEmpty()) fail(what + ": wrote outside the layout: " + guard.violations);
        return ok;
    }

    @Test
    void theValidStreamLoads() {
        byte[] s = validStream();
        Guard g = new Guard();
        load(s, g);
        assertEquals(6, g.pages);
        assertTrue(survive(s, "valid"));
    }

    @Test
    void randomBytes() {
        assertTimeoutPreemptively(Duration.ofSeconds(20), () -> {
            Random rnd = new Random(0x5EED);
            byte[] header = Arrays.copyOf(validStream(), 12);
            for (int i = 0; i < 6000; i++) {
                byte[] b = new byte[rnd.nextInt(400)];
                rnd.nextBytes(b);
                // Two thirds start with a valid header, so the section parser gets random input too;
                // some of those also get a plausible section record type and a known name.
                if (i % 3 != 0 && b.length >= 12) System.arraycopy(header, 0, b, 0, 12);
                if (i % 3 == 2 && b.length >= 40) {
                    b[12] = 1;
                    byte[] name = List.of("serial16550", "all", "dev", "ram", "ram-layout", "blob").get(rnd.nextInt(6)).getBytes();
                    b[13] = (byte) name.length;
                    System.arraycopy(name, 0, b, 14, name.length);
                }
                assertTrue(!survive(b, "random input " + i), "random input " + i + " loaded");
            }
        });
    }

    @Test
    void mutationsAndTruncationsOfAValidStream() {
        byte[] valid = validStream();
        assertTimeoutPreemptively(Duration.ofSeconds(20), () -> {
            Random rnd = new Random(0xC0FFEE);
            for (int i = 0; i < 3000; i++) {
                byte[] b = valid.clone();
                int at = rnd.nextInt(b.length);
                b[at] = (byte) (rnd.nextBoolean() ? rnd.nextInt(256) : b[at] ^ (1 << rnd.nextInt(8)));
                mustRefuse(valid, b, "single-byte mutation at " + at);
            }
            for (int i = 0; i < 1500; i++) {
                byte[] b = valid.clone();
                int n = 2 + rnd.nextInt(8);
                int start = rnd.nextInt(b.length);
                for (int k = 0; k < n; k++) {
                    // Mostly clustered (a corrupted length field), sometimes scattered.
                    int at = rnd.nextBoolean() ? Math.min(b.length - 1, start + k) : rnd.nextInt(b.length);
                    b[at] = (byte) rnd.nextInt(256);
                }
                mustRefuse(valid, b, "multi-byte mutation " + i);
            }
            for (int i = 0; i < 600; i++) {
                byte[] b = valid.clone();
                int at = rnd.nextInt(b.length);
                byte[] interesting = {0, (byte) 0xFF, 0x7F, (byte) 0x80, 1};
                // Lengths and counts set to extremes: the bytes that would make a naive loader allocate.
                for (int k = 0; k < 4 && at + k < b.length; k++) b[at + k] = interesting[rnd.nextInt(interesting.length)];
                mustRefuse(valid, b, "extreme bytes at " + at);
            }
            // Every truncation in the framing-heavy parts, a sample of the rest.
            List<Integer> cuts = new ArrayList<>();
            for (int n = 0; n < 300; n++) cuts.add(n);
            for (int n = valid.length - 300; n < valid.length; n++) cuts.add(n);
            for (int n = 0; n < 700; n++) cuts.add(rnd.nextInt(valid.length));
            for (int cut : cuts) {
                mustRefuse(valid, Arrays.copyOf(valid, cut), "truncation at " + cut);
            }
            for (int i = 0; i < 300; i++) {
                // Bytes inserted or removed: everything after shifts, as with a lost or duplicated write.
                int at = rnd.nextInt(valid.length);
                int n = 1 + rnd.nextInt(16);
                byte[] b = rnd.nextBoolean()
                        ? concat(Arrays.copyOf(valid, at), randomBytes(rnd, n), Arrays.copyOfRange(valid, at, valid.length))
                        : concat(Arrays.copyOf(valid, at), Arrays.copyOfRange(valid, Math.min(valid.length, at + n), valid.length));
                mustRefuse(valid, b, "shift at " + at);
            }
        });
    }

    /** The checksum makes every change detectable: a changed stream must not load. */
    static void mustRefuse(byte[] valid, byte[] changed, String what) {
        if (survive(changed, what) && !Arrays.equals(valid, changed)) fail(what + ": a corrupted stream loaded");
    }

    static byte[] randomBytes(Random rnd, int n) {
        byte[] b = new byte[n];
        rnd.nextBytes(b);
        return b;
    }

    static byte[] concat(byte[]... parts) {
        int n = 0;
        for (byte[] p : parts) n += p.length;
        byte[] out = new byte[n];
        int at = 0;
        for (byte[] p : parts) {
            System.arraycopy(p, 0, out, at, p.length);
            at += p.length;
        }
        return out;
    }
}
