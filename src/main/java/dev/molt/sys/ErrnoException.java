package dev.molt.sys;

/** A failed system call: which call, and the errno it returned. */
public class ErrnoException extends RuntimeException {
    private final String call;
    private final int errno;

    public ErrnoException(String call, int errno) {
        super(call + ": " + Errno.describe(errno));
        this.call = call;
        this.errno = errno;
    }

    /** A failure with its own words (QEMU's), for callers that show it as it is; errno for those that do not. */
    protected ErrnoException(String message, String call, int errno) {
        super(message);
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
