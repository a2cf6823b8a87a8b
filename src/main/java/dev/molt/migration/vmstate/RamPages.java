package dev.molt.migration.vmstate;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

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
    static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

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
     *
     * <p>The payload is native memory as the receiver read it from the channel (or a heap array's
     * segment): each page the sink gets is a slice of it, copied once into guest RAM.
     */
    static void apply(String name, MemorySegment payload, RamLayoutState layout, RamPageSink sink) {
        Where section = Where.section(name);
        int records = check(name, payload, layout, section);
        long p = 0;
        for (int i = 0; i < records; i++) {
            int flags = payload.get(JAVA_BYTE, p) & 0xFF;
            try {
                if (flags == END_OF_PASS) {
                    p++;
                    sink.endOfPass();
                    continue;
                }
                int block = payload.get(U32, p + 1);
                long offset = payload.get(U64, p + 5);
                p += RECORD_HEADER_BYTES;
                MemorySegment data = null;
                if (flags == DATA) {
                    data = payload.asSlice(p, RamLayoutState.PAGE_SIZE);
                    p += RamLayoutState.PAGE_SIZE;
                }
                sink.page(block, offset, data);
            } catch (VmStateException e) {
                throw e;
            } catch (RuntimeException e) {
                throw section.field("page").element(i).error("applying the page failed: " + e, e);
            }
        }
    }

    /**
     * Reads every record of the payload, refusing the first bad one by name; returns how many there
     * are. Whole, well-formed records are read in place; anything else (END_OF_PASS, a short or bad
     * record) is read the slow way, from a heap copy of what is left, which names a problem.
     */
    private static int check(String name, MemorySegment payload, RamLayoutState layout, Where section) {
        int records = 0;
        long p = 0, size = payload.byteSize();
        while (p < size) {
            if (size - p >= RECORD_HEADER_BYTES) {
                int flags = payload.get(JAVA_BYTE, p) & 0xFF;
                if (flags == ZERO || flags == DATA) {
                    long block = Integer.toUnsignedLong(payload.get(U32, p + 1)), offset = payload.get(U64, p + 5);
                    long length = RECORD_HEADER_BYTES + (flags == DATA ? RamLayoutState.PAGE_SIZE : 0);
                    if (inLayout(layout, block, offset) && size - p >= length) {
                        p += length;
                        records++;
                        continue;
                    }
                }
            }
            int rest = (int) Math.min(size - p, RECORD_HEADER_BYTES + RamLayoutState.PAGE_SIZE);
            PayloadReader in = new PayloadReader(name, payload.asSlice(p, rest).toArray(JAVA_BYTE), 0, rest);
            checkRecord(in, layout, section.field("page").element(records));
            p += in.position();
            records++;
        }
        return records;
    }

    /** One record the slow way, naming its first problem. */
    private static void checkRecord(PayloadReader in, RamLayoutState layout, Where w) {
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
    }
}
