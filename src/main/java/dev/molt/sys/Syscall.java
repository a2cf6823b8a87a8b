package dev.molt.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Every Linux system call molt makes goes through libc's {@code syscall(2)} with one downcall shape.
 * Linking a downcall costs ~10 ms per distinct shape at start-up (java-platform.md §1.7), and the
 * new process's start-up is inside the guest's pause during a live update, so molt links exactly one.
 * errno is captured by the linker, never read later (the JVM may overwrite it).
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

    private static final class Linked {
        static final StructLayout CAPTURE = Linker.Option.captureStateLayout();
        static final VarHandle ERRNO = CAPTURE.varHandle(
                java.lang.foreign.MemoryLayout.PathElement.groupElement("errno"));
        static final MethodHandle SYSCALL;
        static final ThreadLocal<MemorySegment> STATE =
                ThreadLocal.withInitial(() -> Arena.global().allocate(CAPTURE));

        static {
            Linker linker = Linker.nativeLinker();
            // syscall(2) is variadic, but linked as a plain function of seven longs: on x86-64 integer
            // arguments travel the same way either way, and glibc's syscall() is assembly that only moves
            // registers (it never reads %al, the variadic call's extra). The variadic link took about
            // 10 ms longer at start-up (27 ms against 17, median of 7, with an AOT cache), inside a
            // live update's pause.
            SYSCALL = linker.downcallHandle(
                    linker.defaultLookup().findOrThrow("syscall"),
                    FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG,
                            JAVA_LONG, JAVA_LONG, JAVA_LONG),
                    Linker.Option.captureCallState("errno"));
        }
    }

    /**
     * Starts linking the downcall on a daemon thread, so that the first system call finds it ready
     * (or waits for the rest of it: class initialisation is done once, by one thread).
     */
    public static void linkInBackground() {
        Thread.ofPlatform().name("molt-link-syscall").daemon(true).start(() -> raw(GETPID, 0, 0, 0, 0, 0, 0));
    }

    /**
     * Makes the call; returns its result, or {@code -errno} on failure. For hot paths (KVM_RUN,
     * port I/O) that must not allocate an exception for an expected EINTR or EAGAIN.
     */
    public static long raw(long nr, long a1, long a2, long a3, long a4, long a5, long a6) {
        MemorySegment state = Linked.STATE.get();
        long r;
        try {
            r = (long) Linked.SYSCALL.invokeExact(state, nr, a1, a2, a3, a4, a5, a6);
        } catch (Throwable t) {
            throw new AssertionError("syscall downcall failed", t);
        }
        return r == -1 ? -(int) Linked.ERRNO.get(state, 0L) : r;
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
