package dev.molt.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * Open file description locks on single bytes (fcntl F_OFD_SETLK / F_OFD_GETLK). Unlike
 * process-associated POSIX locks they belong to the open file, not the process: they are not
 * dropped when another fd of the same file is closed, they cross an exec with the fd, and an fd
 * passed with SCM_RIGHTS carries them. That is what keeps a disk image locked through a live update.
 */
public final class FileLocks {
    private static final int F_OFD_GETLK = 36, F_OFD_SETLK = 37;
    private static final short F_RDLCK = 0, F_WRLCK = 1, F_UNLCK = 2;
    private static final short SEEK_SET = 0;
    /** struct flock on x86-64: l_type, l_whence (short each), l_start, l_len (off_t), l_pid (int), padding. */
    private static final long FLOCK_SIZE = 32, TYPE = 0, WHENCE = 2, START = 8, LEN = 16, PID = 24;

    private FileLocks() {}

    /** Takes a shared (read) lock on byte {@code offset}; 0 or -errno (EAGAIN: another open file holds a conflicting one). */
    public static long lockShared(Fd fd, long offset) {
        return fcntl(fd, F_OFD_SETLK, F_RDLCK, offset, null);
    }

    public static long unlock(Fd fd, long offset) {
        return fcntl(fd, F_OFD_SETLK, F_UNLCK, offset, null);
    }

    /**
     * Whether another open file holds any lock on byte {@code offset} (the test of an exclusive lock,
     * as QEMU's qemu_lock_fd_test): 0 if none, -EAGAIN if one does, another -errno if the test failed.
     */
    public static long testExclusive(Fd fd, long offset) {
        short[] type = new short[1];
        long r = fcntl(fd, F_OFD_GETLK, F_WRLCK, offset, type);
        if (r < 0) return r;
        return type[0] == F_UNLCK ? 0 : -Errno.EAGAIN.value;
    }

    private static long fcntl(Fd fd, int cmd, short type, long offset, short[] found) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment fl = a.allocate(FLOCK_SIZE, 8);
            fl.set(JAVA_SHORT, TYPE, type);
            fl.set(JAVA_SHORT, WHENCE, SEEK_SET);
            fl.set(JAVA_LONG, START, offset);
            fl.set(JAVA_LONG, LEN, 1);
            fl.set(JAVA_INT, PID, 0); // must be 0 for OFD locks
            long r = Syscall.raw(Syscall.FCNTL, fd.num(), cmd, fl.address(), 0, 0, 0);
            if (r >= 0 && found != null) found[0] = fl.get(JAVA_SHORT, TYPE);
            return r;
        }
    }
}
