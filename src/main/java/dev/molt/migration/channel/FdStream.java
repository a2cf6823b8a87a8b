package dev.molt.migration.channel;

import dev.molt.sys.Errno;
import dev.molt.sys.Fd;
import dev.molt.sys.IoVec;
import dev.molt.sys.NativeSink;
import dev.molt.sys.NativeSource;
import dev.molt.sys.Syscall;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Objects;
import java.util.OptionalInt;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

/**
 * A stream over a raw descriptor: files, pipes and sockets (unix and tcp). Raw rather than Java's
 * channels so that the descriptor stays reachable: cpr-transfer passes fds over the unix socket,
 * and a socket can be made from an inherited or passed number. Its streams also move native memory
 * directly ({@link NativeSource}, {@link NativeSink}): migrated RAM goes between guest memory and the
 * descriptor without a copy through the Java heap.
 */
final class FdStream implements MigrationStream {
    private static final int CHUNK = 1 << 16;
    private static final int SENDTO = 44, MSG_NOSIGNAL = 0x4000;
    private static final int SIOCOUTQ = 0x5411;

    private final Fd fd;
    private final String description;
    private final boolean readable, writable, socket, unix;
    private final Object readLock = new Object(), writeLock = new Object();
    // Auto arenas: an abort racing a read must never free memory under a system call.
    private final MemorySegment readBuf, writeBuf;
    private final InputStream in = new In();
    private final OutputStream out = new Out();
    private volatile boolean aborted;

    private FdStream(Fd fd, String description, boolean readable, boolean writable, boolean socket, boolean unix) {
        this.fd = fd;
        this.description = description;
        this.readable = readable;
        this.writable = writable;
        this.socket = socket;
        this.unix = unix;
        this.readBuf = readable ? Arena.ofAuto().allocate(CHUNK) : MemorySegment.NULL;
        this.writeBuf = writable ? Arena.ofAuto().allocate(CHUNK) : MemorySegment.NULL;
    }

    /** Takes ownership of {@code fd}, also when this fails. */
    static FdStream of(Fd fd, String description, boolean readable, boolean writable) throws IOException {
        try {
            boolean socket = Native.fstat(fd.num()).isSocket();
            boolean unix = socket && Native.intSockopt(fd.num(), Native.SOL_SOCKET, Native.SO_DOMAIN) == Native.AF_UNIX;
            return new FdStream(fd, description, readable, writable, socket, unix);
        } catch (IOException | RuntimeException e) {
            fd.close();
            throw e;
        }
    }

    @Override
    public InputStream input() {
        if (!readable) throw new IllegalStateException(description + " is write-only");
        return in;
    }

    @Override
    public OutputStream output() {
        if (!writable) throw new IllegalStateException(description + " is read-only");
        return out;
    }

    @Override
    public String describe() {
        return description;
    }

    @Override
    public OptionalInt unixSocketFd() {
        return unix ? OptionalInt.of(fd.num()) : OptionalInt.empty();
    }

    @Override
    public void shutdownOutput() throws IOException {
        if (!socket) return;
        synchronized (this) {
            long r = Syscall.raw(Native.SHUTDOWN, fd.num(), Native.SHUT_WR, 0, 0, 0, 0);
            if (r < 0) throw Native.ioError("Unable to shut down " + description, "shutdown", (int) -r);
        }
    }

    @Override
    public long unreadBytes() {
        if (!socket) return 0;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment queued = a.allocate(java.lang.foreign.ValueLayout.JAVA_INT);
            synchronized (this) {
                if (!fd.isOpen()) return 0;
                long r = Syscall.raw(Syscall.IOCTL, fd.num(), SIOCOUTQ, queued.address(), 0, 0, 0);
                return r < 0 ? 0 : queued.get(java.lang.foreign.ValueLayout.JAVA_INT, 0);
            }
        }
    }

    @Override
    public void abort() {
        aborted = true;
        synchronized (this) {
            // Under the lock that close() takes, so the number cannot be reused by then.
            if (socket && fd.isOpen()) Syscall.raw(Native.SHUTDOWN, fd.num(), Native.SHUT_RDWR, 0, 0, 0, 0);
        }
    }

    @Override
    public void close() throws IOException {
        int n;
        synchronized (this) {
            if (!fd.isOpen()) return;
            n = fd.release();
        }
        long r = Syscall.raw(Syscall.CLOSE, n, 0, 0, 0, 0, 0);
        // EINTR from close(2) still closed the descriptor on Linux; anything else lost data.
        if (r < 0 && r != -Errno.EINTR.value && writable) {
            throw Native.ioError("Unable to close '" + description + "'", "close", (int) -r);
        }
    }

    private IOException cancelled() {
        return new IOException("Migration channel " + description + " was cancelled");
    }

    private int read(byte[] b, int off, int len) throws IOException {
        Objects.checkFromIndexSize(off, len, b.length);
        if (len == 0) return 0;
        synchronized (readLock) {
            if (aborted) throw cancelled();
            long r = Native.retrying(Syscall.READ, fd.num(), readBuf.address(), Math.min(len, CHUNK), 0, 0);
            if (aborted) throw cancelled();
            if (r < 0) throw Native.ioError("Unable to read from '" + description + "'", "read", (int) -r);
            if (r == 0) return -1;
            MemorySegment.copy(readBuf, JAVA_BYTE, 0, b, off, (int) r);
            return (int) r;
        }
    }

    /** read(2) straight into native memory (the RAM a migration receives). */
    private long readNative(MemorySegment into) throws IOException {
        if (into.byteSize() == 0) return 0;
        synchronized (readLock) {
            if (aborted) throw cancelled();
            long r = Native.retrying(Syscall.READ, fd.num(), into.address(), into.byteSize(), 0, 0);
            if (aborted) throw cancelled();
            if (r < 0) throw Native.ioError("Unable to read from '" + description + "'", "read", (int) -r);
            return r == 0 ? -1 : r;
        }
    }

    /** writev(2), or sendmsg(2) with MSG_NOSIGNAL on a socket, of native memory, until all of it is written. */
    private void writeNative(IoVec entries) throws IOException {
        synchronized (writeLock) {
            while (entries.bytes() > 0) {
                if (aborted) throw cancelled();
                long r = socket ? entries.sendTo(fd, MSG_NOSIGNAL) : entries.writeTo(fd);
                if (aborted) throw cancelled();
                if (r < 0) throw Native.ioError("Unable to write to '" + description + "'", socket ? "sendmsg" : "writev", (int) -r);
                entries.advance(r);
            }
        }
    }

    private void write(byte[] b, int off, int len) throws IOException {
        Objects.checkFromIndexSize(off, len, b.length);
        synchronized (writeLock) {
            while (len > 0) {
                int n = Math.min(len, CHUNK);
                MemorySegment.copy(b, off, writeBuf, JAVA_BYTE, 0, n);
                for (int done = 0; done < n; ) {
                    if (aborted) throw cancelled();
                    long r = writeOnce(writeBuf.address() + done, n - done);
                    if (aborted) throw cancelled();
                    if (r < 0) throw Native.ioError("Unable to write to '" + description + "'", "write", (int) -r);
                    done += (int) r;
                }
                off += n;
                len -= n;
            }
        }
    }

    /** Sockets use send with MSG_NOSIGNAL: a vanished peer must be an EPIPE, never a SIGPIPE. */
    private long writeOnce(long address, long len) {
        return socket ? Native.retrying(SENDTO, fd.num(), address, len, MSG_NOSIGNAL, 0)
                : Native.retrying(Syscall.WRITE, fd.num(), address, len, 0, 0);
    }

    private final class In extends InputStream implements NativeSource {
        @Override
        public long readNative(MemorySegment into) throws IOException {
            return FdStream.this.readNative(into);
        }

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            return FdStream.this.read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            return FdStream.this.read(b, off, len);
        }
    }

    private final class Out extends OutputStream implements NativeSink {
        @Override
        public void writeNative(IoVec entries) throws IOException {
            FdStream.this.writeNative(entries);
        }

        @Override
        public void write(int b) throws IOException {
            FdStream.this.write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            FdStream.this.write(b, off, len);
        }
    }
}
