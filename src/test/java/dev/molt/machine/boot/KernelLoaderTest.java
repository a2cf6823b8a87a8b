package dev.molt.machine.boot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class KernelLoaderTest {
    @TempDir
    Path dir;

    final TestRam ram = new TestRam(64L << 20);

    @AfterEach
    void freeRam() {
        ram.close();
    }

    BootEntry load(Path kernel, Path initrd) {
        return KernelLoader.load(kernel, initrd, "console=ttyS0", ram.mem, ram.ranges);
    }

    String failure(Path kernel) {
        return assertThrows(BootException.class, () -> load(kernel, null)).getMessage();
    }

    @Test
    void detectsABzImage() throws IOException {
        Path kernel = Files.write(dir.resolve("vmlinuz"), new SyntheticBzImage().build());
        assertEquals(new BootEntry.Linux64(0x100200, 0x7000), load(kernel, null));
    }

    @Test
    void detectsAnElfKernelWhateverItsName() throws IOException {
        Path kernel = Files.write(dir.resolve("bzImage"), new SyntheticElf().build());
        Path initrd = Files.write(dir.resolve("initrd"), new byte[] {1, 2, 3});
        assertEquals(new BootEntry.Pvh32(0x100_0100, 0x6000), load(kernel, initrd));
        assertEquals(3, ram.mem.getLong(0x6048), "initrd passed on");
    }

    @Test
    void anythingElseIsRefused() throws IOException {
        Path kernel = Files.writeString(dir.resolve("notes.txt"), "this is not a kernel at all".repeat(40));
        assertEquals("kernel '" + kernel + "': not a bzImage or an ELF kernel", failure(kernel));
        Path empty = Files.createFile(dir.resolve("empty"));
        assertEquals("kernel '" + empty + "': not a bzImage or an ELF kernel", failure(empty));
    }

    @Test
    void missingOrUnusableFiles() throws IOException {
        Path missing = dir.resolve("missing");
        assertEquals("kernel '" + missing + "': cannot read it: no such file", failure(missing));
        assertEquals("kernel '" + dir + "': is a directory", failure(dir));
        Path kernel = Files.write(dir.resolve("vmlinuz"), new SyntheticBzImage().build());
        var e = assertThrows(BootException.class, () -> load(kernel, dir));
        assertEquals("initrd '" + dir + "': is a directory", e.getMessage());
    }
}
