package dev.molt.machine.boot;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BzImageLoaderTest {
    static final long MIB = 1L << 20;
    static final long ZP = 0x7000;
    static final Path KERNEL = Path.of("/boot/vmlinuz-test");

    @TempDir
    Path dir;

    final TestRam ram = new TestRam(64 * MIB);
    final SyntheticBzImage image = new SyntheticBzImage();

    @AfterEach
    void freeRam() {
        ram.close();
    }

    BootEntry.Linux64 load(byte[] img, Path initrd, String cmdline) {
        return BzImageLoader.load(KERNEL, img, initrd, cmdline, ram.mem, ram.ranges);
    }

    Path initrd(int size) throws IOException {
        byte[] data = new byte[size];
        new Random(42).nextBytes(data);
        return Files.write(dir.resolve("initrd.img"), data);
    }

    BootException failure(byte[] img) {
        return assertThrows(BootException.class, () -> load(img, null, "console=ttyS0"));
    }

    @Test
    void entryAndKernelPlacement() {
        byte[] img = image.build();
        BootEntry.Linux64 entry = load(img, null, "console=ttyS0");
        assertEquals(new BootEntry.Linux64(0x100200, 0x7000), entry);
        assertArrayEquals(Arrays.copyOfRange(img, 3 * 512, img.length), ram.mem.read(0x100000, img.length - 3 * 512));
        assertEquals(LongModeTables.CODE64, entry.codeSegment());
        assertEquals(LongModeTables.DATA, entry.dataSegment());
    }

    @Test
    void zeroPageFields() {
        byte[] img = image.build();
        load(img, null, "console=ttyS0 reboot=k");
        assertEquals(0, ram.u8(ZP + 0x1EF), "the sentinel is not copied");
        assertEquals(0, ram.u8(ZP + 0x1F0));
        assertEquals(2, ram.u8(ZP + 0x1F1), "setup_sects copied");
        assertEquals(0xFFFF, ram.u16(ZP + 0x1FA), "vid_mode copied");
        assertEquals(0x53726448L, ram.u32(ZP + 0x202));
        assertEquals(0x020F, ram.u16(ZP + 0x206));
        assertEquals(0xFF, ram.u8(ZP + 0x210), "type_of_loader");
        assertEquals(0x81, ram.u8(ZP + 0x211), "loadflags: LOADED_HIGH | CAN_USE_HEAP");
        assertEquals(0xFE00, ram.u16(ZP + 0x224), "heap_end_ptr");
        assertEquals(0x20000, ram.u32(ZP + 0x228), "cmd_line_ptr");
        assertEquals(0x7FFF_FFFFL, ram.u32(ZP + 0x22C), "initrd_addr_max copied");
        assertEquals(0x03, ram.u16(ZP + 0x236), "xloadflags copied");
        assertEquals("console=ttyS0 reboot=k".length(), ram.u32(ZP + 0x238), "cmdline_size");
        assertEquals(0x100_0000, ram.mem.getLong(ZP + 0x258), "pref_address copied");
        assertEquals(0x190, ram.u32(ZP + 0x264));
        assertEquals(0x12345678, ram.u32(ZP + 0x268), "copied through 0x202 + byte[0x201]");
        assertEquals(0, ram.u32(ZP + 0x26C), "nothing copied past the header");
        assertEquals(0, ram.u32(ZP + 0x218), "no initrd");
        assertEquals(0, ram.u32(ZP + 0x21C));
        assertEquals(3, ram.u8(ZP + 0x1E8), "e820_entries");
        assertEquals(0x100000, ram.mem.getLong(ZP + 0x2D0 + 40));
        assertEquals(63 * MIB, ram.mem.getLong(ZP + 0x2D0 + 48));
        assertEquals(0xA003, ram.mem.getLong(0x9000), "identity page tables written");
        assertEquals(0x00AF9B000000FFFFL, ram.mem.getLong(0x510), "boot GDT written");
    }

    @Test
    void cmdlinePlacement() {
        load(image.build(), null, "console=ttyS0 panic=1");
        byte[] expected = "console=ttyS0 panic=1\0".getBytes(StandardCharsets.US_ASCII);
        assertArrayEquals(expected, ram.mem.read(0x20000, expected.length));
    }

    @Test
    void longestAcceptedCmdlineAndOneByteMore() {
        String max = "x".repeat(2047);
        load(image.build(), null, max);
        assertEquals(0, ram.u8(0x20000 + 2047));
        assertEquals('x', ram.u8(0x20000 + 2046));
        var e = failure(null, "x".repeat(2048));
        assertEquals("the kernel command line is 2048 bytes long; this kernel accepts at most 2047", e.getMessage());
    }

    BootException failure(Path initrd, String cmdline) {
        return assertThrows(BootException.class, () -> load(image.build(), initrd, cmdline));
    }

    @Test
    void kernelCmdlineSizeLimitIsHonoured() {
        image.cmdlineSize = 255;
        var e = failure(null, "y".repeat(256));
        assertEquals("the kernel command line is 256 bytes long; this kernel accepts at most 255", e.getMessage());
    }

    @Test
    void initrdGoesToTheTopOfRam() throws IOException {
        Path rd = initrd(10_000);
        load(image.build(), rd, "");
        long expected = (64 * MIB - 10_000) & ~0xFFFL;
        assertEquals(0x3FFD000, expected);
        assertEquals(expected, ram.u32(ZP + 0x218));
        assertEquals(10_000, ram.u32(ZP + 0x21C));
        assertEquals(0, ram.u32(ZP + 0x0C0), "ext_ramdisk_image");
        assertEquals(0, ram.u32(ZP + 0x0C4), "ext_ramdisk_size");
        assertArrayEquals(Files.readAllBytes(rd), ram.mem.read(expected, 10_000));
    }

    @Test
    void initrdStaysBelowInitrdAddrMax() throws IOException {
        image.initrdAddrMax = 32 * MIB - 1;
        load(image.build(), initrd(10_000), "");
        assertEquals(32 * MIB - 0x3000, ram.u32(ZP + 0x218));
    }

    @Test
    void initrdThatWouldOverlapTheKernelIsRefused() throws IOException {
        // The kernel decompresses into [16 MiB, 17 MiB): 47 MiB is all there is above it.
        Path rd = initrd((int) (47 * MIB + 1));
        var e = failure(rd, "");
        assertEquals("initrd '" + rd + "': 49283073 bytes (47 MiB) do not fit in guest RAM between the end of the"
                + " kernel (0x1100000) and 0x4000000: give the guest more memory", e.getMessage());
        Path fits = initrd((int) (47 * MIB));
        load(image.build(), fits, "");
        assertEquals(17 * MIB, ram.u32(ZP + 0x218));
    }

    @Test
    void emptyInitrdMeansNone() throws IOException {
        load(image.build(), Files.createFile(dir.resolve("empty")), "");
        assertEquals(0, ram.u32(ZP + 0x218));
        assertEquals(0, ram.u32(ZP + 0x21C));
    }

    @Test
    void missingInitrd() {
        Path rd = dir.resolve("nope.img");
        var e = failure(rd, "");
        assertEquals("initrd '" + rd + "': cannot read it: no such file", e.getMessage());
    }

    @Test
    void setupSectsZeroMeansFour() {
        image.setupSects = 0;
        byte[] img = image.build();
        load(img, null, "");
        assertEquals(img[5 * 512] & 0xFF, ram.u8(0x100000));
        assertEquals(img[5 * 512 + 1] & 0xFF, ram.u8(0x100001));
    }

    @Test
    void notABzImage() {
        byte[] img = image.build();
        img[0x202] = 'X';
        assertEquals("kernel '/boot/vmlinuz-test': not a bzImage (no \"HdrS\" setup header signature at 0x202)",
                failure(img).getMessage());
        assertEquals("kernel '/boot/vmlinuz-test': not a bzImage (no \"HdrS\" setup header signature at 0x202)",
                failure(new byte[100]).getMessage());
    }

    @Test
    void oldBootProtocol() {
        image.version = 0x020B;
        assertEquals("kernel '/boot/vmlinuz-test': boot protocol 2.11 too old: molt needs 2.12+",
                failure(image.build()).getMessage());
        image.version = 0x0204;
        assertEquals("kernel '/boot/vmlinuz-test': boot protocol 2.04 too old: molt needs 2.12+",
                failure(image.build()).getMessage());
    }

    @Test
    void no64BitEntry() {
        image.xloadflags = 0x02;
        assertEquals("kernel '/boot/vmlinuz-test': kernel has no 64-bit entry point (XLF_KERNEL_64 is clear in xloadflags)",
                failure(image.build()).getMessage());
    }

    @Test
    void zImageIsRefused() {
        image.loadflags = 0;
        assertEquals("kernel '/boot/vmlinuz-test': not a bzImage (a zImage, which loads below 1 MiB, is not supported)",
                failure(image.build()).getMessage());
    }

    @Test
    void kernelThatDoesNotFit() {
        image.initSize = 48 * MIB + 1;
        assertEquals("kernel '/boot/vmlinuz-test': kernel does not fit in guest RAM: it needs memory up to 0x4000001"
                        + " (load address 0x1000000, init_size 0x3000001) but RAM below 4 GiB ends at 0x4000000 (64 MiB)",
                failure(image.build()).getMessage());
        image.initSize = 48 * MIB;
        load(image.build(), null, "");
    }

    @Test
    void truncatedImages() {
        byte[] img = image.build();
        assertEquals("kernel '/boot/vmlinuz-test': truncated: the file (1536 bytes) ends inside the 1536-byte setup code",
                failure(Arrays.copyOf(img, 3 * 512)).getMessage());
        assertEquals("kernel '/boot/vmlinuz-test': not a bzImage (the setup header is truncated)",
                failure(Arrays.copyOf(img, 0x220)).getMessage());
        image.headerLengthByte = 0x20;
        assertEquals("kernel '/boot/vmlinuz-test': not a bzImage (setup header length byte 0x20 is invalid)",
                failure(image.build()).getMessage());
    }

    @Test
    void randomCorruptionGivesOnlyBootExceptions() {
        byte[] valid = image.build();
        Random random = new Random(7);
        int loaded = 0;
        for (int round = 0; round < 1000; round++) {
            byte[] img = Arrays.copyOf(valid, random.nextInt(4) == 0 ? random.nextInt(valid.length + 1) : valid.length);
            for (int n = random.nextInt(6) + 1; n > 0; n--) {
                int at = 0x1F0 + random.nextInt(0x90); // the setup header
                if (at < img.length) img[at] = (byte) random.nextInt();
            }
            try {
                load(img, null, "console=ttyS0");
                loaded++;
            } catch (BootException expected) {
                assertTrue(expected.getMessage().startsWith("kernel '/boot/vmlinuz-test': ")
                        || expected.getMessage().startsWith("the kernel command line"), expected.getMessage());
            }
        }
        assertTrue(loaded > 0, "some mutations are harmless");
    }
}
