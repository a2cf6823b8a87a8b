package dev.molt.devices.block;

import dev.molt.sys.Fd;
import dev.molt.sys.FileIo;
import dev.molt.sys.Posix;

import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * The system calls a drive's image takes, by its {@code aio=} mode: each answers 0 or
 * {@code -errno} (a failure is the guest's I/O error), and a transfer is whole or a failure.
 */
sealed interface ImageIo extends AutoCloseable permits ImageIo.Threads, UringIo {
    /** One buffer of a request at its offset in the file, on the fd that suits it (O_DIRECT or not). */
    record Part(Fd fd, MemorySegment buf, long offset) {}

    long read(List<Part> parts);

    long write(List<Part> parts);

    long fdatasync(Fd fd);

    long fallocate(Fd fd, int mode, long offset, long len);

    @Override
    void close();

    /** The mode's engine for drive {@code id}; {@link BlockException} naming aio=io_uring if the host refuses one. */
    static ImageIo open(AioMode mode, String id) {
        return switch (mode) {
            case THREADS -> new Threads();
            case IO_URING -> UringIo.open(id);
        };
    }

    /** aio=threads: the calls themselves, on the device's I/O thread, one buffer after another. */
    final class Threads implements ImageIo {
        @Override
        public long read(List<Part> parts) {
            return each(parts, FileIo::preadFully);
        }

        @Override
        public long write(List<Part> parts) {
            return each(parts, FileIo::pwriteFully);
        }

        /** {@code call} on each part in turn, up to the first failure. */
        private static long each(List<Part> parts, PartCall call) {
            for (Part p : parts) {
                long r = call.apply(p.fd(), p.buf(), p.offset());
                if (r != 0) return r;
            }
            return 0;
        }

        @FunctionalInterface
        private interface PartCall {
            long apply(Fd fd, MemorySegment buf, long offset);
        }

        @Override
        public long fdatasync(Fd fd) {
            return FileIo.fdatasync(fd);
        }

        @Override
        public long fallocate(Fd fd, int mode, long offset, long len) {
            return Posix.fallocate(fd, mode, offset, len);
        }

        @Override
        public void close() { }
    }
}
