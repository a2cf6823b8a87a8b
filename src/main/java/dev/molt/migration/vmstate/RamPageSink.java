package dev.molt.migration.vmstate;

import dev.molt.memory.GuestRam;

import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * Where a receiver's RAM pages go. The reader calls it only for records it has already checked
 * against the RAM layout both sides agreed on: {@code block} is an index into that layout,
 * {@code offset} is page-aligned and the whole page lies inside the block.
 */
@FunctionalInterface
public interface RamPageSink {
    /**
     * One page.
     *
     * @param data the page's {@value RamLayoutState#PAGE_SIZE} bytes (read-only, valid during the
     *             call only), or null for a page that is all zeros
     */
    void page(int block, long offset, MemorySegment data);

    /** The sender finished a pass over RAM (live migration sends several). */
    default void endOfPass() {}

    /** Copies pages into the blocks' host memory, {@code blocks.get(i)} being block i of the layout. */
    static RamPageSink into(List<MemorySegment> blocks) {
        List<MemorySegment> targets = List.copyOf(blocks);
        return (block, offset, data) -> {
            MemorySegment page = targets.get(block).asSlice(offset, RamLayoutState.PAGE_SIZE);
            if (data != null) {
                MemorySegment.copy(data, 0, page, 0, RamLayoutState.PAGE_SIZE);
            } else if (page.mismatch(RamPages.ZERO_PAGE) != -1) {
                // Only clear pages that hold something: writing zeros over a page never touched
                // would make the host allocate it (QEMU skips them the same way).
                page.fill((byte) 0);
            }
        };
    }

    /** Copies pages into a machine's RAM without touching the pages that stay zero: see {@link GuestRamSink}. */
    static GuestRamSink into(GuestRam ram) {
        return new GuestRamSink(ram);
    }
}
