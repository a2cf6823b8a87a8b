package dev.molt.migration.channel;

import dev.molt.migration.vmstate.PayloadWriter;
import dev.molt.migration.vmstate.RamLayoutState;
import dev.molt.migration.vmstate.RamPageSink;
import dev.molt.migration.vmstate.StateStreamReader;
import dev.molt.migration.vmstate.StateStreamWriter;
import dev.molt.migration.vmstate.VmStateException;
import dev.molt.sys.Fd;
import dev.molt.sys.IoVec;
import dev.molt.sys.NativeSink;
import dev.molt.sys.NativeSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.BufferedOutputStream;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * RAM pages between native memory and a channel's descriptor without the Java heap: gather writes
 * (sendmsg/writev) of record headers and guest pages, read(2) straight into native memory, over real
 * socket pairs and pipes; the bytes are those of the heap path, batches split where they should,
 * short reads and writes resume where they stopped, and a bad record leaves RAM untouched.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class NativeRamPathTest {
    private static final int PAGE = RamLayoutState.PAGE_SIZE;
    /** 600 pages: more than two 256-page batches, the last one partial. */
    private static final int PAGES = 600;
    private static final RamLayoutState LAYOUT = new RamLayoutState(List.of(new RamLayoutState.Block("ram0", (long) PAGES * PAGE,
            List.of(new RamLayoutState.Range(0, (long) PAGES * PAGE, 0)))));

    private final Arena arena = Arena.ofAuto();

    /** Guest RAM: every third page zero, the others a pattern that differs per page and per round. */
    private MemorySegment guest(int round) {
        MemorySegment ram = arena.allocate((long) PAGES * PAGE, 4096);
        for (int p = 0; p < PAGES; p++) {
            if (p % 3 == 0) continue;
            for (int i = 0; i < PAGE; i += 4) ram.set(JAVA_INT, (long) p * PAGE + i, p * 7919 + i + round * 1_000_003);
        }
        return ram;
    }

    /**
     * The stream a live migration writes: every page copied (the guest runs), an end of pass, then,
     * "stopped", a second pass of the odd pages in place, and a device section.
     */
    private static void writeStream(StateStreamWriter w, MemorySegment first, MemorySegment second) throws IOException {
        w.ramLayout(LAYOUT);
        for (int p = 0; p < PAGES; p++) w.page(0, (long) p * PAGE, first.asSlice((long) p * PAGE, PAGE));
        w.endOfPass();
        w.pagesInPlace(true);
        for (int p = 1; p < PAGES; p += 2) w.page(0, (long) p * PAGE, second.asSlice((long) p * PAGE, PAGE));
        w.zeroPage(0, 2L * PAGE);
        w.endOfPass();
        w.rawSection("dev", 0, 1, new byte[] {1, 2, 3});
        w.finish();
    }

    private static byte[] heapStream(MemorySegment first, MemorySegment second) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        writeStream(new StateStreamWriter(bytes), first, second);
        return bytes.toByteArray();
    }

    /** What the receiving guest should hold after {@link #writeStream}. */
    private static byte[] expectedRam(MemorySegment first, MemorySegment second) {
        byte[] ram = first.toArray(JAVA_BYTE);
        for (int p = 1; p < PAGES; p += 2) MemorySegment.copy(second, JAVA_BYTE, (long) p * PAGE, ram, p * PAGE, PAGE);
        java.util.Arrays.fill(ram, 2 * PAGE, 3 * PAGE, (byte) 0);
        return ram;
    }

    private static CompletableFuture<Void> writeAsync(MigrationStream out, MemorySegment first, MemorySegment second) {
        return CompletableFuture.runAsync(() -> {
            try (out; OutputStream buffered = new BufferedOutputStream(out.output(), 1 << 16)) {
                assertInstanceOf(NativeSink.class, out.output());
                StateStreamWriter w = new StateStreamWriter(buffered, (NativeSink) out.output());
                writeStream(w, first, second);
                w.close();
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
    }

    @Test
    void gatherWritesOverASocketPairAreTheHeapPathsBytes() throws Exception {
        MemorySegment first = guest(1), second = guest(2);
        Fd[] sp = TestFds.socketPair();
        MigrationStream out = MigrationStream.ofFd(sp[0], "sp0");
        try (MigrationStream in = MigrationStream.ofFd(sp[1], "sp1")) {
            CompletableFuture<Void> sent = writeAsync(out, first, second);
            byte[] got = in.input().readAllBytes();
            sent.get(30, TimeUnit.SECONDS);
            assertArrayEquals(heapStream(first, second), got);
        }
    }

    @Test
    void pagesAcrossBatchesLandInRamReadStraightFromTheSocket() throws Exception {
        MemorySegment first = guest(1), second = guest(2);
        MemorySegment target = arena.allocate((long) PAGES * PAGE, 4096);
        target.fill((byte) 0x5a);
        Fd[] sp = TestFds.socketPair();
        MigrationStream out = MigrationStream.ofFd(sp[0], "sp0");
        try (MigrationStream in = MigrationStream.ofFd(sp[1], "sp1")) {
            CompletableFuture<Void> sent = writeAsync(out, first, second);
            assertInstanceOf(NativeSource.class, in.input());
            int[] passes = {0};
            RamPageSink into = RamPageSink.into(List.of(target));
            StateStreamReader r = new StateStreamReader(in.input()).acceptRam(LAYOUT, new RamPageSink() {
                @Override
                public void page(int block, long offset, MemorySegment data) {
                    into.page(block, offset, data);
                }

                @Override
                public void endOfPass() {
                    passes[0]++;
                }
            });
            r.registerRaw("dev", 1, 1);
            assertEquals("dev", r.next().orElseThrow().name());
            r.finish();
            sent.get(30, TimeUnit.SECONDS);
            assertEquals(2, passes[0]);
            assertArrayEquals(expectedRam(first, second), target.toArray(JAVA_BYTE));
            assertEquals(heapStream(first, second).length, r.bytesRead());
        }
    }

    /** An input that hands out at most 7 bytes a call, both ways: RAM still arrives whole. */
    @Test
    void shortReadsResumeWhereTheyStopped() throws Exception {
        MemorySegment first = guest(3), second = guest(4);
        byte[] stream = heapStream(first, second);
        class Trickle extends InputStream implements NativeSource {
            final ByteArrayInputStream bytes = new ByteArrayInputStream(stream);
            int calls;

            @Override
            public int read() {
                return bytes.read();
            }

            @Override
            public long readNative(MemorySegment into) {
                calls++;
                byte[] b = new byte[(int) Math.min(7, into.byteSize())];
                int n = bytes.read(b, 0, b.length);
                if (n > 0) MemorySegment.copy(b, 0, into, JAVA_BYTE, 0, n);
                return n;
            }
        }
        Trickle trickle = new Trickle();
        MemorySegment target = arena.allocate((long) PAGES * PAGE, 4096);
        StateStreamReader r = new StateStreamReader(trickle).acceptRam(LAYOUT, RamPageSink.into(List.of(target)));
        r.registerRaw("dev", 1, 1);
        r.next().orElseThrow();
        r.finish();
        assertTrue(trickle.calls > stream.length / 7, "read in 7-byte steps");
        assertArrayEquals(expectedRam(first, second), target.toArray(JAVA_BYTE));
    }

    /** A "ram" section from an untrusted source: two records, the second one bad. */
    private static byte[] streamWithBadRecord(long secondOffset, int secondDataBytes) throws IOException {
        PayloadWriter p = new PayloadWriter();
        byte[] page = new byte[PAGE];
        java.util.Arrays.fill(page, (byte) 0xaa);
        p.u8(0x02).u32(0).u64(0).bytes(page);
        p.u8(0x02).u32(0).u64(secondOffset).bytes(java.util.Arrays.copyOf(page, secondDataBytes));
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        StateStreamWriter w = new StateStreamWriter(bytes);
        w.ramLayout(LAYOUT);
        w.rawSection("ram", 0, 1, p.toByteArray());
        w.finish();
        return bytes.toByteArray();
    }

    private VmStateException refusedOverAPipe(byte[] stream, MemorySegment target) throws Exception {
        Fd[] pipe = TestFds.pipe();
        MigrationStream out = FdStream.of(pipe[1], "pipe-w", false, true);
        try (MigrationStream in = FdStream.of(pipe[0], "pipe-r", true, false)) {
            CompletableFuture<Void> sent = CompletableFuture.runAsync(() -> {
                try (out) {
                    out.output().write(stream);
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            VmStateException e = assertThrows(VmStateException.class,
                    () -> new StateStreamReader(in.input()).acceptRam(LAYOUT, RamPageSink.into(List.of(target))).finish());
            sent.get(30, TimeUnit.SECONDS);
            return e;
        }
    }

    @Test
    void aPageOutsideRamIsRefusedBeforeAnyPageOfItsSectionIsWritten() throws Exception {
        MemorySegment target = arena.allocate((long) PAGES * PAGE, 4096);
        target.fill((byte) 0x5a);
        byte[] before = target.toArray(JAVA_BYTE);
        VmStateException e = refusedOverAPipe(streamWithBadRecord((long) PAGES * PAGE, PAGE), target);
        assertTrue(e.getMessage().contains("page[1].offset") && e.getMessage().contains("is outside block 'ram0'"), e.getMessage());
        assertArrayEquals(before, target.toArray(JAVA_BYTE), "the first, valid page of the section was not written either");
    }

    @Test
    void aMisalignedPageAndAShortPageAreRefusedWithoutTouchingRam() throws Exception {
        MemorySegment target = arena.allocate((long) PAGES * PAGE, 4096);
        target.fill((byte) 0x5a);
        byte[] before = target.toArray(JAVA_BYTE);
        VmStateException misaligned = refusedOverAPipe(streamWithBadRecord(PAGE + 8, PAGE), target);
        assertTrue(misaligned.getMessage().contains("not a multiple of the page size"), misaligned.getMessage());
        VmStateException shortPage = refusedOverAPipe(streamWithBadRecord(PAGE, 100), target);
        assertTrue(shortPage.getMessage().contains("page[1].data"), shortPage.getMessage());
        assertArrayEquals(before, target.toArray(JAVA_BYTE));
    }

    /** Short writes: a slow reader makes sendmsg and writev return early, mid-entry; nothing is lost or repeated. */
    @Test
    void shortGatherWritesResumeMidEntry() throws Exception {
        MemorySegment data = guest(5);
        for (boolean socket : new boolean[] {true, false}) {
            Fd[] fds = socket ? TestFds.socketPair() : TestFds.pipe();
            MigrationStream out = socket ? MigrationStream.ofFd(fds[0], "w") : FdStream.of(fds[1], "w", false, true);
            try (MigrationStream in = socket ? MigrationStream.ofFd(fds[1], "r") : FdStream.of(fds[0], "r", true, false)) {
                // Entries of odd sizes (13-byte headers between pages, as a batch has them), 2.4 MiB in all:
                // more than a socket's or a pipe's buffer, so the kernel takes each call's bytes in parts.
                ByteArrayOutputStream expected = new ByteArrayOutputStream();
                CompletableFuture<Void> sent = CompletableFuture.runAsync(() -> {
                    try (out; IoVec iov = new IoVec(2 * PAGES)) {
                        for (int p = 0; p < PAGES; p++) {
                            MemorySegment s = data.asSlice((long) p * PAGE + p % 17, p % 2 == 0 ? 13 : PAGE - p % 17);
                            iov.add(s);
                            expected.write(s.toArray(JAVA_BYTE));
                        }
                        ((NativeSink) out.output()).writeNative(iov);
                        assertEquals(0, iov.bytes());
                    } catch (IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                });
                ByteArrayOutputStream got = new ByteArrayOutputStream();
                byte[] small = new byte[1000];
                for (int n; (n = in.input().read(small)) > 0; ) {
                    got.write(small, 0, n);
                    if (got.size() % 7 == 0) Thread.sleep(1);
                }
                sent.get(30, TimeUnit.SECONDS);
                assertArrayEquals(expected.toByteArray(), got.toByteArray(), socket ? "socket" : "pipe");
            }
        }
    }

    @Test
    void advanceDropsWholeEntriesAndMovesIntoAPartialOne() {
        MemorySegment a = arena.allocate(10), b = arena.allocate(20), c = arena.allocate(30);
        try (IoVec iov = new IoVec(4)) {
            iov.add(a);
            iov.add(b);
            iov.add(c);
            assertEquals(60, iov.bytes());
            iov.advance(15); // a, and 5 bytes of b
            assertEquals(2, iov.count());
            assertEquals(45, iov.bytes());
            iov.advance(15); // the rest of b, exactly
            assertEquals(1, iov.count());
            iov.advance(30);
            assertEquals(0, iov.count());
            assertThrows(IllegalArgumentException.class, () -> iov.advance(1));
        }
    }

    @Test
    void aCancelledChannelRefusesGatherWritesAndNativeReads() throws Exception {
        Fd[] sp = TestFds.socketPair();
        try (MigrationStream a = MigrationStream.ofFd(sp[0], "a"); MigrationStream b = MigrationStream.ofFd(sp[1], "b");
             IoVec iov = new IoVec(1)) {
            a.abort();
            iov.add(arena.allocate(PAGE));
            IOException w = assertThrows(IOException.class, () -> ((NativeSink) a.output()).writeNative(iov));
            assertTrue(w.getMessage().contains("cancelled"), w.getMessage());
            IOException r = assertThrows(IOException.class, () -> ((NativeSource) a.input()).readNative(arena.allocate(16)));
            assertTrue(r.getMessage().contains("cancelled"), r.getMessage());
            assertEquals(-1, ((NativeSource) b.input()).readNative(arena.allocate(16)), "the peer sees the end");
        }
    }
}
