package dev.molt.sys;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

/**
 * Byte streams over a connected socket molt holds as a raw fd (one it may hand across an exec).
 * Reads wait in poll(2) at the {@link ReadGate}, then recvmsg(2): use them from platform threads.
 * {@link #close()} shuts the socket down first, which wakes a blocked reader (close alone does not
 * on Linux).
 */
public final class SocketStream implements AutoCloseable {
    private final Fd fd;
    private final Arena arena = Arena.ofAuto(); // freed by the GC: a blocked read may still use it after close
    private final MemorySegment readBuf = arena.allocate(16 * 1024);
    private final MemorySegment writeBuf = arena.allocate(16 * 1024);
    private final UnixSocket.Receiver receiver = new UnixSocket.Receiver(arena);
    private final java.util.function.IntConsumer passedFds;
    private volatile boolean closed;

    public SocketStream(Fd fd) {
        this(fd, passed -> new Fd(passed, "unwanted passed fd").close());
    }

    /** {@code passedFds} takes each fd a peer passes with SCM_RIGHTS (unix sockets; QMP's getfd). */
    public SocketStream(Fd fd, java.util.function.IntConsumer passedFds) {
        this.fd = fd;
        this.passedFds = passedFds;
    }

    public Fd fd() {
        return fd;
    }

    public boolean isOpen() {
        return !closed;
    }

    private final InputStream in = new Input();

    /** Reads at the gate; tells a hang-up without reading (the console's reader, while its UART is full). */
    private final class Input extends InputStream implements HangupAware {
        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            int n = read(one, 0, 1);
            return n < 0 ? -1 : one[0] & 0xFF;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            if (len == 0) return 0;
            // Between two reads a reload may hold this reader (ReadGate); once the connection is the new
            // code's, this reader's input ends here.
            if (closed || !ReadGate.get().awaitReadable(fd)) return -1;
            UnixSocket.Received r;
            try {
                r = receiver.recv(fd.num(), readBuf, Math.min(len, readBuf.byteSize()));
            } catch (ErrnoException | IllegalStateException e) {
                // This reader reads no more: a reload's pause must not wait for it to wind its session down.
                ReadGate.get().readerEnded();
                if (closed) return -1;
                throw new IOException(e.getMessage(), e);
            }
            if (r.fd() >= 0) passedFds.accept(r.fd());
            if (r.bytes() == 0) {
                ReadGate.get().readerEnded(); // the peer hung up: as above
                return -1;
            }
            MemorySegment.copy(readBuf, JAVA_BYTE, 0, b, off, r.bytes());
            return r.bytes();
        }

        @Override
        public boolean peerHungUp() {
            return closed || Poll.hungUp(fd);
        }
    }

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
            } catch (ErrnoException e) {
                throw new IOException(e.getMessage(), e);
            }
        }
    };

    public InputStream input() {
        return in;
    }

    public OutputStream output() {
        return out;
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        // A reload handed the connection to new code, which reads a duplicate of this fd: shutting the
        // socket down would end the connection for both.
        if (!ReadGate.get().detached()) UnixSocket.shutdown(fd);
        fd.close();
    }
}
