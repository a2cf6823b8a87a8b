package dev.molt.sys;

/**
 * An owned file descriptor. Exactly one owner closes it; {@link #release()} hands the number on
 * (for example to a process that inherits it across exec) without closing it.
 */
public final class Fd implements AutoCloseable {
    private int fd;
    private final String what;

    public Fd(int fd, String what) {
        if (fd < 0) throw new IllegalArgumentException("bad fd " + fd + " for " + what);
        this.fd = fd;
        this.what = what;
    }

    /** The descriptor number; fails if it was closed or released. */
    public int num() {
        if (fd < 0) throw new IllegalStateException(what + ": file descriptor already closed");
        return fd;
    }

    public String what() {
        return what;
    }

    public boolean isOpen() {
        return fd >= 0;
    }

    /** Gives up ownership and returns the number; this object no longer closes it. */
    public int release() {
        int n = num();
        fd = -1;
        return n;
    }

    @Override
    public void close() {
        if (fd >= 0) {
            int n = fd;
            fd = -1;
            Syscall.raw(Syscall.CLOSE, n, 0, 0, 0, 0, 0);
        }
    }

    @Override
    public String toString() {
        return what + "(fd " + fd + ")";
    }
}
