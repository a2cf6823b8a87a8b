package dev.molt.monitor;

import dev.molt.sys.ErrnoException;
import dev.molt.sys.Fd;
import dev.molt.sys.UnixSocket;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Optional;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

/**
 * One client accepted by a {@link SocketListener}, on its raw socket fd: reads by recvmsg(2),
 * keeping an fd passed with SCM_RIGHTS for {@code getfd} (unix sockets; TCP never carries any),
 * writes by write(2).
 */
final class SocketConnection implements Connection {
    private final Fd fd;
    private final Arena arena = Arena.ofAuto(); // freed by the GC: a blocked read may still use it after close
    private final MemorySegment readBuf = arena.allocate(64 * 1024);
    private final MemorySegment writeBuf = arena.allocate(64 * 1024);
    private int pendingFd = -1;
    private volatile boolean closed;

    SocketConnection(Fd fd) {
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
        UnixSocket.shutdown(fd); // wakes the session's reader, which close alone does not on Linux
        fd.close();
        if (pendingFd >= 0) new Fd(pendingFd, "unclaimed passed fd").close();
        pendingFd = -1;
    }
}
