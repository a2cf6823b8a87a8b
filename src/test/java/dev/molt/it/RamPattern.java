package dev.molt.it;

import java.util.SplittableRandom;

/**
 * A deterministic pattern for guest RAM under qtest: each 4 KiB page's bytes follow from a seed
 * and the page's address, so any page can be checked alone, and a new seed ("generation") tells
 * rewritten pages from stale ones.
 */
final class RamPattern {
    private RamPattern() {}

    static final int PAGE = 4096;

    /** The pattern's bytes for {@code [gpa, gpa + len)}; {@code gpa} and {@code len} page-aligned. */
    static byte[] bytes(long seed, long gpa, int len) {
        if (gpa % PAGE != 0 || len % PAGE != 0) throw new IllegalArgumentException("page-aligned only");
        byte[] out = new byte[len];
        for (int off = 0; off < len; off += PAGE) {
            SplittableRandom r = new SplittableRandom(seed * 0x9E3779B97F4A7C15L ^ (gpa + off));
            for (int i = 0; i < PAGE; i += 8) {
                long v = r.nextLong();
                for (int b = 0; b < 8; b++) out[off + i + b] = (byte) (v >>> (8 * b));
            }
        }
        return out;
    }

    /** The first page of {@code actual} (read at {@code gpa}) that differs from the pattern, or -1. */
    static long firstBadPage(long seed, long gpa, byte[] actual) {
        byte[] expected = bytes(seed, gpa, actual.length);
        for (int off = 0; off < actual.length; off += PAGE) {
            if (!java.util.Arrays.equals(expected, off, off + PAGE, actual, off, off + PAGE)) return gpa + off;
        }
        return -1;
    }
}
