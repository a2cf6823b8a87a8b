package dev.molt.migration.vmstate;

import java.lang.foreign.MemorySegment;

/**
 * The page-record codec for "ram" sections. A RAM section's payload is a sequence of records:
 * <pre>
 *   u8 flags = ZERO (0x01)        u32 block index, u64 offset                 a page of zeros
 *   u8 flags = DATA (0x02)        u32 block index, u64 offset, 4096 bytes     a page
 *   u8 flags = END_OF_PASS (0x04)                                             a pass over RAM ended
 * </pre>
 * The reader checks a whole section's records against the RAM layout before it hands any of
 * them to the sink: a corrupt record anywhere in the batch means no page of it is written.
 */
public final class RamPages {
    public static final String SECTION = "ram";
    public static final int VERSION = 1;
    public static final int ZERO = 0x01;
    public static final int DATA = 0x02;
    public static final int END_OF_PASS = 0x04;
    /** Pages per section molt's writer batches (a section of about 1 MiB). */
    public static final int MAX_BATCH_PAGES = 256;

    static final MemorySegment ZERO_PAGE = MemorySegment.ofArray(new byte[RamLayoutState.PAGE_SIZE]).asReadOnly();
    /** flags + block + offset. */
    static final int RECORD_HEADER_BYTES = 1 + 4 + 8;

    private RamPages() {}

    static boolean isZero(MemorySegment page) {
        return page.mismatch(ZERO_PAGE) == -1;
    }

    /** The checks a page record passes on both sides, before any byte of it is written. */
    /** Whether a page at {@code offset} of block {@code block} lies inside the layout (what {@link #check} enforces). */
    static boolean inLayout(RamLayoutState layout, long block, long offset) {
        return block >= 0 && block < layout.blocks().size() && offset % RamLayoutState.PAGE_SIZE == 0
                && Long.compareUnsigned(offset, layout.blocks().get((int) block).size() - RamLayoutState.PAGE_SIZE) <= 0;
    }

    static void check(RamLayoutState layout, long block, long offset, Where w) {
        if (block < 0 || block >= layout.blocks().size()) {
            throw w.field("block").error("block index " + Long.toUnsignedString(block) + " does not exist (the layout has "
                    + layout.blocks().size() + " blocks)");
        }
        if (offset % RamLayoutState.PAGE_SIZE != 0) {
            throw w.field("offset").error(String.format("offset 0x%x is not a multiple of the page size %d", offset, RamLayoutState.PAGE_SIZE));
        }
        RamLayoutState.Block b = layout.blocks().get((int) block);
        if (Long.compareUnsigned(offset, b.size() - RamLayoutState.PAGE_SIZE) > 0) {
            throw w.field("offset").error(String.format("offset 0x%x is outside block '%s' (size 0x%x)", offset, b.name(), b.size()));
        }
    }

    /**
     * Checks every record of a "ram" payload, then applies them in order. Two passes over the bytes
     * instead of a list of checked records: the first proves the whole section against the layout
     * (nothing is written if any record is bad), the second reads the records again, known good, and
     * hands them to the sink. A 1 GiB guest is 262,144 records, and an object for each (and a slice
     * per page) kept the receiver behind the sender: the backlog it had to work off after the last
     * section counted in the guest's pause.
     */
    static void apply(PayloadReader in, RamLayoutState layout, RamPageSink sink) {
        Where section = Where.section(in.section());
        int start = in.position();
        int records = check(in, layout, section);
        in.position(start);
        for (int i = 0; i < records; i++) {
            int flags = in.u8(null);
            try {
                if (flags == END_OF_PASS) {
                    sink.endOfPass();
                    continue;
                }
                int block = (int) in.u32(null);
                long offset = in.u64(null);
                sink.page(block, offset, flags == ZERO ? null : in.segment(null, RamLayoutState.PAGE_SIZE));
            } catch (VmStateException e) {
                throw e;
            } catch (RuntimeException e) {
                throw section.field("page").element(i).error("applying the page failed: " + e, e);
            }
        }
    }

    /** Reads every record of the payload, refusing the first bad one by name; returns how many there are. */
    private static int check(PayloadReader in, RamLayoutState layout, Where section) {
        int records = 0;
        while (in.remaining() > 0) {
            // Fast path for a whole, well-formed record: no field names are built. Anything short or
            // out of place is read again the slow way, which names it.
            int start = in.position();
            if (in.remaining() >= RECORD_HEADER_BYTES) {
                int flags = in.u8(null);
                if (flags == ZERO || flags == DATA) {
                    long block = in.u32(null), offset = in.u64(null);
                    if (inLayout(layout, block, offset) && (flags == ZERO || in.remaining() >= RamLayoutState.PAGE_SIZE)) {
                        if (flags == DATA) in.position(in.position() + RamLayoutState.PAGE_SIZE);
                        records++;
                        continue;
                    }
                }
                in.position(start);
            }
            Where w = section.field("page").element(records);
            int flags = in.u8(w.field("flags").fieldOrNull());
            switch (flags) {
                case ZERO, DATA -> {
                    long block = in.u32(w.field("block").fieldOrNull());
                    long offset = in.u64(w.field("offset").fieldOrNull());
                    check(layout, block, offset, w);
                    if (flags == DATA) in.segment(w.field("data").fieldOrNull(), RamLayoutState.PAGE_SIZE);
                }
                case END_OF_PASS -> { }
                default -> throw w.field("flags").error(String.format(
                        "bad flags 0x%02x (expected ZERO 0x01, DATA 0x02 or END_OF_PASS 0x04)", flags));
            }
            records++;
        }
        return records;
    }

    /** The writer's side: page records collected into one section payload. */
    static final class Batch {
        private final PayloadWriter out = new PayloadWriter(MAX_BATCH_PAGES * (RECORD_HEADER_BYTES + RamLayoutState.PAGE_SIZE) + 16);
        private int records;
        private int pages;

        void page(RamLayoutState layout, int block, long offset, MemorySegment data) {
            // The position is named only for an error: built for every page, its strings cost more than the page's
            // zero check (a 1 GiB guest is 262,144 of them).
            if (!inLayout(layout, Integer.toUnsignedLong(block), offset)) {
                check(layout, Integer.toUnsignedLong(block), offset, Where.section(SECTION).field("page").element(records));
            }
            if (data != null && data.byteSize() != RamLayoutState.PAGE_SIZE) {
                throw new IllegalArgumentException("a page is " + RamLayoutState.PAGE_SIZE + " bytes, not " + data.byteSize());
            }
            boolean zero = data == null || isZero(data);
            out.u8(zero ? ZERO : DATA).u32(Integer.toUnsignedLong(block)).u64(offset);
            if (!zero) out.segment(data);
            records++;
            pages++;
        }

        void endOfPass() {
            out.u8(END_OF_PASS);
            records++;
        }

        boolean full() {
            return pages >= MAX_BATCH_PAGES;
        }

        boolean isEmpty() {
            return records == 0;
        }

        PayloadWriter payload() {
            return out;
        }

        void clear() {
            out.reset();
            records = 0;
            pages = 0;
        }
    }
}
