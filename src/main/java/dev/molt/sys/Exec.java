package dev.molt.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Map;

import static java.lang.foreign.ValueLayout.ADDRESS;

/**
 * Replacing this process with another program (a live update): execve keeps the PID and the fds
 * without FD_CLOEXEC. The JDK opens most of its own fds without that flag, so everything is first
 * marked close-on-exec in one call and only the fds meant for the new program are cleared again
 * (java-platform.md §1.8).
 */
public final class Exec {
    private Exec() {}

    /** Marks every fd from 3 up close-on-exec. */
    public static void closeAllOnExec() {
        Syscall.call("close_range", Syscall.CLOSE_RANGE, 3, 0xFFFFFFFFL, Posix.CLOSE_RANGE_CLOEXEC);
    }

    /**
     * Whether {@link #closeAllOnExec} works here: close_range needs Linux 5.9, its CLOSE_RANGE_CLOEXEC
     * flag 5.11. Asked on an fd number nothing uses, so it changes nothing.
     */
    public static void checkCloseAllOnExec() {
        Syscall.call("close_range (CLOSE_RANGE_CLOEXEC needs Linux 5.11)", Syscall.CLOSE_RANGE, 0x7FFFFFFEL, 0x7FFFFFFEL,
                Posix.CLOSE_RANGE_CLOEXEC);
    }

    /**
     * execve(2). Returns only on failure, with the errno as an exception; on success this process
     * is the new program.
     */
    public static void execve(String path, List<String> argv, Map<String, String> env) {
        try (Arena a = Arena.ofConfined()) {
            Syscall.call("execve " + path, Syscall.EXECVE, a.allocateFrom(path).address(), strings(a, argv).address(),
                    environment(a, env).address());
        }
    }

    /** A NULL-terminated array of C strings, as execve's argv. */
    static MemorySegment strings(Arena a, List<String> values) {
        MemorySegment array = a.allocate(ADDRESS, values.size() + 1L);
        for (int i = 0; i < values.size(); i++) array.setAtIndex(ADDRESS, i, a.allocateFrom(values.get(i)));
        array.setAtIndex(ADDRESS, values.size(), MemorySegment.NULL);
        return array;
    }

    /** execve's envp: NAME=value strings. */
    static MemorySegment environment(Arena a, Map<String, String> env) {
        return strings(a, env.entrySet().stream().map(e -> e.getKey() + "=" + e.getValue()).toList());
    }

    public static Fd dup(Fd fd, String what) {
        int n = (int) Syscall.call("dup", Syscall.DUP, fd.num());
        return new Fd(n, what);
    }
}
