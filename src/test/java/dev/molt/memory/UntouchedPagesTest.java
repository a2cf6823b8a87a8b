package dev.molt.memory;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.ValueLayout;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

/** What the kernel says about pages never written, for each kind of RAM block, against pages written and read. */
class UntouchedPagesTest {
    private static final long SIZE = 6L << 20;

    @Test
    void privateAnonymousMemoryPagesNeverWrittenAreKnown() {
        try (RamBlock block = RamBlock.anonymous("ram", SIZE, false)) {
            checkWrittenPagesAreNotUntouched(block);
        }
    }

    @Test
    void aSharedMemfdsHolesAreKnown() {
        try (RamBlock block = RamBlock.memfd("ram", SIZE, 0, false)) {
            checkWrittenPagesAreNotUntouched(block);
        }
    }

    @Test
    void aSharedFilesHolesAreKnown(@TempDir Path dir) {
        try (RamBlock block = RamBlock.file("ram", dir.resolve("ram"), SIZE, true, false)) {
            checkWrittenPagesAreNotUntouched(block);
        }
    }

    /** A private mapping's written pages are copies the file does not show: nothing is claimed untouched. */
    @Test
    void aPrivateFileMappingClaimsNothing(@TempDir Path dir) {
        try (RamBlock block = RamBlock.file("ram", dir.resolve("ram"), SIZE, false, false);
             UntouchedPages pages = UntouchedPages.of(block)) {
            assertInstanceOf(UntouchedPages.Unknown.class, pages);
            long[] bits = {-1, -1, -1, -1, -1, -1, -1, -1};
            pages.find(0, 512, bits);
            assertEquals(0, count(bits));
        }
    }

    /**
     * Pages 3 (written) and 5 (written with zeros: populated all the same) of the second 2 MiB. The
     * rest of that 2 MiB may have come with them (a transparent huge page, a large folio); the
     * 2 MiB before and after did not.
     */
    private static void checkWrittenPagesAreNotUntouched(RamBlock block) {
        long second = 2L << 20;
        try (UntouchedPages pages = UntouchedPages.of(block)) {
            long[] bits = new long[8];
            pages.find(0, 512, bits);
            assertEquals(512, count(bits), "a fresh block is all untouched");
            block.host().set(ValueLayout.JAVA_BYTE, second + 3 * 4096 + 17, (byte) 1);
            block.host().set(ValueLayout.JAVA_BYTE, second + 5 * 4096, (byte) 0);
            pages.find(second, 512, bits);
            long firstWord = bits[0];
            assertEquals(0, firstWord & (1L << 3), "a written page");
            assertEquals(0, firstWord & (1L << 5), "a page written with zeros");
            long[] part = new long[1];
            pages.find(second + 2 * 4096, 5, part);
            assertEquals(firstWord >>> 2 & 0b11111, part[0], "pages 2..6 asked alone: the same answers, from bit 0");
            for (long chunk : new long[] {0, 2 * second}) {
                pages.find(chunk, 512, bits);
                assertEquals(512, count(bits), "the 2 MiB at " + chunk + " are still untouched");
            }
        }
    }

    private static int count(long[] bits) {
        int n = 0;
        for (long b : bits) n += Long.bitCount(b);
        return n;
    }
}
