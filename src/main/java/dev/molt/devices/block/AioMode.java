package dev.molt.devices.block;

import java.util.Arrays;
import java.util.Optional;

/** How a drive's requests reach its image, as QEMU's {@code aio=} names it (docs/virtio.md). */
public enum AioMode {
    /** pread/pwrite/fdatasync/fallocate on the device's I/O thread (QEMU's default). */
    THREADS("threads"),
    /** The same operations submitted to an io_uring of the device's own, a request's buffers in one batch. */
    IO_URING("io_uring");

    /** QEMU's name, byte for byte. */
    public final String qemuName;

    AioMode(String qemuName) {
        this.qemuName = qemuName;
    }

    public static Optional<AioMode> byQemuName(String name) {
        return Arrays.stream(values()).filter(m -> m.qemuName.equals(name)).findFirst();
    }
}
