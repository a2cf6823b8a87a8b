package dev.molt.machine.boot;

import java.nio.file.Path;

/** Any reason a kernel or initrd cannot be loaded. The message is meant for the user, as is. */
public final class BootException extends RuntimeException {
    public BootException(String message) {
        super(message);
    }

    public BootException(String message, Throwable cause) {
        super(message, cause);
    }

    /** "kernel '/boot/vmlinuz': &lt;problem&gt;". {@code kind} is "kernel" or "initrd". */
    static BootException forFile(String kind, Path path, String problem) {
        return new BootException(kind + " '" + path + "': " + problem);
    }
}
