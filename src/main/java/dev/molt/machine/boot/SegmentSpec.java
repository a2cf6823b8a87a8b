package dev.molt.machine.boot;

/**
 * A segment as both KVM (kvm_segment in kvm_sregs) and the GDT describe it, so the boot GDT and
 * the vCPU's segment registers come from the same values and cannot disagree.
 *
 * @param selector GDT selector (index * 8)
 * @param base     linear base address
 * @param limit    byte-granular 32-bit limit, as KVM wants it (0xFFFFFFFF for a flat 4 GiB
 *                 segment), not the 20-bit GDT field
 * @param type     descriptor type nibble: 0xB execute/read code (accessed), 0x3 read/write data (accessed)
 * @param present  P
 * @param dpl      privilege level
 * @param db       D/B: 32-bit default operand size / stack
 * @param s        code or data (not a system segment)
 * @param l        64-bit code segment
 * @param g        4 KiB limit granularity
 */
public record SegmentSpec(int selector, long base, long limit, int type, boolean present, int dpl,
                          boolean db, boolean s, boolean l, boolean g) {

    /** A flat ring-0 segment over the whole 4 GiB. */
    public static SegmentSpec flat(int selector, int type, boolean db, boolean l) {
        return new SegmentSpec(selector, 0, 0xFFFF_FFFFL, type, true, 0, db, true, l, true);
    }

    /** The 8-byte GDT descriptor for this segment. */
    public long descriptor() {
        long rawLimit = g ? limit >>> 12 : limit; // 20 bits, in pages when G is set
        long access = (present ? 0x80 : 0) | ((dpl & 3) << 5) | (s ? 0x10 : 0) | (type & 0xF);
        long flags = (g ? 0x8 : 0) | (db ? 0x4 : 0) | (l ? 0x2 : 0);
        return (rawLimit & 0xFFFF)
                | (base & 0xFF_FFFFL) << 16
                | access << 40
                | ((rawLimit >>> 16) & 0xF) << 48
                | flags << 52
                | ((base >>> 24) & 0xFF) << 56;
    }
}
