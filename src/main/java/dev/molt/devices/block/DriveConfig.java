package dev.molt.devices.block;

import java.nio.file.Path;
import java.util.Objects;

/**
 * A raw disk image as {@code -drive if=none,id=ID,file=PATH,format=raw} or a {@code -blockdev}
 * file node under a raw node names it: {@code id} is what {@code -device ...,drive=ID} refers to.
 */
public record DriveConfig(String id, Path file, boolean readOnly, CacheMode cache, AioMode aio) {
    public DriveConfig {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(file, "file");
        Objects.requireNonNull(cache, "cache");
        Objects.requireNonNull(aio, "aio");
    }

    /** A drive with QEMU's default aio=threads. */
    public DriveConfig(String id, Path file, boolean readOnly, CacheMode cache) {
        this(id, file, readOnly, cache, AioMode.THREADS);
    }
}
