package dev.molt.machine.boot;

/**
 * Where molt puts boot structures in low guest memory: every address in one place, so that two
 * structures cannot be moved into each other unnoticed. The layout follows Firecracker's (known to
 * boot Linux) plus a PVH area.
 *
 * <pre>
 *   0x00500  GDT (4 entries)           0x00520  IDT (one zero gate)
 *   0x06000  PVH hvm_start_info        0x06040  PVH module list
 *   0x06100  PVH memory map (to 0x6FFF)
 *   0x07000  bzImage zero page / PVH command line (a kernel is booted one way or the other)
 *   0x08FF0  boot stack top
 *   0x09000  PML4   0x0A000 PDPT   0x0B000 PD (identity map of the first 1 GiB)
 *   0x20000  bzImage command line
 *   0x9FC00  MP table; 0x9FC00-0xFFFFF is reserved in the e820 map
 *   0x100000 kernel
 * </pre>
 */
public final class BootLayout {
    private BootLayout() {}

    public static final long PAGE_SIZE = 0x1000;

    public static final long GDT = 0x500;
    /** The GDT holds 4 descriptors: it ends where the IDT starts. */
    public static final int GDT_LIMIT = 4 * 8 - 1;
    public static final long IDT = 0x520;
    public static final int IDT_LIMIT = 8 - 1;

    public static final long PVH_START_INFO = 0x6000;
    public static final long PVH_MODULE_LIST = 0x6040;
    public static final long PVH_MEMMAP = 0x6100;
    /** First address past the room for the PVH memory map. */
    public static final long PVH_MEMMAP_END = 0x7000;
    public static final long PVH_CMDLINE = 0x7000;
    /** Including the terminating NUL. */
    public static final int PVH_CMDLINE_MAX = 2048;

    public static final long ZERO_PAGE = 0x7000;
    public static final int ZERO_PAGE_SIZE = 0x1000;

    /** Initial RSP (and RBP) for the 64-bit entry. */
    public static final long BOOT_STACK_TOP = 0x8FF0;

    public static final long PML4 = 0x9000;
    public static final long PDPT = 0xA000;
    public static final long PD = 0xB000;

    public static final long BZIMAGE_CMDLINE = 0x20000;
    /** Including the terminating NUL. */
    public static final int BZIMAGE_CMDLINE_MAX = 2048;

    /** The MP table lives in the last KiB of base memory, one of the places Linux searches. */
    public static final long MP_TABLE = 0x9FC00;
    public static final long MP_TABLE_END = 0xA0000;

    /** "System memory" (MP table, legacy VGA/BIOS hole): reserved in the e820 map. */
    public static final long SYSTEM_MEMORY_START = 0x9FC00;
    public static final long SYSTEM_MEMORY_END = 0x100000;

    /** Kernels load here or above; everything below belongs to the boot structures. */
    public static final long KERNEL_START = 0x100000;

    public static final long FOUR_GIB = 1L << 32;
}
