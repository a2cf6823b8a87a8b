package dev.molt.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static dev.molt.sys.Syscall.call;

/** Thin typed wrappers over the system calls molt uses. No policy here. */
public final class Posix {
    private Posix() {}

    public static final int O_RDONLY = 0, O_WRONLY = 1, O_RDWR = 2, O_CREAT = 0100, O_TRUNC = 01000,
            O_APPEND = 02000, O_NONBLOCK = 04000, O_DSYNC = 010000, O_DIRECT = 040000, O_CLOEXEC = 02000000;
    public static final int AT_FDCWD = -100;
    public static final int PROT_READ = 1, PROT_WRITE = 2;
    public static final int MAP_SHARED = 0x01, MAP_PRIVATE = 0x02, MAP_FIXED = 0x10, MAP_ANONYMOUS = 0x20,
            MAP_NORESERVE = 0x4000, MAP_POPULATE = 0x8000, MAP_HUGETLB = 0x40000;
    public static final int MADV_DONTFORK = 10, MADV_HUGEPAGE = 14;
    public static final int MFD_CLOEXEC = 1, MFD_ALLOW_SEALING = 2, MFD_HUGETLB = 4;
    public static final int MFD_HUGE_SHIFT = 26;
    public static final int F_GETFD = 1, F_SETFD = 2, F_GETFL = 3, F_SETFL = 4, FD_CLOEXEC = 1, O_ACCMODE = 3;
    public static final int CLOSE_RANGE_CLOEXEC = 4;
    public static final int SIGKILL = 9, SIGUSR1 = 10, SIGTERM = 15, SIGSTOP = 19;

    public static Fd open(String path, int flags, int mode) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocateFrom(path);
            int fd = (int) call("open " + path, Syscall.OPENAT, AT_FDCWD, p.address(), flags | O_CLOEXEC, mode, 0, 0);
            return new Fd(fd, path);
        }
    }

    public static Fd memfdCreate(String name, int flags) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocateFrom(name);
            int fd = (int) call("memfd_create " + name, Syscall.MEMFD_CREATE, p.address(), flags);
            return new Fd(fd, "memfd:" + name);
        }
    }

    public static void ftruncate(Fd fd, long size) {
        call("ftruncate " + fd.what(), Syscall.FTRUNCATE, fd.num(), size);
    }

    public static void fallocate(Fd fd, long offset, long len) {
        call("fallocate " + fd.what(), Syscall.FALLOCATE, fd.num(), 0, offset, len, 0, 0);
    }

    /** Size of the file behind {@code fd} (struct stat st_size is at offset 48 on x86-64). */
    public static long fileSize(Fd fd) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = a.allocate(144, 8);
            call("fstat " + fd.what(), Syscall.FSTAT, fd.num(), st.address());
            return st.get(java.lang.foreign.ValueLayout.JAVA_LONG, 48);
        }
    }

    /** Maps {@code len} bytes; the result is the raw address. */
    public static long mmap(long addr, long len, int prot, int flags, int fd, long offset) {
        return call("mmap", Syscall.MMAP, addr, len, prot, flags, fd, offset);
    }

    public static void munmap(long addr, long len) {
        call("munmap", Syscall.MUNMAP, addr, len);
    }

    public static void madvise(long addr, long len, int advice) {
        call("madvise", Syscall.MADVISE, addr, len, advice);
    }

    public static long ioctl(Fd fd, String what, long request, long arg) {
        return call(what, Syscall.IOCTL, fd.num(), request, arg);
    }

    public static long ioctl(Fd fd, String what, long request, MemorySegment arg) {
        return call(what, Syscall.IOCTL, fd.num(), request, arg.address());
    }

    public static int gettid() {
        return (int) Syscall.raw(Syscall.GETTID, 0, 0, 0, 0, 0, 0);
    }

    public static int getpid() {
        return (int) Syscall.raw(Syscall.GETPID, 0, 0, 0, 0, 0, 0);
    }

    /** Sends {@code sig} to one thread of this process; returns false if the thread is gone. */
    public static boolean tgkill(int pid, int tid, int sig) {
        return Syscall.raw(Syscall.TGKILL, pid, tid, sig, 0, 0, 0) == 0;
    }

    /** The open file's status flags and access mode (fcntl F_GETFL): how it was opened. */
    public static int fileStatusFlags(Fd fd) {
        return (int) call("fcntl F_GETFL", Syscall.FCNTL, fd.num(), F_GETFL);
    }

    private static final int F_DUPFD_CLOEXEC = 1030;

    /**
     * A second fd for the same open file (close-on-exec), for another owner in this process: closing
     * either leaves the other working (a reload hands such copies to the new implementation).
     */
    public static Fd dup(Fd fd) {
        return new Fd((int) call("fcntl F_DUPFD_CLOEXEC " + fd.what(), Syscall.FCNTL, fd.num(), F_DUPFD_CLOEXEC, 0), fd.what());
    }

    /** Makes {@code target} (a standard stream, say) another fd for {@code fd}'s open file. */
    public static void dup3(Fd fd, int target) {
        call("dup3 " + fd.what(), Syscall.DUP3, fd.num(), target, 0);
    }

    public static void setCloexec(int fd, boolean on) {
        long flags = call("fcntl F_GETFD", Syscall.FCNTL, fd, F_GETFD);
        long updated = on ? flags | FD_CLOEXEC : flags & ~FD_CLOEXEC;
        call("fcntl F_SETFD", Syscall.FCNTL, fd, F_SETFD, updated);
    }

    /** Makes reads and writes on {@code fd} return EAGAIN rather than block (the status flag is the open file's, shared with other holders). */
    public static void setNonBlocking(Fd fd) {
        long flags = call("fcntl F_GETFL " + fd.what(), Syscall.FCNTL, fd.num(), F_GETFL);
        call("fcntl F_SETFL " + fd.what(), Syscall.FCNTL, fd.num(), F_SETFL, flags | O_NONBLOCK);
    }

    public static int write(int fd, MemorySegment buf, long len) {
        return (int) call("write", Syscall.WRITE, fd, buf.address(), len);
    }

    public static int pwrite(int fd, MemorySegment buf, long len, long offset) {
        return (int) call("pwrite", Syscall.PWRITE64, fd, buf.address(), len, offset, 0, 0);
    }

    /** fallocate(2) with a mode (punch hole, zero range); returns 0 or {@code -errno}, which callers fall back on. */
    public static long fallocate(Fd fd, int mode, long offset, long len) {
        return Syscall.raw(Syscall.FALLOCATE, fd.num(), mode, offset, len, 0, 0);
    }

    public static final int FALLOC_FL_KEEP_SIZE = 1, FALLOC_FL_PUNCH_HOLE = 2, FALLOC_FL_ZERO_RANGE = 0x10;
}
