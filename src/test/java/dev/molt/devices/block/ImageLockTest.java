package dev.molt.devices.block;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** QEMU's image locks, taken by molt: between two molt drives, and against QEMU's own qemu-io. */
class ImageLockTest {
    private static Path image(Path dir) throws Exception {
        Path p = dir.resolve("disk.raw");
        Files.write(p, new byte[1 << 20]);
        return p;
    }

    /** An image opened and locked, as molt holds a disk whose guest it runs. */
    private static BlockImage held(DriveConfig drive) {
        BlockImage image = BlockImage.open(drive);
        try {
            image.hold(true);
            return image;
        } catch (RuntimeException e) {
            image.close();
            throw e;
        }
    }

    @Test
    void lettingGoOfTheLocksLetsAnotherTakeThem(@TempDir Path dir) throws Exception {
        Path img = image(dir);
        try (BlockImage source = held(drive("d0", img, false)); BlockImage destination = BlockImage.open(drive("d0", img, false))) {
            assertThrows(BlockException.class, () -> destination.hold(true), "the source holds them");
            source.hold(false); // a live migration's switch-over
            destination.hold(true);
            assertThrows(BlockException.class, () -> source.hold(true), "the guest is the destination's now");
        }
    }

    private static DriveConfig drive(String id, Path file, boolean readOnly) {
        return new DriveConfig(id, file, readOnly, CacheMode.WRITEBACK);
    }

    @Test
    void aSecondWriterIsRefusedWithQemusWordsUntilTheFirstLetsGo(@TempDir Path dir) throws Exception {
        Path img = image(dir);
        try (BlockImage first = held(drive("d0", img, false))) {
            BlockException e = assertThrows(BlockException.class, () -> held(drive("d1", img, false)));
            // QEMU's message and hint, byte for byte after molt's "drive ID: ".
            assertEquals("drive d1: Failed to get \"write\" lock\nIs another process using the image [" + img + "]?", e.getMessage());
            BlockException reader = assertThrows(BlockException.class, () -> held(drive("d2", img, true)));
            assertEquals("drive d2: Failed to get shared \"write\" lock\nIs another process using the image [" + img + "]?", reader.getMessage());
        }
        held(drive("d1", img, false)).close(); // free again once the first closed
    }

    @Test
    void readersShareAnImageAndKeepWritersOff(@TempDir Path dir) throws Exception {
        Path img = image(dir);
        try (BlockImage a = held(drive("a", img, true)); BlockImage b = held(drive("b", img, true))) {
            assertThrows(BlockException.class, () -> held(drive("w", img, false)));
        }
    }

    /** The same bytes QEMU uses: QEMU's qemu-io cannot open an image molt writes, and opens it once molt let go. */
    @Test
    void qemuIoSeesMoltsLock(@TempDir Path dir) throws Exception {
        Assumptions.assumeTrue(Files.isExecutable(Path.of(QEMU_IO)), "qemu-io is not installed (apt-get install qemu-utils)");
        Path img = image(dir);
        try (BlockImage held = held(drive("d0", img, false))) {
            Result r = run(QEMU_IO, "-f", "raw", "-c", "read 0 512", img.toString());
            assertTrue(r.status != 0 && r.output.contains("Failed to get \"write\" lock\nIs another process using the image [" + img + "]?"), r.output);
        }
        Result r = run(QEMU_IO, "-f", "raw", "-c", "read 0 512", img.toString());
        assertEquals(0, r.status, r.output);
    }

    private record Result(int status, String output) {}

    private static final String QEMU_IO = "/usr/bin/qemu-io";

    private static Result run(String... cmd) throws Exception {
        Process p = new ProcessBuilder(List.of(cmd)).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        return new Result(p.waitFor(), out);
    }
}
