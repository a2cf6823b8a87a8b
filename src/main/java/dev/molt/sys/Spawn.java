package dev.molt.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
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

    /** posix_spawn's downcall, once linked. */
    private static volatile MethodHandle posixSpawn;

    /**
     * Links posix_spawn at its first use. A link that fails is tried again at the next use: at the
     * open-file limit the linker cannot open what it needs, and a class initialiser that failed
     * there would leave every later update of the process failing too, with fds to spare by then.
     */
    private static MethodHandle posixSpawn() {
        MethodHandle h = posixSpawn;
        if (h != null) return h;
        synchronized (Spawn.class) {
            if (posixSpawn == null) {
                try {
                    Linker linker = Linker.nativeLinker();
                    posixSpawn = linker.downcallHandle(libc(linker).findOrThrow("posix_spawn"),
                            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS));
                } catch (RuntimeException | LinkageError e) {
                    throw new IllegalStateException("cannot link posix_spawn (" + e + ")", e);
                }
            }
            return posixSpawn;
        }
    }

    /**
     * The C library already loaded in this process: dlopen finds it by name without opening a file.
     * The linker's default lookup opens a JDK library the first time, and at the open-file limit it
     * stays a lookup that finds nothing for the life of the process.
     */
    private static SymbolLookup libc(Linker linker) {
        try {
            return SymbolLookup.libraryLookup("libc.so.6", Arena.global());
        } catch (IllegalArgumentException notGlibc) {
            return linker.defaultLookup();
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
            MethodHandle spawn = posixSpawn();
            int error;
            try {
                error = (int) spawn.invokeExact(pid, a.allocateFrom(argv.getFirst()), MemorySegment.NULL,
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
