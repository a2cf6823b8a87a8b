package dev.molt.monitor;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;
import java.util.Optional;

/**
 * One client's byte streams, however they were obtained: an accepted socket, stdio, a pipe, or an
 * fd inherited across exec and wrapped by the caller. Sessions only read {@link #input()}, write
 * {@link #output()} (from another thread) and {@link #close()} - closing must unblock a read
 * in progress, which sockets do.
 */
public interface Connection extends AutoCloseable {
    InputStream input();

    OutputStream output();

    @Override
    void close();

    /**
     * The fd that came with the bytes read last (SCM_RIGHTS), if the transport can carry fds. Java's
     * socket channels cannot: a transport built on recvmsg(2) overrides this to hand it to
     * {@code getfd}.
     */
    default Optional<PassedFd> takeReceivedFd() {
        return Optional.empty();
    }

    /**
     * Whether a reload hands this client to the new code (which goes on with the same connection):
     * then {@link #duplicateForReload} gives the new code its own fd for it.
     */
    default boolean crossesReload() {
        return false;
    }

    /** For a reload: an fd of this connection for the new code to own (see {@link #crossesReload}). */
    default dev.molt.sys.Fd duplicateForReload() {
        throw new UnsupportedOperationException("this connection does not cross a reload");
    }

    /** A connection over a channel (an accepted SocketChannel); reads and writes may run concurrently. */
    static Connection of(ByteChannel channel) {
        InputStream in = new InputStream() {
            @Override
            public int read() throws IOException {
                byte[] one = new byte[1];
                return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
            }

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                return len == 0 ? 0 : channel.read(ByteBuffer.wrap(b, off, len));
            }
        };
        OutputStream out = new OutputStream() {
            @Override
            public void write(int b) throws IOException {
                write(new byte[] {(byte) b}, 0, 1);
            }

            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                ByteBuffer buf = ByteBuffer.wrap(b, off, len);
                while (buf.hasRemaining()) channel.write(buf);
            }
        };
        return of(in, out, channel::close);
    }

    /** A connection over streams; {@code closer} ends it (and should make a blocked read return). */
    static Connection of(InputStream in, OutputStream out, AutoCloseable closer) {
        return new Connection() {
            @Override
            public InputStream input() {
                return in;
            }

            @Override
            public OutputStream output() {
                return out;
            }

            @Override
            public void close() {
                try {
                    closer.close();
                } catch (Exception ignored) {
                    // Already gone: nothing left to release.
                }
            }
        };
    }

    /**
     * molt's own stdin and stdout ({@code -qmp stdio}, {@code -monitor stdio}), unbuffered so that
     * replies are not held back. Closing does not close fds 0 and 1, which molt still owns.
     */
    static Connection stdio() {
        return new StdioConnection();
    }
}
