package dev.molt.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * Raw mode for a terminal on stdin, as QEMU sets it for -serial stdio: keystrokes reach the guest
 * one by one without echo, while output processing (OPOST) and signals (ISIG: Ctrl-C ends molt)
 * stay on. The original settings are restored on {@link #close()}.
 */
public final class Terminal implements AutoCloseable {
    private static final long TCGETS = 0x5401, TCSETS = 0x5402;
    private static final int TERMIOS_SIZE = 60;
    private static final int IFLAG = 0, CFLAG = 8, LFLAG = 12, CC = 17;
    private static final int IGNBRK = 1, BRKINT = 2, PARMRK = 010, ISTRIP = 040, INLCR = 0100, IGNCR = 0200,
            ICRNL = 0400, IXON = 02000;
    private static final int ECHO = 010, ECHONL = 0100, ICANON = 2, IEXTEN = 0100000;
    private static final int CSIZE = 060, PARENB = 0400, CS8 = 060;
    private static final int VTIME = 5, VMIN = 6;

    private final int fd;
    private final byte[] saved;
    private boolean restored;

    private Terminal(int fd, byte[] saved) {
        this.fd = fd;
        this.saved = saved;
    }

    /** Puts {@code fd} in raw mode; returns null when it is not a terminal. */
    public static Terminal makeRaw(int fd) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment t = a.allocate(TERMIOS_SIZE, 4);
            if (Syscall.raw(Syscall.IOCTL, fd, TCGETS, t.address(), 0, 0, 0) < 0) return null;
            // The settings before the process's first molt made it raw: a reloaded molt finds it raw already.
            byte[] current = t.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
            byte[] saved = dev.molt.host.ProcessWide.first("termios:" + fd, () -> current);
            t.set(JAVA_INT, IFLAG, t.get(JAVA_INT, IFLAG) & ~(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON));
            t.set(JAVA_INT, LFLAG, t.get(JAVA_INT, LFLAG) & ~(ECHO | ECHONL | ICANON | IEXTEN));
            t.set(JAVA_INT, CFLAG, (t.get(JAVA_INT, CFLAG) & ~(CSIZE | PARENB)) | CS8);
            t.set(java.lang.foreign.ValueLayout.JAVA_BYTE, CC + VMIN, (byte) 1);
            t.set(java.lang.foreign.ValueLayout.JAVA_BYTE, CC + VTIME, (byte) 0);
            Syscall.call("tcsetattr", Syscall.IOCTL, fd, TCSETS, t.address());
            Terminal term = new Terminal(fd, saved);
            OPEN.add(term);
            // A signal (SIGTERM, Ctrl-C) ends the JVM without unwinding: give the user's terminal back anyway.
            // Through the host: a hook of this implementation's own would keep it alive after a reload.
            dev.molt.host.ProcessWide.atExit("terminal:" + fd, term::close);
            return term;
        }
    }

    private static final java.util.List<Terminal> OPEN = new java.util.concurrent.CopyOnWriteArrayList<>();

    /** Gives every terminal molt switched to raw mode back its settings (before an exec). */
    public static void restoreAll() {
        for (Terminal t : OPEN) t.close();
    }

    @Override
    public synchronized void close() {
        // Handed over by a reload: the new molt uses the terminal, raw, from now on.
        if (restored || ReadGate.get().detached()) return;
        restored = true;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment t = a.allocate(TERMIOS_SIZE, 4);
            MemorySegment.copy(MemorySegment.ofArray(saved), 0, t, 0, TERMIOS_SIZE);
            Syscall.raw(Syscall.IOCTL, fd, TCSETS, t.address(), 0, 0, 0);
        }
    }
}
