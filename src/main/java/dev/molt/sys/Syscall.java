package dev.molt.sys;

/**
 * Every Linux system call molt makes goes through one entry, chosen once per process:
 * <ul>
 * <li>{@link JniSyscall}, molt's one native function, in {@code libmolt-sys.so} beside molt's jar
 *     (built from {@code src/main/c/molt-sys.c}): about 2 ms to load;
 * <li>else {@link FfmSyscall}, libc's {@code syscall(2)} through one downcall of the foreign
 *     function API, whose linking costs a JDK 25 25-35 ms at every start.
 * </ul>
 * A cpr-exec's new process starts inside the guest's pause, so the entry is found on a thread of
 * its own from {@code main} on ({@link #linkInBackground}), while main reads the CPR state and the
 * command line, which need no system call. Either entry returns the kernel's result or
 * {@code -errno}, read right after the call (the JVM may overwrite errno later).
 */
public final class Syscall {
    private Syscall() {}

    // x86-64 system call numbers (arch/x86/entry/syscalls/syscall_64.tbl).
    public static final int READ = 0, WRITE = 1, CLOSE = 3, FSTAT = 5, POLL = 7, LSEEK = 8, MMAP = 9,
            MUNMAP = 11, RT_SIGPROCMASK = 14, IOCTL = 16, PREAD64 = 17, PWRITE64 = 18, READV = 19, WRITEV = 20, MADVISE = 28,
            DUP = 32, FDATASYNC = 75, GETPID = 39, SOCKET = 41, CONNECT = 42, ACCEPT = 43, SENDMSG = 46, RECVMSG = 47, SHUTDOWN = 48,
            BIND = 49, LISTEN = 50, SOCKETPAIR = 53, EXECVE = 59, KILL = 62, FCNTL = 72, FTRUNCATE = 77,
            UNLINK = 87, GETTID = 186, TGKILL = 234, OPENAT = 257, FALLOCATE = 285, ACCEPT4 = 288,
            EVENTFD2 = 290, DUP3 = 292, PIPE2 = 293, MEMFD_CREATE = 319, CLOSE_RANGE = 436;

    /** How a system call is made: the kernel's result, or {@code -errno} on failure. */
    sealed interface Entry permits JniSyscall, FfmSyscall {
        long call(long nr, long a1, long a2, long a3, long a4, long a5, long a6);
    }

    private static final class Chosen {
        static final Entry ENTRY = JniSyscall.load().orElseGet(FfmSyscall::link);
    }

    /** The entry this process uses (for tests and diagnostics). */
    static Entry entry() {
        return Chosen.ENTRY;
    }

    /**
     * Finds the entry on a daemon thread, so that the first system call finds it ready (or waits
     * for the rest of it: class initialisation is done once, by one thread), then runs {@code andThen}
     * there.
     */
    public static void linkInBackground(Runnable andThen) {
        Thread.ofPlatform().name("molt-link-syscall").daemon(true).start(() -> {
            entry();
            andThen.run();
        });
    }

    /**
     * Makes the call; returns its result, or {@code -errno} on failure. For hot paths (KVM_RUN,
     * port I/O) that must not allocate an exception for an expected EINTR or EAGAIN.
     */
    public static long raw(long nr, long a1, long a2, long a3, long a4, long a5, long a6) {
        return Chosen.ENTRY.call(nr, a1, a2, a3, a4, a5, a6);
    }

    /** Makes the call and throws {@link ErrnoException} naming {@code what} if it fails. */
    public static long call(String what, long nr, long a1, long a2, long a3, long a4, long a5, long a6) {
        long r = raw(nr, a1, a2, a3, a4, a5, a6);
        if (r < 0 && r >= -4095) throw new ErrnoException(what, (int) -r);
        return r;
    }

    public static long call(String what, long nr, long a1, long a2, long a3) {
        return call(what, nr, a1, a2, a3, 0, 0, 0);
    }

    public static long call(String what, long nr, long a1, long a2) {
        return call(what, nr, a1, a2, 0, 0, 0, 0);
    }

    public static long call(String what, long nr, long a1) {
        return call(what, nr, a1, 0, 0, 0, 0, 0);
    }
}
