package dev.molt.machine.boot;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/** Reading boot files, with errors that name the file and say what went wrong in plain words. */
final class BootFiles {
    private BootFiles() {}

    /** Kernels are read whole; anything near the array limit cannot be a kernel for molt's RAM sizes anyway. */
    private static final long MAX_KERNEL_BYTES = Integer.MAX_VALUE - 64;

    static ImageBytes readKernel(Path path) {
        try {
            if (Files.isDirectory(path)) throw BootException.forFile("kernel", path, "is a directory");
            long size = Files.size(path);
            if (size > MAX_KERNEL_BYTES) {
                throw BootException.forFile("kernel", path, "is " + size + " bytes, too large to be a kernel");
            }
            return new ImageBytes(path, Files.readAllBytes(path));
        } catch (IOException e) {
            throw BootException.forFile("kernel", path, "cannot read it: " + describe(e));
        }
    }

    static String describe(IOException e) {
        return switch (e) {
            case NoSuchFileException _ -> "no such file";
            case AccessDeniedException _ -> "permission denied";
            default -> e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
        };
    }
}
