package dev.molt.sys;

import java.io.IOException;
import java.io.OutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

/**
 * An output stream on an fd molt opened itself (through {@link FdSets#open}, so that a path may be
 * {@code /dev/fdset/N}): write(2) from a native buffer, short writes continued, EINTR retried.
 * Closing it closes the fd. Not thread-safe beyond one writer (a chardev's pump).
 */
public final class FdOutputStream extends OutputStream {
    private final Fd fd;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment buf = arena.allocate(16 * 1024);

    public FdOutputStream(Fd fd) {
        this.fd = fd;
    }

    @Override
    public void write(int b) throws IOException {
        write(new byte[] {(byte) b}, 0, 1);
    }

    @Override
    public synchronized void write(byte[] b, int off, int len) throws IOException {
        while (len > 0) {
            int chunk = (int) Math.min(len, buf.byteSize());
            MemorySegment.copy(b, off, buf, JAVA_BYTE, 0, chunk);
            long done = 0;
            while (done < chunk) {
                long r = Syscall.raw(Syscall.WRITE, fd.num(), buf.address() + done, chunk - done, 0, 0, 0);
                if (r == -Errno.EINTR.value) continue;
                if (r < 0) throw new IOException("write " + fd.what() + ": " + Errno.strerror((int) -r));
                done += r;
            }
            off += chunk;
            len -= chunk;
        }
    }

    @Override
    public synchronized void close() {
        if (!fd.isOpen()) return;
        fd.close();
        arena.close();
    }
}
