package dev.molt.monitor;

import dev.molt.sys.ErrnoException;
import dev.molt.sys.Fd;
import dev.molt.sys.UnixSocket;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.HexFormat;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

/**
 * A unix-socket QMP listener on raw sockets, so that clients can pass file descriptors with
 * SCM_RIGHTS (getfd, then migrate to fd:NAME), which the JDK's socket channels cannot receive.
 * Same rules as {@link SocketListener#unix}: mode 0600, a stale socket replaced, any other file an error.
 */
public final class FdPassingUnixListener implements Listener {
    private final Fd fd;
    private final Path path;

    private FdPassingUnixListener(Fd fd, Path path) {
        this.fd = fd;
        this.path = path;
    }

    public static FdPassingUnixListener listen(Path path) throws IOException {
        if (Files.exists(path, LinkOption.NOFOLLOW_LINKS) && !SocketListener.isSocket(path)) {
            throw new IOException(path + " exists and is not a socket");
        }
        // Bound under a private name, restricted, then renamed: no client ever sees it with the umask's mode.
        Path temp = path.toAbsolutePath().resolveSibling(".m" + HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt()));
        Fd fd;
        try {
            fd = UnixSocket.listen(temp.toString(), 16);
        } catch (ErrnoException e) {
            throw new IOException("cannot listen on " + path + ": " + e.getMessage(), e);
        }
        try {
            Files.setPosixFilePermissions(temp, PosixFilePermissions.fromString("rw-------"));
            Files.move(temp, path, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException | RuntimeException e) {
            fd.close();
            Files.deleteIfExists(temp);
            throw e;
        }
        return new FdPassingUnixListener(fd, path);
    }

    @Override
    public Connection accept() throws IOException {
        try {
            return new Client(UnixSocket.accept(fd));
        } catch (ErrnoException e) {
            throw new IOException("accept on " + describe() + ": " + e.getMessage(), e);
        } catch (IllegalStateException e) {
            throw new IOException(describe() + " is closed", e);
        }
    }

    @Override
    public void close() {
        UnixSocket.shutdown(fd);
        fd.close();
        try {
            Files.deleteIfExists(path);
        } catch (IOException ignored) {
            // Nothing else to do at close.
        }
    }

    @Override
    public String describe() {
        return "unix:" + path;
    }

    /** One client: reads by recvmsg (keeping a passed fd for getfd), writes by write(2). */
    private static final class Client implements Connection {
        private final Fd fd;
        private final Arena arena = Arena.ofAuto(); // freed by the GC: a blocked read may still use it after close
        private final MemorySegment readBuf = arena.allocate(64 * 1024);
        private final MemorySegment writeBuf = arena.allocate(64 * 1024);
        private int pendingFd = -1;
        private volatile boolean closed;

        Client(Fd fd) {
            this.fd = fd;
        }

        private final InputStream in = new InputStream() {
            @Override
            public int read() throws IOException {
                byte[] one = new byte[1];
                int n = read(one, 0, 1);
                return n < 0 ? -1 : one[0] & 0xFF;
            }

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                if (len == 0) return 0;
                UnixSocket.Received r;
                try {
                    r = UnixSocket.recv(fd, readBuf, Math.min(len, readBuf.byteSize()));
                } catch (ErrnoException | IllegalStateException e) {
                    if (closed) return -1;
                    throw new IOException(e.getMessage(), e);
                }
                if (r.fd() >= 0) keep(r.fd());
                if (r.bytes() == 0) return -1;
                MemorySegment.copy(readBuf, JAVA_BYTE, 0, b, off, r.bytes());
                return r.bytes();
            }
        };

        private final OutputStream out = new OutputStream() {
            @Override
            public void write(int b) throws IOException {
                write(new byte[] {(byte) b}, 0, 1);
            }

            @Override
            public synchronized void write(byte[] b, int off, int len) throws IOException {
                try {
                    while (len > 0) {
                        int chunk = (int) Math.min(len, writeBuf.byteSize());
                        MemorySegment.copy(b, off, writeBuf, JAVA_BYTE, 0, chunk);
                        UnixSocket.sendAll(fd, writeBuf, chunk);
                        off += chunk;
                        len -= chunk;
                    }
                } catch (ErrnoException | IllegalStateException e) {
                    throw new IOException(e.getMessage(), e);
                }
            }
        };

        private synchronized void keep(int received) {
            if (pendingFd >= 0) new Fd(pendingFd, "unclaimed passed fd").close(); // only the latest counts, as in QEMU
            pendingFd = received;
        }

        @Override
        public synchronized Optional<PassedFd> takeReceivedFd() {
            if (pendingFd < 0) return Optional.empty();
            int f = pendingFd;
            pendingFd = -1;
            return Optional.of(new PassedFd(f, () -> new Fd(f, "passed fd").close()));
        }

        @Override
        public InputStream input() {
            return in;
        }

        @Override
        public OutputStream output() {
            return out;
        }

        @Override
        public synchronized void close() {
            if (closed) return;
            closed = true;
            UnixSocket.shutdown(fd);
            fd.close();
            if (pendingFd >= 0) new Fd(pendingFd, "unclaimed passed fd").close();
            pendingFd = -1;
        }
    }
}
