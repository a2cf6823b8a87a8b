package dev.molt.sys;

/** A failed system call: which call, and the errno it returned. */
public final class ErrnoException extends RuntimeException {
    private final String call;
    private final int errno;

    public ErrnoException(String call, int errno) {
        super(call + ": " + Errno.describe(errno));
        this.call = call;
        this.errno = errno;
    }

    public String call() {
        return call;
    }

    public int errno() {
        return errno;
    }

    public boolean is(Errno e) {
        return errno == e.value;
    }
}
