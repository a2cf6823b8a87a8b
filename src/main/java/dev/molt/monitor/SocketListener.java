package dev.molt.monitor;

import dev.molt.sys.ErrnoException;
import dev.molt.sys.EventFd;
import dev.molt.sys.Fd;
import dev.molt.sys.ListenSocket;
import dev.molt.sys.Posix;
import dev.molt.sys.UnixListen;

import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.Optional;
import java.util.Set;

/**
 * A listening unix or TCP socket, as {@code -qmp unix:PATH,server} and {@code -qmp tcp:HOST:PORT,server}
 * make, on a raw socket fd: clients of a unix socket can pass fds with SCM_RIGHTS (getfd, which the
 * JDK's channels cannot receive), and the socket can be handed to the next molt across exec (live
 * update) and served there again, so that it never stops listening. Accepting waits in poll(2) beside
 * a wake-up eventfd, so {@link #accept()} must run on a platform thread.
 */
public final class SocketListener implements Listener {
    /** Clients that may wait to be accepted (for instance while molt execs its next version). */
    static final int BACKLOG = MonitorServer.MAX_CLIENTS;

    private final Fd fd;
    private final EventFd wake;
    private final String description;
    private final Optional<Path> ownedPath;

    private SocketListener(Fd fd, String description, Optional<Path> ownedPath) {
        this.fd = fd;
        this.description = description;
        this.ownedPath = ownedPath;
        try {
            ListenSocket.setNonBlocking(fd); // accept after poll must not block if the client gave up meanwhile
            this.wake = new EventFd("wake-up of " + description);
        } catch (ErrnoException e) {
            fd.close();
            throw e;
        }
    }

    /** Listens on a unix socket at {@code path} as {@link UnixListen#at} does (mode 0600, a stale socket replaced). */
    public static SocketListener unix(Path path) throws IOException {
        return new SocketListener(UnixListen.at(path), "unix:" + path, Optional.of(path));
    }

    /** Listens on TCP {@code host:port}; port 0 picks a free port (see {@link #describe()}). */
    public static SocketListener tcp(String host, int port) throws IOException {
        InetAddress address = InetAddress.getByName(host);
        Fd fd;
        try {
            fd = ListenSocket.tcp(address, port, BACKLOG);
        } catch (ErrnoException e) {
            throw new IOException("cannot listen on tcp:" + host + ":" + port + ": " + e.getMessage(), e);
        }
        return new SocketListener(fd, "tcp:" + host + ":" + ListenSocket.localPort(fd), Optional.empty());
    }

    /**
     * Serves a unix socket listening at {@code path} that the previous molt handed over across
     * exec. Throws, naming what is wrong, if {@code fd} is not a listening unix stream socket or
     * nothing is at {@code path} any more (no client could reach it); the fd is left to the caller then.
     */
    public static SocketListener inheritedUnix(Fd fd, Path path) throws IOException {
        check(fd, Set.of(ListenSocket.AF_UNIX), "unix");
        if (!Files.exists(path, LinkOption.NOFOLLOW_LINKS) || !isSocket(path)) {
            throw new IOException("no socket is at " + path + " any more");
        }
        return new SocketListener(fd, "unix:" + path, Optional.of(path));
    }

    /**
     * Serves a listening unix or TCP socket its manager opened and handed down ({@code -chardev
     * socket,fd=N}). The socket is the manager's: molt never unlinks its path. Throws, naming what is
     * wrong, if {@code fd} is not a listening stream socket.
     */
    public static SocketListener handedDown(Fd fd) throws IOException {
        check(fd, Set.of(ListenSocket.AF_UNIX, ListenSocket.AF_INET, ListenSocket.AF_INET6), "listening");
        Posix.setCloexec(fd.num(), true); // a live update hands it on by name, like every preserved fd
        return new SocketListener(fd, "fd:" + fd.num(), Optional.empty());
    }

    /** Serves a TCP socket listening on {@code host:port} that the previous molt handed over; see {@link #inheritedUnix}. */
    public static SocketListener inheritedTcp(Fd fd, String host, int port) throws IOException {
        check(fd, Set.of(ListenSocket.AF_INET, ListenSocket.AF_INET6), "TCP");
        int bound = ListenSocket.localPort(fd);
        if (port != 0 && bound != port) throw new IOException("it listens on port " + bound + ", not " + port);
        return new SocketListener(fd, "tcp:" + host + ":" + bound, Optional.empty());
    }

    private static void check(Fd fd, Set<Integer> families, String kind) throws IOException {
        ListenSocket.Kind k;
        try {
            k = ListenSocket.kind(fd);
        } catch (ErrnoException e) {
            throw new IOException("it is not a socket (" + e.getMessage() + ")", e);
        }
        if (!families.contains(k.domain()) || !k.stream()) throw new IOException("it is not a " + kind + " stream socket");
        if (!k.listening()) throw new IOException("it is not listening");
    }

    static boolean isSocket(Path path) throws IOException {
        Object mode = Files.readAttributes(path, "unix:mode", LinkOption.NOFOLLOW_LINKS).get("mode");
        return mode instanceof Integer m && (m & 0170000) == 0140000;
    }

    @Override
    public Optional<Connection> accept() throws IOException {
        try {
            while (ListenSocket.awaitClient(fd, wake.fd())) {
                Optional<Connection> client = acceptWaiting();
                if (client.isPresent()) return client;
                // The client gave up before it was accepted: wait on.
            }
            wake.clear();
            return Optional.empty();
        } catch (ErrnoException e) {
            throw new IOException("accept on " + description + ": " + e.getMessage(), e);
        } catch (IllegalStateException e) {
            throw new IOException(description + " is closed", e);
        }
    }

    @Override
    public Optional<Connection> acceptWaiting() throws IOException {
        try {
            return ListenSocket.acceptWaiting(fd).map(SocketConnection::new);
        } catch (ErrnoException e) {
            throw new IOException("accept on " + description + ": " + e.getMessage(), e);
        } catch (IllegalStateException e) {
            throw new IOException(description + " is closed", e);
        }
    }

    @Override
    public void wakeup() {
        try {
            wake.signal();
        } catch (IllegalStateException closed) {
            // Closed: nobody waits.
        }
    }

    /** The listening socket, to hand over across exec; it stays this listener's. */
    public Fd fd() {
        return fd;
    }

    /** Stops listening and removes the socket file this listener serves. */
    @Override
    public void close() {
        if (!fd.isOpen()) return;
        fd.close();
        wake.close();
        // After a reload the new implementation listens on a duplicate of this socket, at this path.
        if (dev.molt.sys.ReadGate.get().detached()) return;
        ownedPath.ifPresent(p -> {
            try {
                if (isSocket(p)) Files.deleteIfExists(p);
            } catch (IOException ignored) {
                // Already gone or replaced.
            }
        });
    }

    @Override
    public String describe() {
        return description;
    }
}
