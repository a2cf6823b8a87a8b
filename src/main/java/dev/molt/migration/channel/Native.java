package dev.molt.migration.channel;

import dev.molt.sys.Errno;
import dev.molt.sys.ErrnoException;
import dev.molt.sys.Syscall;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Optional;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The few system calls and constants the channels need beyond {@link dev.molt.sys.Posix}, kept
 * here so that this package touches nothing else in the tree. x86-64 Linux values.
 */
final class Native {
    private Native() {}

    static final int SHUTDOWN = 48, GETSOCKNAME = 51, SETSOCKOPT = 54, GETSOCKOPT = 55, NEWFSTATAT = 262;
    static final int AF_UNIX = 1, AF_INET = 2, AF_INET6 = 10;
    static final int SOCK_STREAM = 1, SOCK_CLOEXEC = 02000000;
    static final int SOL_SOCKET = 1, SO_REUSEADDR = 2, SO_DOMAIN = 39;
    static final int IPPROTO_IPV6 = 41, IPV6_V6ONLY = 26;
    static final int SHUT_WR = 1, SHUT_RDWR = 2;
    static final int S_IFMT = 0170000, S_IFSOCK = 0140000;
    static final int AT_FDCWD = -100, AT_SYMLINK_NOFOLLOW = 0x100;
    static final int SEEK_SET = 0;

    /** glibc's strerror text, which QEMU puts after its messages. */
    static String strerror(int errno) {
        Errno e = Errno.of(errno);
        return e != null ? e.description : "Unknown error " + errno;
    }

    /** An IOException reading "{@code message}: strerror", with the errno kept in the cause. */
    static IOException ioError(String message, String call, int errno) {
        return new IOException(message + ": " + strerror(errno), new ErrnoException(call, errno));
    }

    /** Makes the call, retrying on EINTR; returns the result or -errno. */
    static long retrying(long nr, long a1, long a2, long a3, long a4, long a5) {
        long r;
        do {
            r = Syscall.raw(nr, a1, a2, a3, a4, a5, 0);
        } while (r == -Errno.EINTR.value);
        return r;
    }

    /** The parts of struct stat molt looks at (offsets of the x86-64 layout). */
    record Stat(long dev, long ino, int mode) {
        boolean isSocket() {
            return (mode & S_IFMT) == S_IFSOCK;
        }

        static Stat from(MemorySegment st) {
            return new Stat(st.get(JAVA_LONG, 0), st.get(JAVA_LONG, 8), st.get(JAVA_INT, 24));
        }
    }

    /** lstat(2); empty if nothing is there. */
    static Optional<Stat> lstat(String path) throws IOException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = a.allocate(144, 8);
            long r = Syscall.raw(NEWFSTATAT, AT_FDCWD, a.allocateFrom(path).address(), st.address(),
                    AT_SYMLINK_NOFOLLOW, 0, 0);
            if (r == -Errno.ENOENT.value) return Optional.empty();
            if (r < 0) throw ioError("Unable to stat " + path, "lstat", (int) -r);
            return Optional.of(Stat.from(st));
        }
    }

    /** fstat(2). */
    static Stat fstat(int fd) throws IOException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = a.allocate(144, 8);
            long r = Syscall.raw(Syscall.FSTAT, fd, st.address(), 0, 0, 0, 0);
            if (r < 0) throw ioError("Unable to stat fd " + fd, "fstat", (int) -r);
            return Stat.from(st);
        }
    }

    /** getsockopt(2) of an int option; -errno on failure. */
    static int intSockopt(int fd, int level, int option) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment value = a.allocate(JAVA_INT);
            MemorySegment len = a.allocate(JAVA_INT);
            len.set(JAVA_INT, 0, 4);
            long r = Syscall.raw(GETSOCKOPT, fd, level, option, value.address(), len.address(), 0);
            return r < 0 ? (int) r : value.get(JAVA_INT, 0);
        }
    }

    static long setIntSockopt(int fd, int level, int option, int v) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment value = a.allocate(JAVA_INT);
            value.set(JAVA_INT, 0, v);
            return Syscall.raw(SETSOCKOPT, fd, level, option, value.address(), 4, 0);
        }
    }
}
