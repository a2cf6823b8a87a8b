package dev.molt.memory;

import dev.molt.sys.Errno;
import dev.molt.sys.ErrnoException;
import dev.molt.sys.Fd;
import dev.molt.sys.Posix;
import dev.molt.sys.Syscall;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Which 4 KiB pages of a RAM block the host never populated, so that they read as zeros: found
 * from the kernel's page tables or page cache, without reading the pages. Reading a page that was
 * never written makes the kernel allocate and clear it where it has no shared zero page (measured
 * on this project's PVM hosts: 2.5 s per GiB, and the memory stays allocated), so a migration that
 * reads every page to find the zero ones doubles as a slow preallocation on both sides.
 *
 * <p>The answer is a snapshot: a page found untouched may be written right after. The sender
 * relies on its dirty log for those (tracking starts before the first pass), the receiver on being
 * the only writer of the guest's RAM while it loads.
 */
public sealed interface UntouchedPages extends AutoCloseable {
    int PAGE = 4096;

    /**
     * Sets bit i of {@code bits} (bit i % 64 of word i / 64) for each page i of
     * {@code [offset, offset + pages * 4096)} that is known to read as zeros, and clears the others.
     * {@code offset} is a page-aligned offset into the block.
     */
    void find(long offset, int pages, long[] bits);

    @Override
    void close();

    /** What the kernel can tell about {@code block}'s pages: private anonymous memory, a shared file or memfd, or nothing. */
    static UntouchedPages of(RamBlock block) {
        try {
            if (block.fd() == null) return new Unpopulated(block.hostAddress());
            if (block.shared()) return new Holes(block.fd());
        } catch (ErrnoException e) {
            // No /proc here (or it refuses): every page is simply read.
        }
        return new Unknown();
    }

    /**
     * Private anonymous memory: a page with neither "present" nor "swapped" in /proc/self/pagemap
     * was never written (or was discarded), and reads as zeros.
     */
    final class Unpopulated implements UntouchedPages {
        private static final long PRESENT = 1L << 63, SWAPPED = 1L << 62;
        private final long base;
        private final Fd pagemap;
        private final Arena arena = Arena.ofShared();
        private MemorySegment entries = MemorySegment.NULL;

        Unpopulated(long base) {
            this.base = base;
            this.pagemap = Posix.open("/proc/self/pagemap", Posix.O_RDONLY, 0);
        }

        @Override
        public synchronized void find(long offset, int pages, long[] bits) {
            clear(bits, pages);
            if (entries.byteSize() < pages * 8L) entries = arena.allocate(pages * 8L, 8);
            long want = pages * 8L, got = 0;
            long at = (base + offset) / PAGE * 8;
            while (got < want) {
                long r = Syscall.raw(Syscall.PREAD64, pagemap.num(), entries.address() + got, want - got, at + got, 0, 0);
                if (r == -Errno.EINTR.value) continue;
                if (r <= 0) return; // no answer: nothing is known untouched, every page is read
                got += r;
            }
            for (int i = 0; i < pages; i++) {
                if ((entries.getAtIndex(JAVA_LONG, i) & (PRESENT | SWAPPED)) == 0) bits[i >>> 6] |= 1L << i;
            }
        }

        @Override
        public void close() {
            pagemap.close();
            arena.close();
        }
    }

    /**
     * A shared memfd or file: a hole (lseek SEEK_HOLE/SEEK_DATA) reads as zeros; pages swapped out
     * or written to disk count as data. Hosts whose file system cannot tell (hugetlbfs) report the
     * whole file as data.
     */
    record Holes(Fd fd) implements UntouchedPages {
        private static final int SEEK_DATA = 3, SEEK_HOLE = 4;

        @Override
        public void find(long offset, int pages, long[] bits) {
            clear(bits, pages);
            long end = offset + (long) pages * PAGE;
            long at = offset;
            while (at < end) {
                long data = Syscall.raw(Syscall.LSEEK, fd.num(), at, SEEK_DATA, 0, 0, 0);
                if (data == -Errno.ENXIO.value) data = end; // only a hole up to the end of the file
                else if (data < 0) return; // cannot tell: nothing known
                else data = data / PAGE * PAGE; // the page where the data starts is data
                for (long p = at; p < Math.min(data, end); p += PAGE) {
                    int i = (int) ((p - offset) / PAGE);
                    bits[i >>> 6] |= 1L << i;
                }
                if (data >= end) return;
                long hole = Syscall.raw(Syscall.LSEEK, fd.num(), data, SEEK_HOLE, 0, 0, 0);
                if (hole < 0) return;
                // A hole starts page-aligned; a data extent ending inside a page leaves that page data.
                at = (hole + PAGE - 1) / PAGE * PAGE;
            }
        }

        @Override
        public void close() {
            // The fd is the block's.
        }
    }

    /** A private file mapping: its pages come from the file or from copies the kernel does not show; each is read. */
    record Unknown() implements UntouchedPages {
        @Override
        public void find(long offset, int pages, long[] bits) {
            clear(bits, pages);
        }

        @Override
        public void close() {
        }
    }

    private static void clear(long[] bits, int pages) {
        java.util.Arrays.fill(bits, 0, (pages + 63) >>> 6, 0L);
    }
}
