package dev.molt.monitor;

import dev.molt.sys.Fd;
import dev.molt.sys.SocketStream;

import java.io.InputStream;
import java.io.OutputStream;
import java.util.Optional;


/**
 * One client accepted by a {@link SocketListener}, on its raw socket fd: reads by recvmsg(2),
 * keeping an fd passed with SCM_RIGHTS for {@code getfd} (unix sockets; TCP never carries any),
 * writes by write(2).
 */
final class SocketConnection implements Connection {
    private final SocketStream stream;
    private int pendingFd = -1;
    private volatile boolean closed;

    SocketConnection(Fd fd) {
        this.stream = new SocketStream(fd, this::keep);
    }

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

    Fd fd() {
        return stream.fd();
    }

    @Override
    public boolean crossesReload() {
        return true;
    }

    @Override
    public Fd duplicateForReload() {
        return dev.molt.sys.Posix.dup(fd());
    }

    @Override
    public InputStream input() {
        return stream.input();
    }

    @Override
    public OutputStream output() {
        return stream.output();
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        stream.close(); // shuts down first: wakes the session's reader, which close alone does not on Linux
        if (pendingFd >= 0) new Fd(pendingFd, "unclaimed passed fd").close();
        pendingFd = -1;
    }
}
