package dev.molt.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.nio.ByteOrder;
import java.util.Optional;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * Listening stream sockets through raw system calls, for listeners that outlive an exec (a live
 * update hands the monitors' sockets to the new molt): the fd number is molt's own to hand on, the
 * new process can check what an inherited fd is, and a thread waits for clients in poll(2) beside a
 * wake-up fd, so accepting can stop without closing the socket - shutdown(2) would end the
 * listening itself. Every fd is created close-on-exec. (Unix sockets are bound by {@link UnixListen}.)
 */
public final class ListenSocket {
    private ListenSocket() {}

    public static final int AF_UNIX = 1, AF_INET = 2, AF_INET6 = 10;
    // x86-64 system call numbers not in Syscall's list.
    private static final int GETSOCKNAME = 51, SETSOCKOPT = 54, GETSOCKOPT = 55;
    private static final int SOCK_STREAM = 1, SOCK_CLOEXEC = 02000000;
    private static final int SOL_SOCKET = 1, SO_REUSEADDR = 2, SO_TYPE = 3, SO_ACCEPTCONN = 30, SO_DOMAIN = 39;
    private static final int F_GETFL = 3, F_SETFL = 4;
    private static final short POLLIN = 1;
    private static final int ECONNABORTED = 103;
    private static final ValueLayout.OfShort PORT = JAVA_SHORT.withOrder(ByteOrder.BIG_ENDIAN);

    /**
     * A TCP socket listening on {@code address:port} (port 0: a free one), with SO_REUSEADDR as
     * QEMU and the JDK set it, so that a restarted molt can listen again at once.
     */
    public static Fd tcp(InetAddress address, int port, int backlog) {
        int family = address instanceof Inet4Address ? AF_INET : AF_INET6;
        String what = "tcp:" + address.getHostAddress() + ":" + port;
        Fd fd = new Fd((int) Syscall.call("socket " + what, Syscall.SOCKET, family, SOCK_STREAM | SOCK_CLOEXEC, 0), what);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment one = a.allocate(JAVA_INT);
            one.set(JAVA_INT, 0, 1);
            Syscall.call("setsockopt SO_REUSEADDR", SETSOCKOPT, fd.num(), SOL_SOCKET, SO_REUSEADDR, one.address(), 4, 0);
            MemorySegment sa = inetAddress(a, address, port);
            Syscall.call("bind " + what, Syscall.BIND, fd.num(), sa.address(), sa.byteSize());
            Syscall.call("listen " + what, Syscall.LISTEN, fd.num(), backlog);
            return fd;
        } catch (RuntimeException e) {
            fd.close();
            throw e;
        }
    }

    /** A TCP connection to {@code address:port} (close-on-exec), for a client-mode socket backend. */
    public static Fd connectTcp(InetAddress address, int port) {
        int family = address instanceof Inet4Address ? AF_INET : AF_INET6;
        String what = "tcp:" + address.getHostAddress() + ":" + port;
        Fd fd = new Fd((int) Syscall.call("socket " + what, Syscall.SOCKET, family, SOCK_STREAM | SOCK_CLOEXEC, 0), what);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment sa = inetAddress(a, address, port);
            long r;
            do {
                r = Syscall.raw(Syscall.CONNECT, fd.num(), sa.address(), sa.byteSize(), 0, 0, 0);
            } while (r == -Errno.EINTR.value);
            if (r < 0) throw new ErrnoException("connect " + what, (int) -r);
            return fd;
        } catch (RuntimeException e) {
            fd.close();
            throw e;
        }
    }

    private static MemorySegment inetAddress(Arena a, InetAddress address, int port) {
        byte[] raw = address.getAddress();
        if (address instanceof Inet4Address) {
            MemorySegment sa = a.allocate(16);
            sa.set(JAVA_SHORT, 0, (short) AF_INET);
            sa.set(PORT, 2, (short) port);
            MemorySegment.copy(raw, 0, sa, JAVA_BYTE, 4, 4);
            return sa;
        }
        MemorySegment sa = a.allocate(28);
        sa.set(JAVA_SHORT, 0, (short) AF_INET6);
        sa.set(PORT, 2, (short) port);
        MemorySegment.copy(raw, 0, sa, JAVA_BYTE, 8, 16);
        sa.set(JAVA_INT, 24, ((Inet6Address) address).getScopeId());
        return sa;
    }

    /** What a socket is, as far as a listener cares: its address family, stream or not, listening or not. */
    public record Kind(int domain, boolean stream, boolean listening) {}

    /** Throws {@link ErrnoException} (ENOTSOCK, EBADF) if {@code fd} is no socket. */
    public static Kind kind(Fd fd) {
        return new Kind(intOption(fd, SO_DOMAIN, "SO_DOMAIN"), intOption(fd, SO_TYPE, "SO_TYPE") == SOCK_STREAM,
                intOption(fd, SO_ACCEPTCONN, "SO_ACCEPTCONN") != 0);
    }

    private static int intOption(Fd fd, int option, String name) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment value = a.allocate(JAVA_INT);
            MemorySegment len = a.allocate(JAVA_INT);
            len.set(JAVA_INT, 0, 4);
            Syscall.call("getsockopt " + name, GETSOCKOPT, fd.num(), SOL_SOCKET, option, value.address(), len.address(), 0);
            return value.get(JAVA_INT, 0);
        }
    }

    /** The port an IPv4 or IPv6 socket is bound to (getsockname). */
    public static int localPort(Fd fd) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment sa = a.allocate(128);
            MemorySegment len = a.allocate(JAVA_INT);
            len.set(JAVA_INT, 0, 128);
            Syscall.call("getsockname", GETSOCKNAME, fd.num(), sa.address(), len.address());
            return sa.get(PORT, 2) & 0xffff;
        }
    }

    /**
     * Makes accept(2) on {@code fd} return at once when no client waits. The flag belongs to the
     * socket, not to this process's fd, so a process that inherits the socket sees it too.
     */
    public static void setNonBlocking(Fd fd) {
        long flags = Syscall.call("fcntl F_GETFL", Syscall.FCNTL, fd.num(), F_GETFL);
        if ((flags & Posix.O_NONBLOCK) == 0) Syscall.call("fcntl F_SETFL", Syscall.FCNTL, fd.num(), F_SETFL, flags | Posix.O_NONBLOCK);
    }

    /**
     * Accepts a client that is already waiting on a non-blocking listening socket; empty if none
     * is. The client's fd is close-on-exec and blocking. A client that gave up while it waited is
     * skipped.
     */
    public static Optional<Fd> acceptWaiting(Fd listening) {
        while (true) {
            long r = Syscall.raw(Syscall.ACCEPT4, listening.num(), 0, 0, SOCK_CLOEXEC, 0, 0);
            if (r >= 0) return Optional.of(new Fd((int) r, "client of " + listening.what()));
            if (r == -Errno.EAGAIN.value) return Optional.empty();
            if (r != -Errno.EINTR.value && r != -ECONNABORTED) throw new ErrnoException("accept4 " + listening.what(), (int) -r);
        }
    }

    /**
     * Waits until a client waits on {@code listening} (true) or {@code wake} becomes readable
     * (false; checked first). It blocks in poll(2), so call it on a platform thread only.
     */
    public static boolean awaitClient(Fd listening, Fd wake) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment fds = a.allocate(16, 4); // two struct pollfd {int fd; short events, revents;}
            fds.set(JAVA_INT, 0, listening.num());
            fds.set(JAVA_SHORT, 4, POLLIN);
            fds.set(JAVA_INT, 8, wake.num());
            fds.set(JAVA_SHORT, 12, POLLIN);
            long r;
            do {
                r = Syscall.raw(Syscall.POLL, fds.address(), 2, -1, 0, 0, 0);
            } while (r == -Errno.EINTR.value);
            if (r < 0) throw new ErrnoException("poll " + listening.what(), (int) -r);
            if (fds.get(JAVA_SHORT, 14) != 0) return false;
            // POLLIN, or an error that the following accept reports.
            return true;
        }
    }
}
