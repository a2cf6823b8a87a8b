package dev.molt.devices.block;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** A drive's image in each aio= mode: scattered buffers read and written whole, flush, discard and zeroes, against the file. */
class BlockImageTest {
    private static final int IMAGE = 4 << 20, BUFFERS = 300; // more buffers than one io_uring batch takes

    @TempDir
    Path dir;

    private static byte[] pattern(int len, long seed) {
        byte[] b = new byte[len];
        new Random(seed).nextBytes(b);
        return b;
    }

    /** {@link #BUFFERS} native buffers of 512 to 4096 bytes, whole sectors, from one arena. */
    private static List<MemorySegment> buffers(Arena a, Random r) {
        List<MemorySegment> bufs = new ArrayList<>();
        for (int i = 0; i < BUFFERS; i++) bufs.add(a.allocate(512L * (1 + r.nextInt(8)), 512));
        return bufs;
    }

    private static int total(List<MemorySegment> bufs) {
        return bufs.stream().mapToInt(b -> (int) b.byteSize()).sum();
    }

    @ParameterizedTest
    @EnumSource(AioMode.class)
    void scatteredBuffersAreReadAndWrittenWhole(AioMode aio) throws Exception {
        Path file = dir.resolve("disk.raw");
        Files.write(file, pattern(IMAGE, 1));
        DriveConfig drive = new DriveConfig("d0", file, false, CacheMode.WRITEBACK, aio);
        try (BlockImage image = BlockImage.open(drive); Arena a = Arena.ofConfined()) {
            List<MemorySegment> bufs = buffers(a, new Random(2));
            long offset = 8 * 512;
            assertEquals(0, image.read(bufs, offset));
            byte[] read = new byte[total(bufs)];
            int at = 0;
            for (MemorySegment b : bufs) {
                MemorySegment.copy(b, JAVA_BYTE, 0, read, at, (int) b.byteSize());
                at += (int) b.byteSize();
            }
            assertArrayEquals(Arrays.copyOfRange(pattern(IMAGE, 1), (int) offset, (int) offset + read.length), read);

            byte[] data = pattern(read.length, 3);
            at = 0;
            for (MemorySegment b : bufs) {
                MemorySegment.copy(data, at, b, JAVA_BYTE, 0, (int) b.byteSize());
                at += (int) b.byteSize();
            }
            assertEquals(0, image.write(bufs, 1 << 20));
            assertEquals(0, image.flush());
            byte[] disk = Files.readAllBytes(file);
            assertArrayEquals(data, Arrays.copyOfRange(disk, 1 << 20, (1 << 20) + data.length));
            assertArrayEquals(Arrays.copyOf(pattern(IMAGE, 1), 1 << 20), Arrays.copyOf(disk, 1 << 20), "nothing before it");

            assertEquals(0, image.writeZeroes(1 << 20, 65536, false));
            assertEquals(0, image.discard((1 << 20) + 65536, 65536));
            assertArrayEquals(new byte[131072], Arrays.copyOfRange(Files.readAllBytes(file), 1 << 20, (1 << 20) + 131072));
            assertEquals(IMAGE, Files.size(file));

            assertEquals(-5, image.read(List.of(a.allocate(4096)), IMAGE - 512), "EIO: the file ends inside the request");
        }
    }

    /** aio=io_uring is a ring of the drive's own: one more io_uring fd while the image is open, none after. */
    @Test
    void ioUringOpensARingOfItsOwn() throws Exception {
        Path file = dir.resolve("disk.raw");
        Files.write(file, new byte[65536]);
        long before = rings();
        try (BlockImage threads = BlockImage.open(new DriveConfig("t", file, true, CacheMode.WRITEBACK, AioMode.THREADS))) {
            assertEquals(before, rings(), "aio=threads has none");
            try (BlockImage uring = BlockImage.open(new DriveConfig("u", file, true, CacheMode.WRITEBACK, AioMode.IO_URING))) {
                assertEquals(before + 1, rings());
            }
        }
        assertEquals(before, rings(), "closed with the image");
    }

    private static long rings() throws Exception {
        try (var fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.filter(fd -> {
                try {
                    return Files.readSymbolicLink(fd).toString().equals("anon_inode:[io_uring]");
                } catch (Exception e) {
                    return false; // gone meanwhile (the listing's own fd)
                }
            }).count();
        }
    }

    @Test
    void aRingTheKernelRefusesNamesAioIoUring() {
        // 0 entries: io_uring_setup's EINVAL, the same path as EPERM where io_uring is disabled.
        BlockException e = assertThrows(BlockException.class, () -> UringIo.open("d0", 0));
        assertEquals("drive d0: aio=io_uring: io_uring_setup: EINVAL (Invalid argument); use aio=threads", e.getMessage());
        // EPERM (io_uring_disabled) cannot be caused here without changing the host for everyone: its text, from the same code.
        assertEquals("drive d0: aio=io_uring: io_uring_setup: EPERM (Operation not permitted) (io_uring is disabled for molt's user: "
                        + "see /proc/sys/kernel/io_uring_disabled); use aio=threads",
                UringIo.refusal("d0", new dev.molt.sys.ErrnoException("io_uring_setup", dev.molt.sys.Errno.EPERM.value)).getMessage());
    }
}
