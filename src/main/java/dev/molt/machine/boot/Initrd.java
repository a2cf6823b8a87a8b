package dev.molt.machine.boot;

import dev.molt.memory.GuestMemory;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * The initial RAM disk. It goes as high as it fits: kernels place their own things (the
 * decompressed image, early allocations) upwards from the load address, so the top of RAM is what
 * they leave alone; both Firecracker and kvmtool do the same.
 */
final class Initrd {
    private Initrd() {}

    /** Where the initrd went. */
    record Placement(long gpa, long size) {}

    /** Streamed in chunks: an initrd can be larger than a Java array. */
    private static final int COPY_CHUNK = 16 << 20;

    /**
     * Copies the initrd at {@code path} to the highest page-aligned address at or above
     * {@code lowest} whose end is at most {@code ceiling}. Returns null if there is no initrd
     * ({@code path} null or an empty file).
     */
    static Placement load(Path path, GuestMemory mem, long lowest, long ceiling) {
        if (path == null) return null;
        if (Files.isDirectory(path)) throw BootException.forFile("initrd", path, "is a directory");
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size == 0) return null;
            long gpa = alignDown(ceiling - size, BootLayout.PAGE_SIZE);
            if (size > ceiling || gpa < lowest) {
                throw BootException.forFile("initrd", path, String.format(
                        "%d bytes (%d MiB) do not fit in guest RAM between the end of the kernel (0x%x) and 0x%x:"
                                + " give the guest more memory",
                        size, size >> 20, lowest, ceiling));
            }
            copy(ch, path, mem, gpa, size);
            return new Placement(gpa, size);
        } catch (IOException e) {
            throw BootException.forFile("initrd", path, "cannot read it: " + BootFiles.describe(e));
        }
    }

    private static void copy(FileChannel ch, Path path, GuestMemory mem, long gpa, long size) throws IOException {
        for (long done = 0; done < size; ) {
            long chunk = Math.min(COPY_CHUNK, size - done);
            ByteBuffer target = mem.slice(gpa + done, chunk).asByteBuffer();
            while (target.hasRemaining()) {
                if (ch.read(target, done + target.position()) < 0) {
                    throw BootException.forFile("initrd", path, "the file shrank while it was being loaded");
                }
            }
            done += chunk;
        }
    }

    static long alignDown(long value, long alignment) {
        return value & -alignment;
    }
}
