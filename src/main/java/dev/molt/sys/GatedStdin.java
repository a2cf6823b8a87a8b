package dev.molt.sys;

import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;

/**
 * molt's stdin as its readers (a console on stdio, a monitor on stdio) see it: each read first waits
 * at the {@link ReadGate}, so that a reload can hold the reader between two reads, with what is
 * unread left in the kernel for the new code, and end it once the new code owns stdin (end of input).
 */
public final class GatedStdin extends InputStream {
    private final FileInputStream in = new FileInputStream(FileDescriptor.in);
    private final Fd stdin = new Fd(0, "stdin"); // never closed: it is the process's

    @Override
    public int read() throws IOException {
        byte[] one = new byte[1];
        return read(one, 0, 1) < 0 ? -1 : one[0] & 0xFF;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
        if (len == 0) return 0;
        if (!ReadGate.get().awaitReadable(stdin)) return -1;
        int n;
        try {
            n = in.read(b, off, len);
        } catch (IOException e) {
            ReadGate.get().readerEnded(); // reads no more: a reload's pause must not wait for it
            throw e;
        }
        if (n < 0) ReadGate.get().readerEnded(); // end of input: as above
        return n;
    }

    /**
     * A copy of stdin for a reload's hand-over of a client on it: every client handed over comes with
     * an fd the new code owns and closes (it reads fd 0 itself; the copy shows stdin was open).
     */
    public static Fd copyForHandOver() {
        return Posix.dup(new Fd(0, "stdin"));
    }

    /** Closes nothing: fd 0 is the process's, and the next code of a reload reads it. */
    @Override
    public void close() {
    }
}
