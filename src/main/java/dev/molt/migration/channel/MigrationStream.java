package dev.molt.migration.channel;

import dev.molt.sys.Fd;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.OptionalInt;

/**
 * One open migration channel: bytes to the destination ({@link #output()}) and, where the transport
 * has them, bytes back ({@link #input()}; QEMU's return path). Sockets and {@code fd:} streams go
 * both ways; {@code file:} goes one way (write when outgoing, read when incoming), and so does
 * {@code exec:} (the command's stdin when outgoing, its stdout when incoming).
 *
 * <p>The streams do not buffer: each call is one or a few system calls, so callers wrap them in a
 * {@link java.io.BufferedOutputStream} for small writes, and may interleave their own
 * {@code sendmsg}/{@code recvmsg} on {@link #unixSocketFd()} without bytes hiding in a buffer.
 *
 * <p>Threads: one thread may read while another writes. {@link #abort()} is safe from any thread
 * at any time; {@link #close()} belongs to the owner once no I/O is in progress.
 */
public interface MigrationStream extends AutoCloseable {
    /** Bytes from the peer; {@code -1} at end of stream. Throws if the stream is write-only. */
    InputStream input();

    /**
     * Bytes to the peer. Write errors arrive as {@link IOException}s whose message says which
     * channel failed and why ("Unable to write to 'file:/x': No space left on device"), with the
     * errno in the cause when a system call failed. Throws if the stream is read-only.
     */
    OutputStream output();

    /** The channel as a URI, for messages and logs: {@code unix:/run/m.sock}, {@code exec:gzip >f}. */
    String describe();

    /**
     * The connected AF_UNIX socket under this stream, borrowed (valid until {@link #close()}), for
     * passing descriptors with SCM_RIGHTS (cpr-transfer). Empty for every other transport.
     */
    default OptionalInt unixSocketFd() {
        return OptionalInt.empty();
    }

    /**
     * Tells the peer no more bytes come, keeping the input open: shutdown(SHUT_WR) on a socket
     * (cpr-transfer's source does this after the CPR state), closing the command's stdin for exec,
     * nothing for a file.
     */
    void shutdownOutput() throws IOException;

    /**
     * Bytes written that the peer has not read yet, as far as this end can tell: a socket's send
     * queue (SIOCOUTQ: for a unix socket what the peer's process has not read, counted with the
     * kernel's buffers holding it, so a little more than the bytes; for tcp what the peer's kernel has
     * not acknowledged). 0 where nothing can be told (files, pipes, exec).
     */
    default long unreadBytes() {
        return 0;
    }

    /**
     * Cancels (migrate_cancel): blocked reads and writes return, and later ones fail with an
     * IOException saying so. Sockets are shut down and exec commands killed; a read blocked on a
     * pipe or file passed with {@code fd:} only returns when its writer closes, as in QEMU.
     */
    void abort();

    /**
     * Releases the channel and reports failures that only show at the end: close(2) of a file (NFS
     * reports write errors there) and, for exec, the command's exit status (after closing its stdin
     * or stdout, this waits for it to exit). Idempotent.
     */
    @Override
    void close() throws IOException;

    /**
     * Wraps a descriptor molt already holds (inherited, passed with SCM_RIGHTS, or opened some other
     * way) as a stream in both directions. Takes ownership, even when it fails.
     */
    static MigrationStream ofFd(Fd fd, String description) throws IOException {
        return FdStream.of(fd, description, true, true);
    }
}
