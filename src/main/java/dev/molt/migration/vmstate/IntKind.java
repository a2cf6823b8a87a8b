package dev.molt.migration.vmstate;

/** The integer field kinds: their width on the wire and how their values compare. */
enum IntKind {
    U8("u8", 1, false), U16("u16", 2, false), U32("u32", 4, false), U64("u64", 8, false),
    I32("i32", 4, true), I64("i64", 8, true);

    final String wireName;
    final int width;
    final boolean signed;

    IntKind(String wireName, int width, boolean signed) {
        this.wireName = wireName;
        this.width = width;
        this.signed = signed;
    }

    long typeMin() {
        if (!signed) return 0;
        return width == 8 ? Long.MIN_VALUE : -(1L << (8 * width - 1));
    }

    long typeMax() {
        if (signed) return width == 8 ? Long.MAX_VALUE : (1L << (8 * width - 1)) - 1;
        return width == 8 ? -1L : (1L << (8 * width)) - 1; // u64's maximum is all ones
    }

    /**
     * Only u64 compares unsigned: narrower unsigned values sit in a long's positive range, so a
     * negative value handed in for a u8 stays negative (and is reported as such, not as 2^64-1).
     */
    int compare(long a, long b) {
        return this == U64 ? Long.compareUnsigned(a, b) : Long.compare(a, b);
    }

    String format(long v) {
        return this == U64 ? Long.toUnsignedString(v) : Long.toString(v);
    }

    boolean inRange(long v, long min, long max) {
        return compare(v, min) >= 0 && compare(v, max) <= 0;
    }

    /** Widens what was read (zero- or sign-extended) to the value a description sees. */
    long fromWire(long raw) {
        return switch (this) {
            case I32 -> (int) raw;
            default -> raw;
        };
    }

    /** Boxes as the accessors return it: int for kinds that fit an int, long otherwise. */
    Object box(long v) {
        return switch (this) {
            case U8, U16, I32 -> (int) v;
            case U32, U64, I64 -> v;
        };
    }
}
