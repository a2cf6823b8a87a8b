package dev.molt.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.List;
import java.util.Map;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * Starting a child that inherits chosen fds, which the JDK's ProcessBuilder cannot do (its helper
 * closes every fd above 2). libc's posix_spawn runs the child on its own stack until its exec
 * (clone with CLONE_VM|CLONE_VFORK), which is safe in a multithreaded JVM where fork is not.
 * Linked on first use only: no live update's new process pays for the downcall.
 */
public final class Spawn {
    private Spawn() {}

    private static final int WAIT4 = 61, PIPE2 = 293, O_CLOEXEC = 02000000;

    private static final class Linked {
        static final MethodHandle POSIX_SPAWN;

        static {
            Linker linker = Linker.nativeLinker();
            POSIX_SPAWN = linker.downcallHandle(linker.defaultLookup().findOrThrow("posix_spawn"),
                    FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS));
        }
    }

    /**
     * Starts {@code argv} (argv[0] an absolute path) with {@code env}; the child inherits stdio and
     * exactly the fds of {@code inherit}, which are close-on-exec again when this returns. Returns
     * the child's PID; the caller reaps it with {@link #waitFor(long)}.
     */
    public static long start(List<String> argv, Map<String, String> env, List<Fd> inherit) {
        for (Fd fd : inherit) Posix.setCloexec(fd.num(), false);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment argvArr = Exec.strings(a, argv);
            MemorySegment envArr = Exec.environment(a, env);
            MemorySegment pid = a.allocate(JAVA_INT);
            int error;
            try {
                error = (int) Linked.POSIX_SPAWN.invokeExact(pid, a.allocateFrom(argv.getFirst()), MemorySegment.NULL,
                        MemorySegment.NULL, argvArr, envArr);
            } catch (Throwable t) {
                throw new AssertionError("posix_spawn downcall failed", t);
            }
            if (error != 0) throw new ErrnoException("posix_spawn " + argv.getFirst(), error);
            return pid.get(JAVA_INT, 0);
        } finally {
            for (Fd fd : inherit) Posix.setCloexec(fd.num(), true);
        }
    }

    /** Waits for child {@code pid} to exit and reaps it; returns its wait status, or -errno. */
    public static long waitFor(long pid) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment status = a.allocate(JAVA_INT);
            long r;
            do {
                r = Syscall.raw(WAIT4, pid, status.address(), 0, 0, 0, 0);
            } while (r == -Errno.EINTR.value);
            return r < 0 ? r : status.get(JAVA_INT, 0);
        }
    }

    /** A pipe, both ends close-on-exec: {read, write}. */
    public static Fd[] pipe(String what) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment fds = a.allocate(JAVA_INT, 2);
            Syscall.call("pipe2", PIPE2, fds.address(), O_CLOEXEC);
            return new Fd[] {new Fd(fds.getAtIndex(JAVA_INT, 0), what + " (read)"), new Fd(fds.getAtIndex(JAVA_INT, 1), what + " (write)")};
        }
    }
}
