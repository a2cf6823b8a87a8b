package dev.molt.migration.channel;

import dev.molt.sys.Fd;
import dev.molt.sys.Posix;
import dev.molt.sys.Syscall;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;

import static java.lang.foreign.ValueLayout.JAVA_INT;

/** Pipes, socket pairs and payloads for the transport tests. */
final class TestFds {
    private TestFds() {}

    /** A pipe: [read end, write end]. */
    static Fd[] pipe() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment fds = a.allocate(JAVA_INT, 2);
            Syscall.call("pipe2", Syscall.PIPE2, fds.address(), Posix.O_CLOEXEC);
            return new Fd[] {new Fd(fds.getAtIndex(JAVA_INT, 0), "pipe-r"), new Fd(fds.getAtIndex(JAVA_INT, 1), "pipe-w")};
        }
    }

    static Fd[] socketPair() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment fds = a.allocate(JAVA_INT, 2);
            Syscall.call("socketpair", Syscall.SOCKETPAIR, Native.AF_UNIX, Native.SOCK_STREAM | Native.SOCK_CLOEXEC, 0,
                    fds.address(), 0, 0);
            return new Fd[] {new Fd(fds.getAtIndex(JAVA_INT, 0), "sp0"), new Fd(fds.getAtIndex(JAVA_INT, 1), "sp1")};
        }
    }

    /** Hands out the given descriptors once each, by name, like the monitor's getfd table. */
    static FdResolver table(Map<String, Fd> fds) {
        Map<String, Fd> left = new HashMap<>(fds);
        return name -> {
            Fd fd = left.remove(name);
            if (fd == null) return FdResolver.none().take(name);
            return fd;
        };
    }

    static byte[] payload(int size, long seed) {
        byte[] b = new byte[size];
        new Random(seed).nextBytes(b);
        return b;
    }

    static byte[] readAll(InputStream in) throws IOException {
        return in.readAllBytes();
    }
}
