package dev.molt.sys;

/** Linux errno values molt reports by name. Values are the x86-64 Linux ones. */
public enum Errno {
    EPERM(1, "Operation not permitted"),
    ENOENT(2, "No such file or directory"),
    ESRCH(3, "No such process"),
    EINTR(4, "Interrupted system call"),
    EIO(5, "Input/output error"),
    ENXIO(6, "No such device or address"),
    E2BIG(7, "Argument list too long"),
    ENOEXEC(8, "Exec format error"),
    EBADF(9, "Bad file descriptor"),
    EAGAIN(11, "Resource temporarily unavailable"),
    ENOMEM(12, "Cannot allocate memory"),
    EACCES(13, "Permission denied"),
    EFAULT(14, "Bad address"),
    EBUSY(16, "Device or resource busy"),
    EEXIST(17, "File exists"),
    ENODEV(19, "No such device"),
    ENOTDIR(20, "Not a directory"),
    EISDIR(21, "Is a directory"),
    EINVAL(22, "Invalid argument"),
    ENFILE(23, "Too many open files in system"),
    EMFILE(24, "Too many open files"),
    ENOTTY(25, "Inappropriate ioctl for device"),
    EFBIG(27, "File too large"),
    ENOSPC(28, "No space left on device"),
    ESPIPE(29, "Illegal seek"),
    EROFS(30, "Read-only file system"),
    EPIPE(32, "Broken pipe"),
    ERANGE(34, "Numerical result out of range"),
    ENOSYS(38, "Function not implemented"),
    EBADFD(77, "File descriptor in bad state"),
    ENOTSOCK(88, "Socket operation on non-socket"),
    EOPNOTSUPP(95, "Operation not supported"),
    EADDRINUSE(98, "Address already in use"),
    ECONNRESET(104, "Connection reset by peer"),
    ETIMEDOUT(110, "Connection timed out"),
    ECONNREFUSED(111, "Connection refused");

    private static final Errno[] BY_VALUE = new Errno[128];

    static {
        for (Errno e : values()) BY_VALUE[e.value] = e;
    }

    public final int value;
    public final String description;

    Errno(int value, String description) {
        this.value = value;
        this.description = description;
    }

    /** The errno's symbolic name, or "errno N" for one molt does not list. */
    public static String nameOf(int value) {
        Errno e = of(value);
        return e != null ? e.name() : "errno " + value;
    }

    public static String describe(int value) {
        Errno e = of(value);
        return e != null ? e.name() + " (" + e.description + ")" : "errno " + value;
    }

    /** What glibc's strerror(3) says, which QEMU's messages end with. */
    public static String strerror(int value) {
        Errno e = of(value);
        return e != null ? e.description : "Unknown error " + value;
    }

    public static Errno of(int value) {
        return value > 0 && value < BY_VALUE.length ? BY_VALUE[value] : null;
    }
}
