package dev.molt.migration.channel;

import dev.molt.sys.Errno;
import dev.molt.sys.Fd;
import dev.molt.sys.Syscall;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.List;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * How sockets are obtained: socket/bind/listen/connect/accept on raw descriptors, with QEMU's error
 * messages (util/qemu-sockets.c). Everything that makes a socket is here, so that a socket can as
 * well come from an inherited or passed descriptor ({@link MigrationStream#ofFd}), except the
 * listening unix socket, which {@link dev.molt.sys.UnixListen} makes as for every unix path molt listens on.
 */
final class Sockets {
    private Sockets() {}

    private static final int SUN_PATH = 108, SOCKADDR_UN = 110;
    private static final int ECONNABORTED = 103, EAFNOSUPPORT = 97, EISCONN = 106;
    private static final ValueLayout.OfShort PORT = JAVA_SHORT.withOrder(ByteOrder.BIG_ENDIAN);
    static final int BACKLOG = 16;

    private static Fd socket(int family, String failure) throws IOException {
        long r = Syscall.raw(Syscall.SOCKET, family, Native.SOCK_STREAM | Native.SOCK_CLOEXEC, 0, 0, 0, 0);
        if (r < 0) throw Native.ioError(failure, "socket", (int) -r);
        return new Fd((int) r, "socket");
    }

    private static MemorySegment unixAddress(Arena a, String path) throws IOException {
        byte[] bytes = path.getBytes(StandardCharsets.UTF_8);
        if (bytes.length > SUN_PATH) throw new IOException("UNIX socket path '" + path + "' is too long");
        MemorySegment sa = a.allocate(SOCKADDR_UN);
        sa.set(JAVA_SHORT, 0, (short) Native.AF_UNIX);
        MemorySegment.copy(bytes, 0, sa, JAVA_BYTE, 2, bytes.length);
        return sa;
    }

    static Fd connectUnix(String path) throws IOException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment sa = unixAddress(a, path);
            Fd s = socket(Native.AF_UNIX, "Failed to create socket");
            long r = Native.retrying(Syscall.CONNECT, s.num(), sa.address(), sa.byteSize(), 0, 0);
            if (r < 0 && r != -EISCONN) {
                s.close();
                throw Native.ioError("Failed to connect to '" + path + "'", "connect", (int) -r);
            }
            return s;
        }
    }

    static void listen(Fd s) throws IOException {
        long r = Syscall.raw(Syscall.LISTEN, s.num(), BACKLOG, 0, 0, 0, 0);
        if (r < 0) {
            s.close();
            throw Native.ioError("Failed to listen on socket", "listen", (int) -r);
        }
    }

    /** getaddrinfo's errors, in glibc's words. */
    private static IOException resolutionFailed(String host, String port, String why) {
        return new IOException("address resolution failed for " + host + ":" + port + ": " + why);
    }

    /** A numeric service, as getaddrinfo takes it: no service names, nothing above 65535. */
    private static int port(String host, String port) throws IOException {
        if (port.isEmpty() || port.length() > 5 || !port.chars().allMatch(c -> c >= '0' && c <= '9')
                || Integer.parseInt(port) > 65535) {
            throw resolutionFailed(host, port, "Servname not supported for ai_socktype");
        }
        return Integer.parseInt(port);
    }

    private static List<InetAddress> resolve(String host, String port) throws IOException {
        if (host.isEmpty()) throw resolutionFailed(host, port, "Name or service not known");
        try {
            return List.of(InetAddress.getAllByName(host));
        } catch (UnknownHostException e) {
            throw resolutionFailed(host, port, "Name or service not known");
        }
    }

    /** Like QEMU: every address the name resolves to in turn; the last failure is reported. */
    static Fd connectTcp(String host, String port) throws IOException {
        int p = port(host, port);
        int lastErrno = Errno.ECONNREFUSED.value;
        for (InetAddress address : resolve(host, port)) {
            try (Arena a = Arena.ofConfined()) {
                MemorySegment sa = inetAddress(a, address, p);
                Fd s = socket(family(address), "Failed to create socket family " + family(address));
                long r = Native.retrying(Syscall.CONNECT, s.num(), sa.address(), sa.byteSize(), 0, 0);
                if (r >= 0 || r == -EISCONN) return s;
                s.close();
                lastErrno = (int) -r;
            }
        }
        throw Native.ioError("Failed to connect to '" + host + ":" + port + "'", "connect", lastErrno);
    }

    /**
     * Binds and listens like QEMU's inet_listen_saddr. An empty host (tcp::PORT) listens on every
     * address, IPv6 and IPv4 on one socket; a busy address moves on to the next one.
     */
    static Fd listenTcp(String host, String port) throws IOException {
        int p = port(host, port);
        List<InetAddress> addresses = host.isEmpty()
                ? List.of(InetAddress.getByAddress(new byte[16]), InetAddress.getByAddress(new byte[4]))
                : resolve(host, port);
        boolean created = false;
        int lastErrno = Errno.EADDRINUSE.value;
        for (InetAddress address : addresses) {
            long r = Syscall.raw(Syscall.SOCKET, family(address), Native.SOCK_STREAM | Native.SOCK_CLOEXEC, 0, 0, 0, 0);
            if (r < 0) {
                lastErrno = (int) -r;
                if (r == -EAFNOSUPPORT) continue;
                throw Native.ioError("Failed to create a socket", "socket", lastErrno);
            }
            created = true;
            Fd s = new Fd((int) r, "socket");
            Native.setIntSockopt(s.num(), Native.SOL_SOCKET, Native.SO_REUSEADDR, 1);
            if (address instanceof Inet6Address) {
                // Dual stack only for the wildcard, as QEMU without ipv4=/ipv6= options.
                Native.setIntSockopt(s.num(), Native.IPPROTO_IPV6, Native.IPV6_V6ONLY, host.isEmpty() ? 0 : 1);
            }
            try (Arena a = Arena.ofConfined()) {
                MemorySegment sa = inetAddress(a, address, p);
                r = Syscall.raw(Syscall.BIND, s.num(), sa.address(), sa.byteSize(), 0, 0, 0);
            }
            if (r == -Errno.EADDRINUSE.value) {
                s.close();
                continue;
            }
            if (r < 0) {
                s.close();
                throw Native.ioError("Failed to bind socket", "bind", (int) -r);
            }
            listen(s);
            return s;
        }
        throw Native.ioError(created ? "Failed to find an available port" : "Failed to create a socket", "bind", lastErrno);
    }

    private static int family(InetAddress a) {
        return a instanceof Inet4Address ? Native.AF_INET : Native.AF_INET6;
    }

    private static MemorySegment inetAddress(Arena a, InetAddress address, int port) {
        byte[] raw = address.getAddress();
        if (address instanceof Inet4Address) {
            MemorySegment sa = a.allocate(16);
            sa.set(JAVA_SHORT, 0, (short) Native.AF_INET);
            sa.set(PORT, 2, (short) port);
            MemorySegment.copy(raw, 0, sa, JAVA_BYTE, 4, 4);
            return sa;
        }
        MemorySegment sa = a.allocate(28);
        sa.set(JAVA_SHORT, 0, (short) Native.AF_INET6);
        sa.set(PORT, 2, (short) port);
        MemorySegment.copy(raw, 0, sa, JAVA_BYTE, 8, 16);
        sa.set(JAVA_INT, 24, ((Inet6Address) address).getScopeId());
        return sa;
    }

    /** The port a TCP socket is bound to (getsockname). */
    static int boundPort(Fd s) throws IOException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment sa = a.allocate(128);
            MemorySegment len = a.allocate(JAVA_INT);
            len.set(JAVA_INT, 0, 128);
            long r = Syscall.raw(Native.GETSOCKNAME, s.num(), sa.address(), len.address(), 0, 0, 0);
            if (r < 0) throw Native.ioError("Unable to query socket address", "getsockname", (int) -r);
            return sa.get(PORT, 2) & 0xffff;
        }
    }

    /** accept4 with CLOEXEC, skipping connections that died in the queue; -errno on failure. */
    static long accept(int listening) {
        long r;
        do {
            r = Native.retrying(Syscall.ACCEPT4, listening, 0, 0, Native.SOCK_CLOEXEC, 0);
        } while (r == -ECONNABORTED);
        return r;
    }
}
