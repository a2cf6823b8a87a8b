package dev.molt.migration.vmstate;

import dev.molt.memory.GuestRam;
import dev.molt.memory.RamLayout;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Guest RAM as the stream describes it: the RAM blocks (name, size) and where each part of a block
 * sits in guest-physical memory. The sender puts it in a "ram-layout" section before any page; the
 * receiver compares it with its own ({@link #requireSameAs}) and checks every page record against
 * it, so a page can only land inside a block both sides agree on.
 *
 * @param pageSize the unit of page records: {@value #PAGE_SIZE} bytes
 * @param blocks   the RAM blocks, in the order page records number them (block index)
 */
public record RamLayoutState(int pageSize, List<Block> blocks) {
    public static final int PAGE_SIZE = 4096;
    public static final int MAX_BLOCKS = 64;
    public static final int MAX_RANGES = 64;
    public static final int MAX_NAME_BYTES = 255;
    public static final String SECTION = "ram-layout";

    /**
     * @param name   the block's name (QEMU's RAMBlock idstr: a backend id, "microvm.ram")
     * @param size   bytes, a multiple of the page size
     * @param ranges where the block is mapped in guest-physical memory
     */
    public record Block(String name, long size, List<Range> ranges) {
        public Block {
            if (name.isEmpty()) throw new IllegalArgumentException("a RAM block has an empty name");
            if (size <= 0 || size % PAGE_SIZE != 0) {
                throw new IllegalArgumentException("RAM block '" + name + "': size " + Long.toUnsignedString(size)
                        + " is not a positive multiple of " + PAGE_SIZE);
            }
            ranges = List.copyOf(ranges);
            for (Range r : ranges) {
                if (r.blockOffset() > size || r.length() > size - r.blockOffset()) {
                    throw new IllegalArgumentException(String.format("RAM block '%s': range at block offset 0x%x length 0x%x lies outside the block (size 0x%x)",
                            name, r.blockOffset(), r.length(), size));
                }
            }
        }
    }

    /** Guest-physical {@code [gpa, gpa+length)} is the block's {@code [blockOffset, blockOffset+length)}. */
    public record Range(long gpa, long length, long blockOffset) {
        public Range {
            if (gpa < 0 || length <= 0 || blockOffset < 0 || length > Long.MAX_VALUE - gpa) {
                throw new IllegalArgumentException(String.format("bad guest-physical range 0x%x+0x%x at block offset 0x%x",
                        gpa, length, blockOffset));
            }
            if ((gpa | length | blockOffset) % PAGE_SIZE != 0) {
                throw new IllegalArgumentException(String.format("guest-physical range 0x%x+0x%x at block offset 0x%x is not page-aligned",
                        gpa, length, blockOffset));
            }
        }
    }

    public RamLayoutState {
        if (pageSize != PAGE_SIZE) throw new IllegalArgumentException("page size " + pageSize + " is not " + PAGE_SIZE);
        blocks = List.copyOf(blocks);
        if (blocks.size() > MAX_BLOCKS) throw new IllegalArgumentException("more than " + MAX_BLOCKS + " RAM blocks");
        Set<String> names = new HashSet<>();
        for (Block b : blocks) {
            if (!names.add(b.name())) throw new IllegalArgumentException("RAM block '" + b.name() + "' appears twice");
        }
    }

    public RamLayoutState(List<Block> blocks) {
        this(PAGE_SIZE, blocks);
    }

    /** The layout of a machine's RAM: its one block and the ranges around the MMIO hole. */
    public static RamLayoutState of(GuestRam ram) {
        List<Range> ranges = new ArrayList<>();
        for (RamLayout.Range r : ram.ranges()) ranges.add(new Range(r.gpa(), r.size(), r.blockOffset()));
        return new RamLayoutState(List.of(new Block(ram.block().name(), ram.size(), ranges)));
    }

    /** The index page records use for the named block, or -1. */
    public int blockIndex(String name) {
        for (int i = 0; i < blocks.size(); i++) {
            if (blocks.get(i).name().equals(name)) return i;
        }
        return -1;
    }

    /**
     * Refuses a stream whose RAM does not match this VM's: this is the stream's layout, {@code here}
     * the receiver's. Pages are applied by block index and offset, so anything less than equality
     * would put guest memory in the wrong place.
     */
    public void requireSameAs(RamLayoutState here) {
        if (blocks.size() != here.blocks.size()) {
            throw mismatch("blocks", "the stream has " + blocks.size() + " RAM blocks, this VM has " + here.blocks.size());
        }
        for (int i = 0; i < blocks.size(); i++) {
            Block s = blocks.get(i);
            Block h = here.blocks.get(i);
            String at = "blocks[" + i + "]";
            if (!s.name().equals(h.name())) {
                throw mismatch(at + ".name", "block " + i + " is '" + s.name() + "' in the stream but '" + h.name() + "' here");
            }
            if (s.size() != h.size()) {
                throw mismatch(at + ".size", "block '" + s.name() + "' is " + s.size() + " bytes in the stream but " + h.size() + " bytes here");
            }
            if (s.ranges().size() != h.ranges().size()) {
                throw mismatch(at + ".ranges", "block '" + s.name() + "' has " + s.ranges().size()
                        + " guest-physical ranges in the stream but " + h.ranges().size() + " here");
            }
            for (int j = 0; j < s.ranges().size(); j++) {
                Range rs = s.ranges().get(j);
                Range rh = h.ranges().get(j);
                // Field by field: a record's equals bootstraps through invokedynamic (ms, on the restart path).
                if (rs.gpa() != rh.gpa() || rs.length() != rh.length() || rs.blockOffset() != rh.blockOffset()) {
                    throw mismatch(at + ".ranges[" + j + "]", "block '" + s.name() + "' range " + j + " is " + show(rs)
                            + " in the stream but " + show(rh) + " here");
                }
            }
        }
    }

    private static String show(Range r) {
        return String.format("gpa 0x%x length 0x%x at block offset 0x%x", r.gpa(), r.length(), r.blockOffset());
    }

    private static VmStateException mismatch(String field, String reason) {
        return new VmStateException(SECTION, field, reason);
    }

    static final VmStateDescription<Range> RANGE = VmStateDescription.of("ram-range", 1, b -> b
            .u64("gpa", Range::gpa)
            .u64("length", Range::length)
            .u64("block-offset", Range::blockOffset)
            .construct(v -> new Range(v.u64("gpa"), v.u64("length"), v.u64("block-offset"))));

    static final VmStateDescription<Block> BLOCK = VmStateDescription.of("ram-block", 1, b -> b
            .string("name", Block::name, MAX_NAME_BYTES)
            .u64("size", Block::size)
            .list("ranges", Block::ranges, RANGE, MAX_RANGES)
            .construct(v -> new Block(v.string("name"), v.u64("size"), v.list("ranges", RANGE))));

    /** The "ram-layout" section. */
    public static final VmStateDescription<RamLayoutState> DESCRIPTION = VmStateDescription.of(SECTION, 1, b -> b
            .u32("page-size", RamLayoutState::pageSize, PAGE_SIZE, PAGE_SIZE)
            .list("blocks", RamLayoutState::blocks, BLOCK, MAX_BLOCKS)
            .construct(v -> new RamLayoutState((int) v.u32("page-size"), v.list("blocks", BLOCK))));
}
