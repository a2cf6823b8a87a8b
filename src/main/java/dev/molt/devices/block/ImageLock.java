package dev.molt.devices.block;

import dev.molt.sys.Errno;
import dev.molt.sys.Fd;
import dev.molt.sys.FileLocks;

/**
 * QEMU's image locking (block/file-posix.c), byte for byte, so that molt and QEMU (and qemu-img)
 * keep each other off an image in use: for each permission a user holds it read-locks byte
 * 100 + bit, and for each permission it does not share with others byte 200 + bit. Before taking
 * them it checks that nobody holds a permission it does not share, and that nobody refuses to
 * share one it holds. The locks are open-file-description locks on the image's fd, so they cross a
 * live update with it and are never dropped in between.
 *
 * <p>A guest disk holds "consistent read", plus "write" unless read-only, and shares "consistent
 * read" and "write unchanged" (as QEMU's block devices without share-rw).
 */
final class ImageLock {
    private static final int PERM_BASE = 100, SHARED_BASE = 200;

    /** QEMU's BLK_PERM_* bits and the names its messages give them. */
    private enum Perm {
        CONSISTENT_READ("consistent read"), WRITE("write"), WRITE_UNCHANGED("write unchanged"), RESIZE("resize");

        final String qemuName;

        Perm(String qemuName) {
            this.qemuName = qemuName;
        }

        int bit() {
            return 1 << ordinal();
        }
    }

    private ImageLock() {}

    /**
     * Checks and takes the locks of a guest disk on {@code fd}. Throws QEMU's message if another
     * user of the image conflicts: {@code Failed to get "write" lock} and the hint
     * {@code Is another process using the image [PATH]?} (both QEMU's words).
     */
    static void acquire(Fd fd, DriveConfig config) {
        int held = Perm.CONSISTENT_READ.bit() | (config.readOnly() ? 0 : Perm.WRITE.bit());
        int shared = Perm.CONSISTENT_READ.bit() | Perm.WRITE_UNCHANGED.bit();
        for (Perm p : Perm.values()) {
            if ((held & p.bit()) != 0) check(fd, SHARED_BASE + p.ordinal(), "Failed to get \"" + p.qemuName + "\" lock", config);
        }
        for (Perm p : Perm.values()) {
            if ((shared & p.bit()) == 0) check(fd, PERM_BASE + p.ordinal(), "Failed to get shared \"" + p.qemuName + "\" lock", config);
        }
        for (Perm p : Perm.values()) {
            if ((held & p.bit()) != 0) lock(fd, PERM_BASE + p.ordinal(), config);
            if ((shared & p.bit()) == 0) lock(fd, SHARED_BASE + p.ordinal(), config);
        }
    }

    /** Lets go of every lock byte acquire may have taken (unlocking a byte not held is a no-op). */
    static void release(Fd fd) {
        for (Perm p : Perm.values()) {
            FileLocks.unlock(fd, PERM_BASE + p.ordinal());
            FileLocks.unlock(fd, SHARED_BASE + p.ordinal());
        }
    }

    private static void check(Fd fd, int offset, String what, DriveConfig config) {
        long r = FileLocks.testExclusive(fd, offset);
        if (r == 0) return;
        String base = "drive " + config.id() + ": " + what;
        if (r == -Errno.EAGAIN.value || r == -Errno.EACCES.value) {
            throw new BlockException(base + "\nIs another process using the image [" + config.file() + "]?");
        }
        throw new BlockException(base + ": " + Errno.describe((int) -r));
    }

    private static void lock(Fd fd, int offset, DriveConfig config) {
        long r = FileLocks.lockShared(fd, offset);
        if (r < 0) throw new BlockException("drive " + config.id() + ": Failed to lock byte " + offset + ": " + Errno.describe((int) -r));
    }
}
