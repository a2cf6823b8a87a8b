package dev.molt.machine.boot;

import dev.molt.memory.GuestMemory;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The descriptor tables and page tables a kernel entry expects, and the values the vCPU set-up code
 * must put into kvm_sregs to match them.
 *
 * <p>Boot GDT at {@link BootLayout#GDT}: 0x00 null, 0x08 flat 32-bit code (PVH entry), 0x10 flat
 * 64-bit code, 0x18 flat data. 0x10/0x18 are the {@code __BOOT_CS}/{@code __BOOT_DS} selectors the
 * Linux boot protocol documents. There is no TSS descriptor (the GDT must end where the IDT starts):
 * the 64-bit entry keeps KVM's reset TR, the PVH entry uses {@link #PVH_TASK_REGISTER}.
 */
public final class LongModeTables {
    private LongModeTables() {}

    public static final int CODE32_SELECTOR = 0x08;
    public static final int CODE64_SELECTOR = 0x10;
    public static final int DATA_SELECTOR = 0x18;

    private static final int TYPE_CODE_EXECUTE_READ = 0xB;
    private static final int TYPE_DATA_READ_WRITE = 0x3;
    private static final int TYPE_TSS_32_BUSY = 0xB;

    /** CS for the 64-bit entry: descriptor 0x00AF9B000000FFFF. */
    public static final SegmentSpec CODE64 =
            SegmentSpec.flat(CODE64_SELECTOR, TYPE_CODE_EXECUTE_READ, false, true);
    /** CS for the 32-bit PVH entry: descriptor 0x00CF9B000000FFFF. */
    public static final SegmentSpec CODE32 =
            SegmentSpec.flat(CODE32_SELECTOR, TYPE_CODE_EXECUTE_READ, true, false);
    /** DS/ES/FS/GS/SS for both entries: descriptor 0x00CF93000000FFFF. */
    public static final SegmentSpec DATA =
            SegmentSpec.flat(DATA_SELECTOR, TYPE_DATA_READ_WRITE, true, false);
    /** TR for the PVH entry, which asks for "a 32-bit TSS (active) with a base of 0 and a limit of 0x67". */
    public static final SegmentSpec PVH_TASK_REGISTER =
            new SegmentSpec(0, 0, 0x67, TYPE_TSS_32_BUSY, true, 0, false, false, false, false);

    /** kvm_sregs.gdt / idt. */
    public static final long GDT_BASE = BootLayout.GDT;
    public static final int GDT_LIMIT = BootLayout.GDT_LIMIT;
    public static final long IDT_BASE = BootLayout.IDT;
    public static final int IDT_LIMIT = BootLayout.IDT_LIMIT;

    /** Control register values for the 64-bit entry (OR them into KVM's reset values). */
    public static final long CR3 = BootLayout.PML4;
    public static final long CR0_PE = 0x1;
    public static final long CR0_PG = 0x8000_0000L;
    public static final long CR4_PAE = 0x20;
    public static final long EFER_LME = 0x100;
    public static final long EFER_LMA = 0x400;
    /** RFLAGS at either entry: only the always-one bit 1, interrupts off. */
    public static final long BOOT_RFLAGS = 0x2;

    private static final long PAGE_PRESENT_WRITABLE = 0x3;
    private static final long PAGE_2M_PRESENT_WRITABLE = 0x83;
    private static final int TABLE_ENTRIES = 512;
    private static final long TWO_MIB = 1L << 21;
    /** How much the identity map covers: enough for the kernel, its init_size, and the boot data. */
    public static final long IDENTITY_MAPPED = TABLE_ENTRIES * TWO_MIB;

    /** Writes the GDT, the IDT, and the identity page tables. */
    public static void write(GuestMemory mem) {
        writeDescriptorTables(mem);
        writeIdentityPageTables(mem);
    }

    /** The boot GDT and a zero IDT (one empty gate: any exception before the kernel's IDT is fatal). */
    public static void writeDescriptorTables(GuestMemory mem) {
        long[] gdt = {0, CODE32.descriptor(), CODE64.descriptor(), DATA.descriptor()};
        ByteBuffer buf = ByteBuffer.allocate(gdt.length * 8).order(ByteOrder.LITTLE_ENDIAN);
        for (long d : gdt) buf.putLong(d);
        mem.write(BootLayout.GDT, buf.array());
        mem.fill(BootLayout.IDT, IDT_LIMIT + 1, (byte) 0);
    }

    /** PML4[0] -> PDPT[0] -> PD with 512 2-MiB pages: identity map of [0, 1 GiB). */
    public static void writeIdentityPageTables(GuestMemory mem) {
        mem.fill(BootLayout.PML4, BootLayout.PAGE_SIZE, (byte) 0);
        mem.fill(BootLayout.PDPT, BootLayout.PAGE_SIZE, (byte) 0);
        mem.putLong(BootLayout.PML4, BootLayout.PDPT | PAGE_PRESENT_WRITABLE);
        mem.putLong(BootLayout.PDPT, BootLayout.PD | PAGE_PRESENT_WRITABLE);
        ByteBuffer pd = ByteBuffer.allocate(TABLE_ENTRIES * 8).order(ByteOrder.LITTLE_ENDIAN);
        for (long i = 0; i < TABLE_ENTRIES; i++) pd.putLong(i * TWO_MIB | PAGE_2M_PRESENT_WRITABLE);
        mem.write(BootLayout.PD, pd.array());
    }
}
