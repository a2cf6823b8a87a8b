package dev.molt.machine.boot;

/**
 * How the boot vCPU must enter the loaded kernel. The memory it needs (boot GDT/IDT, page tables
 * for the 64-bit entry, boot parameters) has already been written by the loader; the vCPU set-up
 * code only fills the registers.
 */
public sealed interface BootEntry {

    /** Code segment to load into CS. */
    SegmentSpec codeSegment();

    /** Data segment to load into DS, ES, FS, GS and SS. */
    SegmentSpec dataSegment();

    /**
     * The Linux 64-bit boot protocol (bzImage): long mode, paging on with the identity map rooted
     * at {@link LongModeTables#CR3}, CR0/CR4/EFER as in {@link LongModeTables}, RSP = RBP =
     * {@link BootLayout#BOOT_STACK_TOP}, RFLAGS = 0x2, interrupts off.
     *
     * @param rip the 64-bit entry point (load address + 0x200)
     * @param rsi the zero page (struct boot_params)
     */
    record Linux64(long rip, long rsi) implements BootEntry {
        @Override
        public SegmentSpec codeSegment() {
            return LongModeTables.CODE64;
        }

        @Override
        public String toString() {
            return String.format("Linux64[rip=0x%x, rsi=0x%x]", rip, rsi);
        }

        @Override
        public SegmentSpec dataSegment() {
            return LongModeTables.DATA;
        }
    }

    /**
     * The PVH entry (an ELF vmlinux): 32-bit protected mode, paging off, CR0 = PE only, flat
     * 4 GiB segments, RFLAGS = 0x2, all other general registers 0.
     *
     * @param eip the physical entry address from the XEN_ELFNOTE_PHYS32_ENTRY note
     * @param ebx the hvm_start_info structure
     */
    record Pvh32(long eip, long ebx) implements BootEntry {
        @Override
        public SegmentSpec codeSegment() {
            return LongModeTables.CODE32;
        }

        @Override
        public String toString() {
            return String.format("Pvh32[eip=0x%x, ebx=0x%x]", eip, ebx);
        }

        @Override
        public SegmentSpec dataSegment() {
            return LongModeTables.DATA;
        }
    }
}
