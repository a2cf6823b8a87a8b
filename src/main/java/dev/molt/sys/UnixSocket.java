package dev.molt.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * Unix stream sockets through raw system calls, for what the JDK's channels cannot do: receive file
 * descriptors with SCM_RIGHTS (QMP getfd) and wrap a listening fd inherited across exec. Every fd is
 * created close-on-exec (java-platform.md §1.8, §1.9).
 */
public final class UnixSocket {
    private UnixSocket() {}

    private static final int AF_UNIX = 1, SOCK_STREAM = 1, SOCK_CLOEXEC = 02000000;
    private static final int SOL_SOCKET = 1, SCM_RIGHTS = 1, MSG_CMSG_CLOEXEC = 0x40000000, MSG_CTRUNC = 0x8, MSG_NOSIGNAL = 0x4000;
    private static final int SHUT_RDWR = 2;
    private static final int SUN_PATH_MAX = 108;

    /**
     * A listening socket bound to {@code path} (which must not exist), with whatever mode the umask
     * gives: only for {@link UnixListen}, which binds where nobody else can reach it.
     */
    static Fd listenUnrestricted(String path, int backlog) {
        return addressed("bind", path, (fd, addr, len) -> {
            Syscall.call("bind " + path, Syscall.BIND, fd.num(), addr.address(), len);
            Syscall.call("listen " + path, Syscall.LISTEN, fd.num(), backlog);
        });
    }

    /** A socket connected to the listener at {@code path} (close-on-exec). */
    public static Fd connect(String path) {
        return addressed("connect", path, (fd, addr, len) -> Syscall.call("connect " + path, Syscall.CONNECT, fd.num(), addr.address(), len));
    }

    private interface AddressedCall {
        void call(Fd fd, MemorySegment sockaddr, long length);
    }

    /** A new close-on-exec unix socket, given to {@code call} with {@code path} as a sockaddr_un; closed if it fails. */
    private static Fd addressed(String what, String path, AddressedCall call) {
        byte[] p = path.getBytes(StandardCharsets.UTF_8);
        if (p.length >= SUN_PATH_MAX) throw new ErrnoException(what + " " + path + " (path too long)", Errno.EINVAL.value);
        Fd fd = new Fd((int) Syscall.call("socket", Syscall.SOCKET, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), "unix:" + path);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment addr = a.allocate(2 + SUN_PATH_MAX, 8);
            addr.set(JAVA_SHORT, 0, (short) AF_UNIX);
            MemorySegment.copy(p, 0, addr, JAVA_BYTE, 2, p.length);
            call.call(fd, addr, 2 + p.length + 1);
            return fd;
        } catch (RuntimeException e) {
            fd.close();
            throw e;
        }
    }

    /** Blocks for a client; the returned fd is close-on-exec. */
    public static Fd accept(Fd listening) {
        int fd = (int) Syscall.call("accept4", Syscall.ACCEPT4, listening.num(), 0, 0, SOCK_CLOEXEC, 0, 0);
        return new Fd(fd, "unix-client");
    }

    /** Wakes threads blocked in accept or recvmsg on {@code fd} (close alone does not on Linux). */
    public static void shutdown(Fd fd) {
        if (fd.isOpen()) Syscall.raw(Syscall.SHUTDOWN, fd.num(), SHUT_RDWR, 0, 0, 0, 0);
    }

    /** What one recvmsg gave: the byte count (0 at end of stream) and an fd if one came along (else -1). */
    public record Received(int bytes, int fd) {}

    /**
     * Reads up to {@code len} bytes into {@code buf}, taking at most one passed fd (further fds in
     * the same message are closed: QMP passes one at a time).
     */
    public static Received recv(Fd fd, MemorySegment buf, long len) {
        return recv(fd.num(), buf, len);
    }

    /** {@link #recv(Fd, MemorySegment, long)} on a socket borrowed by number. */
    public static Received recv(int socket, MemorySegment buf, long len) {
        try (Arena a = Arena.ofConfined()) {
            return new Receiver(a).recv(socket, buf, len);
        }
    }

    /**
     * recvmsg's msghdr, iovec and control buffer, made once for a reader that receives once per
     * request (a qtest or monitor connection) instead of in an arena of their own per call.
     */
    public static final class Receiver {
        private static final int CONTROL_LEN = 16 + 8 * 4; // room for four ints: excess fds are closed, not leaked
        private final MemorySegment iov;
        private final MemorySegment control;
        private final MemorySegment msg;

        public Receiver(Arena arena) {
            iov = arena.allocate(16, 8);
            control = arena.allocate(CONTROL_LEN, 8);
            msg = arena.allocate(56, 8);
        }

        /** Reads up to {@code len} bytes into {@code buf}, taking at most one passed fd; one caller at a time. */
        public Received recv(int socket, MemorySegment buf, long len) {
            iov.set(JAVA_LONG, 0, buf.address());
            iov.set(JAVA_LONG, 8, len);
            msg.set(JAVA_LONG, 0, 0); // no name
            msg.set(JAVA_LONG, 8, 0);
            msg.set(JAVA_LONG, 48, 0); // flags, which the last call set
            msg.set(JAVA_LONG, 16, iov.address());
            msg.set(JAVA_LONG, 24, 1);
            msg.set(JAVA_LONG, 32, control.address());
            msg.set(JAVA_LONG, 40, CONTROL_LEN);
            long n;
            do {
                n = Syscall.raw(Syscall.RECVMSG, socket, msg.address(), MSG_CMSG_CLOEXEC, 0, 0, 0);
            } while (n == -Errno.EINTR.value);
            if (n < 0) throw new ErrnoException("recvmsg", (int) -n);
            int passed = -1;
            long used = msg.get(JAVA_LONG, 40);
            long off = 0;
            while (off + 16 <= used) {
                long cmsgLen = control.get(JAVA_LONG, off);
                if (cmsgLen < 16 || off + cmsgLen > used) break;
                if (control.get(JAVA_INT, off + 8) == SOL_SOCKET && control.get(JAVA_INT, off + 12) == SCM_RIGHTS) {
                    for (long d = off + 16; d + 4 <= off + cmsgLen; d += 4) {
                        int received = control.get(JAVA_INT, d);
                        if (passed < 0) passed = received;
                        else Syscall.raw(Syscall.CLOSE, received, 0, 0, 0, 0, 0);
                    }
                }
                off += (cmsgLen + 7) & ~7L;
            }
            if ((msg.get(JAVA_INT, 48) & MSG_CTRUNC) != 0 && passed < 0) {
                throw new ErrnoException("recvmsg (control data truncated)", Errno.EINVAL.value);
            }
            return new Received((int) n, passed);
        }
    }

    /**
     * Sends one byte carrying {@code passed} with SCM_RIGHTS on the connected socket {@code socket}
     * (cpr-transfer hands guest RAM memfds over this way, one fd per byte, as QEMU does).
     */
    public static void sendFd(int socket, int passed) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment data = a.allocate(1);
            data.set(JAVA_BYTE, 0, (byte) ' ');
            MemorySegment iov = a.allocate(16, 8);
            iov.set(JAVA_LONG, 0, data.address());
            iov.set(JAVA_LONG, 8, 1);
            MemorySegment control = a.allocate(24, 8); // CMSG_SPACE(sizeof(int))
            control.set(JAVA_LONG, 0, 20);             // CMSG_LEN(sizeof(int))
            control.set(JAVA_INT, 8, SOL_SOCKET);
            control.set(JAVA_INT, 12, SCM_RIGHTS);
            control.set(JAVA_INT, 16, passed);
            MemorySegment msg = a.allocate(56, 8);
            msg.set(JAVA_LONG, 16, iov.address());
            msg.set(JAVA_LONG, 24, 1);
            msg.set(JAVA_LONG, 32, control.address());
            msg.set(JAVA_LONG, 40, 24);
            long n;
            do {
                n = Syscall.raw(Syscall.SENDMSG, socket, msg.address(), MSG_NOSIGNAL, 0, 0, 0);
            } while (n == -Errno.EINTR.value);
            if (n < 0) throw new ErrnoException("sendmsg", (int) -n);
            if (n != 1) throw new ErrnoException("sendmsg (short write)", Errno.EIO.value);
        }
    }

    public static void sendAll(Fd fd, MemorySegment buf, long len) {
        long off = 0;
        while (off < len) {
            long n = Syscall.raw(Syscall.WRITE, fd.num(), buf.address() + off, len - off, 0, 0, 0);
            if (n == -Errno.EINTR.value) continue;
            if (n < 0) throw new ErrnoException("write", (int) -n);
            off += n;
        }
    }

    private static final int SO_PEERCRED = 17, GETSOCKOPT = 55;

    /**
     * The PID of the process that connected (or accepted) the other end of unix socket {@code fd},
     * as the kernel recorded it at connect time (SO_PEERCRED), or 0 when it is not visible here (a
     * peer in another PID namespace).
     */
    public static int peerPid(int fd) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment cred = a.allocate(12); // struct ucred: pid, uid, gid
            MemorySegment len = a.allocate(JAVA_INT);
            len.set(JAVA_INT, 0, 12);
            Syscall.call("getsockopt SO_PEERCRED", GETSOCKOPT, fd, SOL_SOCKET, SO_PEERCRED, cred.address(), len.address(), 0);
            return cred.get(JAVA_INT, 0);
        }
    }
}
