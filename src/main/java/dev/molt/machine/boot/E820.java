package dev.molt.machine.boot;

import dev.molt.memory.GuestMemory;
import dev.molt.memory.RamLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * The guest's physical memory map (the BIOS e820 map), in the two forms kernels read: the table in
 * the bzImage zero page and the PVH {@code hvm_memmap_table_entry} array.
 *
 * <p>Map: [0, 0x9FC00) RAM, [0x9FC00, 1 MiB) reserved (MP table, the legacy VGA/BIOS hole),
 * [1 MiB, end of low RAM) RAM, then every RAM range above the 32-bit MMIO hole.
 */
public final class E820 {
    private E820() {}

    public enum Type {
        RAM(1),
        RESERVED(2);

        private final int code;

        Type(int code) {
            this.code = code;
        }

        /** The value in the e820 "type" field. */
        public int code() {
            return code;
        }
    }

    public record Entry(long addr, long size, Type type) {
        public long end() {
            return addr + size;
        }
    }

    /** Zero-page fields (offsets inside struct boot_params). */
    public static final int ZERO_PAGE_COUNT_OFFSET = 0x1E8;
    public static final int ZERO_PAGE_TABLE_OFFSET = 0x2D0;
    public static final int ZERO_PAGE_MAX_ENTRIES = 128;
    /** struct boot_e820_entry is packed: u64 addr, u64 size, u32 type. */
    public static final int ZERO_PAGE_ENTRY_SIZE = 20;
    /** struct hvm_memmap_table_entry: u64 addr, u64 size, u32 type, u32 reserved. */
    public static final int PVH_ENTRY_SIZE = 24;

    /** The map for {@code ram} (as from {@link RamLayout#split}); low RAM must exceed 1 MiB. */
    public static List<Entry> build(List<RamLayout.Range> ram) {
        long lowEnd = lowRamEnd(ram);
        if (lowEnd <= BootLayout.KERNEL_START) {
            throw new BootException(String.format(
                    "guest RAM below 4 GiB is %d KiB: molt needs more than 1 MiB", lowEnd >> 10));
        }
        List<Entry> map = new ArrayList<>();
        map.add(new Entry(0, BootLayout.SYSTEM_MEMORY_START, Type.RAM));
        map.add(new Entry(BootLayout.SYSTEM_MEMORY_START,
                BootLayout.SYSTEM_MEMORY_END - BootLayout.SYSTEM_MEMORY_START, Type.RESERVED));
        map.add(new Entry(BootLayout.KERNEL_START, lowEnd - BootLayout.KERNEL_START, Type.RAM));
        for (RamLayout.Range r : ram) {
            if (r.gpa() != 0) map.add(new Entry(r.gpa(), r.size(), Type.RAM));
        }
        return List.copyOf(map);
    }

    /** End of the RAM range that starts at address 0. */
    static long lowRamEnd(List<RamLayout.Range> ram) {
        for (RamLayout.Range r : ram) {
            if (r.gpa() == 0) return r.end();
        }
        throw new BootException("guest RAM does not start at address 0");
    }

    /** Writes {@code e820_entries} and {@code e820_table} into the zero page at {@code zeroPage}. */
    public static void writeZeroPage(GuestMemory mem, long zeroPage, List<Entry> map) {
        if (map.size() > ZERO_PAGE_MAX_ENTRIES) {
            throw new BootException("the memory map has " + map.size() + " entries; the zero page holds "
                    + ZERO_PAGE_MAX_ENTRIES);
        }
        ByteBuffer table = ByteBuffer.allocate(map.size() * ZERO_PAGE_ENTRY_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        for (Entry e : map) table.putLong(e.addr()).putLong(e.size()).putInt(e.type().code());
        mem.write(zeroPage + ZERO_PAGE_COUNT_OFFSET, new byte[] {(byte) map.size()});
        mem.write(zeroPage + ZERO_PAGE_TABLE_OFFSET, table.array());
    }

    /** Writes the PVH memory map at {@code gpa} (it must end by {@link BootLayout#PVH_MEMMAP_END}). */
    public static void writePvhMemmap(GuestMemory mem, long gpa, List<Entry> map) {
        if (gpa + (long) map.size() * PVH_ENTRY_SIZE > BootLayout.PVH_MEMMAP_END) {
            throw new BootException("the memory map has " + map.size() + " entries, too many for the PVH memmap area");
        }
        ByteBuffer table = ByteBuffer.allocate(map.size() * PVH_ENTRY_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        for (Entry e : map) table.putLong(e.addr()).putLong(e.size()).putInt(e.type().code()).putInt(0);
        mem.write(gpa, table.array());
    }
}
