package dev.molt.migration.channel;

import dev.molt.sys.ErrnoException;
import dev.molt.sys.Fd;
import dev.molt.sys.FdSets;
import dev.molt.sys.Posix;
import dev.molt.sys.Syscall;

import java.io.IOException;

/** file:PATH[,offset=N], opened as QEMU opens it (migration/file.c). */
final class FileTransport {
    private FileTransport() {}

    /**
     * Creates the file (0600) or reuses it: whatever lies before the offset stays (another
     * program's header, say), everything from the offset on is cut off, and writing starts there.
     */
    static MigrationStream openForWrite(MigrationAddress.File file) throws IOException {
        Fd fd = open(file.path(), Posix.O_WRONLY | Posix.O_CREAT, 0600);
        try {
            long r = Syscall.raw(Syscall.FTRUNCATE, fd.num(), file.offset(), 0, 0, 0, 0);
            if (r < 0) {
                throw Native.ioError("failed to truncate migration file to offset " + Long.toHexString(file.offset()),
                        "ftruncate", (int) -r);
            }
            seek(fd, file);
        } catch (IOException e) {
            fd.close();
            throw e;
        }
        return FdStream.of(fd, file.uri(), false, true);
    }

    static MigrationStream openForRead(MigrationAddress.File file) throws IOException {
        Fd fd = open(file.path(), Posix.O_RDONLY, 0);
        try {
            seek(fd, file);
        } catch (IOException e) {
            fd.close();
            throw e;
        }
        return FdStream.of(fd, file.uri(), true, false);
    }

    private static Fd open(String path, int flags, int mode) throws IOException {
        try {
            return FdSets.open(path, flags, mode);
        } catch (ErrnoException e) {
            if (e instanceof FdSets.FdSetError) throw new IOException(e.getMessage());
            throw Native.ioError("Unable to open " + path, "open", e.errno());
        }
    }

    private static void seek(Fd fd, MigrationAddress.File file) throws IOException {
        if (file.offset() == 0) return;
        long r = Syscall.raw(Syscall.LSEEK, fd.num(), file.offset(), Native.SEEK_SET, 0, 0, 0);
        if (r < 0) {
            throw Native.ioError("Unable to seek to offset " + file.offset() + " in file " + file.path(), "lseek", (int) -r);
        }
    }
}
