package dev.molt.memory;

import dev.molt.sys.Errno;
import dev.molt.sys.ErrnoException;
import dev.molt.sys.Fd;
import dev.molt.sys.FdSets;
import dev.molt.sys.Posix;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;

/**
 * A named block of host memory that backs guest RAM (QEMU's RAMBlock). A block backed by a file
 * descriptor (memfd or file) can outlive the process that made it: a live update hands the fd to
 * the new molt, which maps the same pages again. The mapping is 2 MiB-aligned so that guest huge
 * pages can be backed by host huge pages (kvm-x86.md §1.1 step 7).
 */
public final class RamBlock implements AutoCloseable {
    private static final long HUGE_ALIGN = 2L << 20;

    private final String name;
    private final long size;
    private final Fd fd;          // null for private anonymous memory
    private final boolean shared;
    private final long addr;
    private final MemorySegment host;
    private final boolean namedFile;

    private RamBlock(String name, long size, Fd fd, boolean shared, long addr) {
        this(name, size, fd, shared, addr, false);
    }

    private RamBlock(String name, long size, Fd fd, boolean shared, long addr, boolean namedFile) {
        this.name = name;
        this.size = size;
        this.fd = fd;
        this.shared = shared;
        this.namedFile = namedFile;
        this.addr = addr;
        this.host = MemorySegment.ofAddress(addr).reinterpret(size);
    }

    /** Anonymous memory private to this process: cannot survive a live update in place. */
    public static RamBlock anonymous(String name, long size, boolean prealloc) {
        long addr = mapAligned(name, size, Posix.MAP_PRIVATE | Posix.MAP_ANONYMOUS, -1, prealloc);
        return new RamBlock(name, size, null, false, addr);
    }

    /** A shared memfd (memory-backend-memfd, or implicit RAM with aux-ram-share=on). */
    public static RamBlock memfd(String name, long size, long hugePageSize, boolean prealloc) {
        return memfd(name, size, hugePageSize, prealloc, true);
    }

    /**
     * A memfd mapped shared, or private ({@code memory-backend-memfd,share=off}, as QEMU maps it: the
     * guest's writes go to this process's copy-on-write pages, which no other process can map, so
     * such RAM cannot cross a live update and is not preservable).
     */
    public static RamBlock memfd(String name, long size, long hugePageSize, boolean prealloc, boolean shared) {
        int flags = Posix.MFD_CLOEXEC;
        if (hugePageSize > 0) {
            flags |= Posix.MFD_HUGETLB | (Long.numberOfTrailingZeros(hugePageSize) << Posix.MFD_HUGE_SHIFT);
            if (size % hugePageSize != 0) {
                throw new MemoryException("memory backend '" + name + "': size must be a multiple of the huge page size " + hugePageSize);
            }
        }
        Fd fd = Posix.memfdCreate(name, flags);
        try {
            Posix.ftruncate(fd, size);
            long addr = mapAligned(name, size, shared ? Posix.MAP_SHARED : Posix.MAP_PRIVATE, fd.num(), prealloc);
            return new RamBlock(name, size, fd, shared, addr);
        } catch (RuntimeException e) {
            fd.close();
            throw translate(name, size, e);
        }
    }

    /** memory-backend-file: a file (created if missing) mapped shared or private. */
    public static RamBlock file(String name, Path path, long size, boolean shared, boolean prealloc) {
        Fd fd;
        try {
            fd = FdSets.open(path.toString(), Posix.O_RDWR | Posix.O_CREAT, 0600);
        } catch (ErrnoException e) {
            throw new MemoryException("memory backend '" + name + "': cannot open mem-path " + path + ": "
                    + (e instanceof FdSets.FdSetError ? e.getMessage() : Errno.describe(e.errno())));
        }
        try {
            if (Posix.fileSize(fd) < size) Posix.ftruncate(fd, size);
            long addr = mapAligned(name, size, shared ? Posix.MAP_SHARED : Posix.MAP_PRIVATE, fd.num(), prealloc);
            return new RamBlock(name, size, fd, shared, addr, true);
        } catch (RuntimeException e) {
            fd.close();
            throw translate(name, size, e);
        }
    }

    /** Maps a block from an fd this process inherited (a live update's preserved RAM). */
    public static RamBlock adopt(String name, Fd fd, long size) {
        long actual = Posix.fileSize(fd);
        if (actual < size) {
            throw new MemoryException("RAM block '" + name + "': inherited fd holds " + actual + " bytes, expected " + size);
        }
        long addr = mapAligned(name, size, Posix.MAP_SHARED, fd.num(), false);
        return new RamBlock(name, size, fd, true, addr);
    }

    /**
     * Reserves size + 2 MiB of address space, then maps the block at the first 2 MiB boundary inside
     * it and gives the slack back. MAP_NORESERVE keeps large guests lazily allocated.
     */
    private static long mapAligned(String name, long size, int flags, int fd, boolean prealloc) {
        long span = size + HUGE_ALIGN;
        long base;
        try {
            base = Posix.mmap(0, span, 0, Posix.MAP_PRIVATE | Posix.MAP_ANONYMOUS | Posix.MAP_NORESERVE, -1, 0);
        } catch (ErrnoException e) {
            throw translate(name, size, e);
        }
        long aligned = (base + HUGE_ALIGN - 1) & -HUGE_ALIGN;
        int mapFlags = flags | Posix.MAP_FIXED | Posix.MAP_NORESERVE | (prealloc ? Posix.MAP_POPULATE : 0);
        try {
            Posix.mmap(aligned, size, Posix.PROT_READ | Posix.PROT_WRITE, mapFlags, fd, 0);
        } catch (ErrnoException e) {
            Posix.munmap(base, span);
            throw translate(name, size, e);
        }
        if (aligned > base) Posix.munmap(base, aligned - base);
        long tail = base + span - (aligned + size);
        if (tail > 0) Posix.munmap(aligned + size, tail);
        try {
            Posix.madvise(aligned, size, Posix.MADV_HUGEPAGE);
        } catch (ErrnoException ignored) {
            // Transparent huge pages are an optimisation; hosts without them run guests fine.
        }
        return aligned;
    }

    private static RuntimeException translate(String name, long size, RuntimeException e) {
        if (e instanceof ErrnoException ee) {
            return new MemoryException("cannot set up guest memory '" + name + "' (" + size + " bytes): " + Errno.describe(ee.errno()));
        }
        return e;
    }

    public String name() {
        return name;
    }

    public long size() {
        return size;
    }

    public MemorySegment host() {
        return host;
    }

    public long hostAddress() {
        return addr;
    }

    /** The fd behind the block, if any: what a live update preserves. */
    public Fd fd() {
        return fd;
    }

    public boolean shared() {
        return shared;
    }

    /**
     * A shared block backed by a file with a name: another process can open the same pages by path,
     * so with x-ignore-shared a migration sends none of them (QEMU's rule: shared and a named file).
     */
    public boolean sharedNamedFile() {
        return shared && namedFile;
    }

    /** True when a new process can map these very pages again from the fd. */
    public boolean preservable() {
        return fd != null && shared;
    }

    @Override
    public void close() {
        try {
            Posix.munmap(addr, size);
        } finally {
            if (fd != null) fd.close();
        }
    }
}
