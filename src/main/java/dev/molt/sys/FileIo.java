package dev.molt.sys;

import java.lang.foreign.MemorySegment;

/**
 * Positioned reads and writes between a file and native memory (guest RAM), whole or not at all:
 * short transfers are continued and EINTR retried. Results are 0 or {@code -errno}, never an
 * exception, because a failed disk request is an answer to the guest, not a fault in molt.
 */
public final class FileIo {
    private FileIo() {}

    /** Reads {@code into.byteSize()} bytes at {@code offset}; -EIO if the file ends first (the image shrank). */
    public static long preadFully(Fd fd, MemorySegment into, long offset) {
        return transfer(Syscall.PREAD64, fd, into, offset);
    }

    /** Writes all of {@code from} at {@code offset}. */
    public static long pwriteFully(Fd fd, MemorySegment from, long offset) {
        return transfer(Syscall.PWRITE64, fd, from, offset);
    }

    /** fdatasync(2); 0 or {@code -errno}. */
    public static long fdatasync(Fd fd) {
        long r;
        do {
            r = Syscall.raw(Syscall.FDATASYNC, fd.num(), 0, 0, 0, 0, 0);
        } while (r == -Errno.EINTR.value);
        return r;
    }

    private static long transfer(int nr, Fd fd, MemorySegment buf, long offset) {
        long done = 0;
        long len = buf.byteSize();
        while (done < len) {
            long r = Syscall.raw(nr, fd.num(), buf.address() + done, len - done, offset + done, 0, 0);
            if (r == -Errno.EINTR.value) continue;
            if (r < 0) return r;
            if (r == 0) return -Errno.EIO.value; // end of file inside the request
            done += r;
        }
        return 0;
    }
}
