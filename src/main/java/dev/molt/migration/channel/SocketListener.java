package dev.molt.migration.channel;

import dev.molt.sys.Errno;
import dev.molt.sys.Fd;
import dev.molt.sys.Syscall;
import dev.molt.sys.UnixListen;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.Optional;

/**
 * A listening socket. close() may come from another thread while accept() blocks (migrate_cancel,
 * shutdown): it shuts the socket down, which makes a blocked accept return on Linux, and the
 * descriptor is closed by whichever of the two finishes last, so that its number is never reused
 * under a running accept.
 */
final class SocketListener implements PendingIncoming {
    private final Fd fd;
    private final MigrationAddress address;
    /** The socket file this listener made and removes when closed, with its identity at bind time. */
    private final Optional<SocketFile> socketFile;
    private int accepting;
    private boolean closed;

    private record SocketFile(String path, Native.Stat stat) {}

    private SocketListener(Fd fd, MigrationAddress address, Optional<SocketFile> socketFile) {
        this.fd = fd;
        this.address = address;
        this.socketFile = socketFile;
    }

    /** Listens at the path as {@link UnixListen#at} does: mode 0600, a stale socket replaced, any other file refused. */
    static SocketListener unix(MigrationAddress.Unix unix) throws IOException {
        Fd fd;
        try {
            fd = UnixListen.at(Path.of(unix.path()));
        } catch (InvalidPathException e) {
            throw new IOException("UNIX socket path '" + unix.path() + "' is invalid: " + e.getReason(), e);
        }
        try {
            Optional<Native.Stat> stat = Native.lstat(unix.path());
            return new SocketListener(fd, unix, stat.map(s -> new SocketFile(unix.path(), s)));
        } catch (IOException e) {
            fd.close();
            throw e;
        }
    }

    static SocketListener tcp(MigrationAddress.Tcp tcp) throws IOException {
        Fd fd = Sockets.listenTcp(tcp.host(), tcp.port());
        try {
            var bound = new MigrationAddress.Tcp(tcp.host(), Integer.toString(Sockets.boundPort(fd)));
            return new SocketListener(fd, bound, Optional.empty());
        } catch (IOException e) {
            fd.close();
            throw e;
        }
    }

    /**
     * A socket the caller created (cpr-transfer's {@code addr.type=fd}): QEMU checks that it is a
     * socket and calls listen() on it, which is harmless if it already listens.
     */
    static SocketListener onDescriptor(Fd fd, MigrationAddress address, String name) throws IOException {
        try {
            if (!Native.fstat(fd.num()).isSocket()) throw new IOException("File descriptor '" + name + "' is not a socket");
        } catch (IOException e) {
            fd.close();
            throw e;
        }
        Sockets.listen(fd);
        return new SocketListener(fd, address, Optional.empty());
    }

    @Override
    public MigrationStream accept() throws IOException {
        int n;
        synchronized (this) {
            if (closed) throw new IOException("Stopped listening on " + describe());
            accepting++;
            n = fd.num();
        }
        try {
            long r = Sockets.accept(n);
            synchronized (this) {
                if (closed) {
                    if (r >= 0) Syscall.raw(Syscall.CLOSE, r, 0, 0, 0, 0, 0);
                    throw new IOException("Stopped listening on " + describe());
                }
            }
            if (r < 0) throw Native.ioError("Failed to accept a connection on " + describe(), "accept", (int) -r);
            return FdStream.of(new Fd((int) r, describe()), describe(), true, true);
        } finally {
            synchronized (this) {
                if (--accepting == 0 && closed) fd.close();
            }
        }
    }

    @Override
    public MigrationAddress address() {
        return address;
    }

    @Override
    public void close() {
        synchronized (this) {
            if (closed) return;
            closed = true;
            Syscall.raw(Native.SHUTDOWN, fd.num(), Native.SHUT_RDWR, 0, 0, 0, 0);
            if (accepting == 0) fd.close();
        }
        socketFile.ifPresent(SocketListener::removeIfUnchanged);
    }

    /** Removes the socket file unless someone replaced it since (a newer listener on the same path). */
    private static void removeIfUnchanged(SocketFile f) {
        try {
            Optional<Native.Stat> now = Native.lstat(f.path());
            if (now.isEmpty() || now.get().dev() != f.stat().dev() || now.get().ino() != f.stat().ino()) return;
            try (Arena a = Arena.ofConfined()) {
                long r = Syscall.raw(Syscall.UNLINK, a.allocateFrom(f.path()).address(), 0, 0, 0, 0, 0);
                if (r < 0 && r != -Errno.ENOENT.value) {
                    System.err.println("molt: cannot remove migration socket " + f.path() + ": " + Native.strerror((int) -r));
                }
            }
        } catch (IOException e) {
            System.err.println("molt: cannot remove migration socket " + f.path() + ": " + e.getMessage());
        }
    }
}
