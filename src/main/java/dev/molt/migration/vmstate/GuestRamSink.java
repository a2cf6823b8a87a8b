package dev.molt.migration.vmstate;

import dev.molt.memory.GuestRam;
import dev.molt.memory.UntouchedPages;

import java.lang.foreign.MemorySegment;

/**
 * Copies pages into a machine's RAM (its single block, as {@link RamLayoutState#of} lays it out).
 * A zero page lands on a page the host never populated (a fresh destination's RAM, nearly all of
 * it) without that page being read or written: reading it would make the host allocate it
 * ({@link UntouchedPages}). Which pages are untouched is asked 2 MiB at a time and remembered for
 * that stretch, which stays true because during a load this sink is the only writer of the
 * guest's RAM and it forgets a page it writes.
 */
public final class GuestRamSink implements RamPageSink, AutoCloseable {
    private static final int PAGE = RamLayoutState.PAGE_SIZE;
    private static final int CHUNK_PAGES = 512;

    private final MemorySegment host;
    private final UntouchedPages untouched;
    private final long[] bits = new long[CHUNK_PAGES / 64];
    private long cachedChunk = -1;

    GuestRamSink(GuestRam ram) {
        this.host = ram.block().host();
        this.untouched = UntouchedPages.of(ram.block());
    }

    @Override
    public void page(int block, long offset, MemorySegment data) {
        if (block != 0) throw new IllegalArgumentException("block " + block + ": a machine's RAM is one block");
        long chunk = offset / ((long) CHUNK_PAGES * PAGE);
        int index = (int) (offset / PAGE % CHUNK_PAGES);
        if (data != null) {
            MemorySegment.copy(data, 0, host, offset, PAGE);
            if (chunk == cachedChunk) bits[index >>> 6] &= ~(1L << index);
            return;
        }
        if (chunk != cachedChunk) {
            long start = chunk * CHUNK_PAGES * PAGE;
            untouched.find(start, (int) Math.min(CHUNK_PAGES, (host.byteSize() - start) / PAGE), bits);
            cachedChunk = chunk;
        }
        if ((bits[index >>> 6] & (1L << index)) != 0) return; // never populated: zeros already
        // Only clear pages that hold something: writing zeros over a page that reads as zeros would
        // make the host allocate it (QEMU skips them the same way).
        MemorySegment page = host.asSlice(offset, PAGE); // sliced only here: a fresh destination's zero pages mostly return above
        if (page.mismatch(RamPages.ZERO_PAGE) != -1) page.fill((byte) 0);
    }

    @Override
    public void close() {
        untouched.close();
    }
}
