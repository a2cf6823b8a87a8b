package dev.molt.migration;

import dev.molt.machine.Machine;
import dev.molt.machine.MachineControl;
import dev.molt.memory.GuestRegion;
import dev.molt.memory.UntouchedPages;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.function.BooleanSupplier;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The source side of precopy: a first pass over all of RAM, then passes over the pages KVM's dirty
 * log says the guest wrote since. Zero pages are sent as a flag, not as data; pages the host never
 * populated are known to be zero without being read ({@link UntouchedPages}).
 */
final class RamSender implements AutoCloseable {
    static final int PAGE = 4096;
    /** Pages asked about at once: a 2 MiB huge page's worth, one read of the kernel's page table per 512 pages. */
    private static final int CHUNK_PAGES = 512;
    private static final MemorySegment ZERO = Arena.global().allocate(PAGE);

    private final MachineControl machine;
    private final List<GuestRegion> regions;
    private final PageSink sink;
    private final RateLimiter limiter;
    private final MigrationStats stats;
    private final BooleanSupplier cancelled;
    private final Arena arena = Arena.ofShared();
    /**
     * Pages to send: what the syncs found and no pass has sent yet. Java arrays, not native memory:
     * under the launcher's C1-only JIT each native word access is a call, and the final pass's sync
     * and scan of a 4 GiB guest's 16,384 words took 2-5 ms of the pause that way; on arrays they take
     * tens of microseconds.
     */
    private final long[][] bitmaps;
    /** What one sync fetches (the kernel writes it: native memory), copied in bulk to {@link #fetchedWords}. */
    private final MemorySegment[] fetched;
    private final long[][] fetchedWords;
    private final UntouchedPages untouched;
    private final long[] untouchedBits = new long[CHUNK_PAGES / 64];

    RamSender(MachineControl machine, PageSink sink, RateLimiter limiter, MigrationStats stats, BooleanSupplier cancelled) {
        this.machine = machine;
        this.regions = machine.ram().memory().regions();
        this.sink = sink;
        this.limiter = limiter;
        this.stats = stats;
        this.cancelled = cancelled;
        this.bitmaps = new long[regions.size()][];
        this.fetched = new MemorySegment[regions.size()];
        this.fetchedWords = new long[regions.size()][];
        for (int i = 0; i < regions.size(); i++) {
            long bytes = Machine.dirtyBitmapBytes(regions.get(i).size());
            bitmaps[i] = new long[Math.toIntExact(bytes / 8)];
            fetchedWords[i] = new long[bitmaps[i].length];
            fetched[i] = arena.allocate(bytes, 8);
        }
        long total = 0;
        for (GuestRegion r : regions) total += r.size();
        stats.totalBytes = total;
        this.untouched = UntouchedPages.of(machine.ram().block());
    }

    /** Starts dirty tracking; call before the first pass so no write is missed. */
    void startTracking() {
        machine.setDirtyLogging(true);
        syncDirty(); // clears whatever KVM had collected before the first pass
        for (long[] b : bitmaps) java.util.Arrays.fill(b, 0);
    }

    void stopTracking() {
        try {
            machine.setDirtyLogging(false);
        } catch (IllegalStateException ignored) {
            // The VM is already gone (a reset or shutdown raced with the migration).
        }
    }

    /** Sends every page of RAM. */
    void sendAll() throws IOException, InterruptedException {
        stats.remainingPages = stats.totalBytes / PAGE;
        for (int r = 0; r < regions.size(); r++) {
            GuestRegion region = regions.get(r);
            MemorySegment host = region.host();
            for (long chunk = 0; chunk < host.byteSize(); chunk += (long) CHUNK_PAGES * PAGE) {
                int pages = (int) Math.min(CHUNK_PAGES, (host.byteSize() - chunk) / PAGE);
                untouched.find(region.blockOffset() + chunk, pages, untouchedBits);
                for (int i = 0; i < pages; i++) {
                    long off = chunk + (long) i * PAGE;
                    if ((untouchedBits[i >>> 6] & (1L << i)) != 0) sendZeroPage(r, off);
                    else sendPage(r, host, off);
                    stats.remainingPages--;
                }
            }
        }
        sink.endOfPass();
        stats.passes++;
    }

    /**
     * Fetches the dirty log for all regions and adds it to the pages still to send; returns how many
     * those are. Added, not replacing: precopy may end right after a sync without sending what it
     * found (the rest fits the downtime), and the switch-over's sync must not drop those pages
     * (a 3-page virtio-blk read during precopy was lost that way).
     */
    long syncDirty() {
        long dirty = 0;
        for (int r = 0; r < regions.size(); r++) {
            machine.fetchDirtyLog(r, fetched[r]);
            long[] b = bitmaps[r], f = fetchedWords[r];
            MemorySegment.copy(fetched[r], JAVA_LONG, 0, f, 0, f.length);
            for (int w = 0; w < b.length; w++) {
                long bits = b[w] | f[w];
                b[w] = bits;
                dirty += Long.bitCount(bits);
            }
        }
        stats.dirtySyncCount++;
        stats.remainingPages = dirty;
        return dirty;
    }

    /** Sends the pages marked in the bitmaps of the last sync. */
    void sendDirty() throws IOException, InterruptedException {
        for (int r = 0; r < regions.size(); r++) {
            MemorySegment host = regions.get(r).host();
            long[] bitmap = bitmaps[r];
            for (int w = 0; w < bitmap.length; w++) {
                long bits = bitmap[w];
                while (bits != 0) {
                    int bit = Long.numberOfTrailingZeros(bits);
                    bits &= bits - 1;
                    long off = ((long) w * 64 + bit) * PAGE;
                    if (off < host.byteSize()) sendPage(r, host, off);
                    stats.remainingPages--;
                }
            }
            java.util.Arrays.fill(bitmap, 0); // sent
        }
        sink.endOfPass();
        stats.passes++;
    }

    private void sendPage(int region, MemorySegment host, long off) throws IOException, InterruptedException {
        if (cancelled.getAsBoolean()) throw new InterruptedException("cancelled");
        MemorySegment page = host.asSlice(off, PAGE);
        if (MemorySegment.mismatch(page, 0, PAGE, ZERO, 0, PAGE) == -1) {
            sendZeroPage(region, off);
        } else {
            sink.dataPage(region, off, page);
            stats.normalPages++;
            stats.transferredBytes += PAGE + 16;
            limiter.consume(PAGE);
        }
    }

    /** A page known to be zero: a record, no data. */
    private void sendZeroPage(int region, long off) throws IOException, InterruptedException {
        if (cancelled.getAsBoolean()) throw new InterruptedException("cancelled");
        sink.zeroPage(region, off);
        stats.zeroPages++;
        stats.transferredBytes += 16;
    }

    @Override
    public void close() {
        stopTracking();
        untouched.close();
        arena.close();
    }
}
