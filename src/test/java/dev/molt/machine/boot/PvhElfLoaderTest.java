package dev.molt.machine.boot;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PvhElfLoaderTest {
    static final long MIB = 1L << 20;
    static final Path KERNEL = Path.of("/boot/vmlinux-test");
    static final String PREFIX = "kernel '/boot/vmlinux-test': ";

    @TempDir
    Path dir;

    final TestRam ram = new TestRam(64 * MIB);
    final SyntheticElf elf = new SyntheticElf();

    @AfterEach
    void freeRam() {
        ram.close();
    }

    BootEntry.Pvh32 load(byte[] image, Path initrd, String cmdline) {
        return PvhElfLoader.load(KERNEL, image, initrd, cmdline, ram.mem, ram.ranges);
    }

    String failure(byte[] image) {
        return assertThrows(BootException.class, () -> load(image, null, "")).getMessage();
    }

    @Test
    void loadsSegmentsAtTheirPhysicalAddressesAndZeroesBss() {
        ram.mem.fill(0x100_0000, 0x2000, (byte) 0xFF);
        ram.mem.fill(0x120_0000, 0x3000, (byte) 0xFF);
        byte[] image = elf.build();
        BootEntry.Pvh32 entry = load(image, null, "console=ttyS0");
        assertEquals(new BootEntry.Pvh32(0x100_0100, 0x6000), entry);
        assertEquals(LongModeTables.CODE32, entry.codeSegment());
        assertEquals(LongModeTables.DATA, entry.dataSegment());
        assertArrayEquals(Arrays.copyOfRange(image, 0x200, 0x500), ram.mem.read(0x100_0000, 0x300));
        assertArrayEquals(new byte[0xD00], ram.mem.read(0x100_0300, 0xD00), "text .bss zeroed");
        assertArrayEquals(Arrays.copyOfRange(image, 0x600, 0x700), ram.mem.read(0x120_0000, 0x100));
        assertArrayEquals(new byte[0x2F00], ram.mem.read(0x120_0100, 0x2F00), "data .bss zeroed");
        assertEquals(0xFF, ram.u8(0x100_1000), "nothing written past memsz");
        assertEquals(0x00CF9B000000FFFFL, ram.mem.getLong(0x508), "GDT has the 32-bit code segment");
    }

    @Test
    void startInfoWithoutInitrd() {
        load(elf.build(), null, "console=ttyS0 reboot=k");
        assertEquals(0x336ec578L, ram.u32(0x6000), "magic");
        assertEquals(1, ram.u32(0x6004), "version");
        assertEquals(0, ram.u32(0x6008), "flags");
        assertEquals(0, ram.u32(0x600C), "nr_modules");
        assertEquals(0, ram.mem.getLong(0x6010), "modlist_paddr");
        assertEquals(0x7000, ram.mem.getLong(0x6018), "cmdline_paddr");
        assertEquals(0, ram.mem.getLong(0x6020), "rsdp_paddr");
        assertEquals(0x6100, ram.mem.getLong(0x6028), "memmap_paddr");
        assertEquals(3, ram.u32(0x6030), "memmap_entries");
        assertEquals(0, ram.u32(0x6034), "reserved");
        byte[] cmdline = "console=ttyS0 reboot=k\0".getBytes(StandardCharsets.US_ASCII);
        assertArrayEquals(cmdline, ram.mem.read(0x7000, cmdline.length));
    }

    @Test
    void memmap() {
        load(elf.build(), null, "");
        long[][] expected = {{0, 0x9FC00, 1}, {0x9FC00, 0x60400, 2}, {0x100000, 63 * MIB, 1}};
        for (int i = 0; i < expected.length; i++) {
            long at = 0x6100 + 24L * i;
            assertEquals(expected[i][0], ram.mem.getLong(at));
            assertEquals(expected[i][1], ram.mem.getLong(at + 8));
            assertEquals(expected[i][2], ram.u32(at + 16));
            assertEquals(0, ram.u32(at + 20));
        }
    }

    @Test
    void initrdIsTheFirstModule() throws IOException {
        byte[] data = new byte[5000];
        new Random(1).nextBytes(data);
        Path rd = Files.write(dir.resolve("initrd"), data);
        load(elf.build(), rd, "");
        long at = (64 * MIB - 5000) & ~0xFFFL;
        assertEquals(1, ram.u32(0x600C), "nr_modules");
        assertEquals(0x6040, ram.mem.getLong(0x6010), "modlist_paddr");
        assertEquals(at, ram.mem.getLong(0x6040), "paddr");
        assertEquals(5000, ram.mem.getLong(0x6048), "size");
        assertEquals(0, ram.mem.getLong(0x6050), "cmdline_paddr");
        assertEquals(0, ram.mem.getLong(0x6058), "reserved");
        assertArrayEquals(data, ram.mem.read(at, 5000));
    }

    @Test
    void initrdMustFitAboveTheKernelImage() throws IOException {
        // The kernel image ends at 0x1203000 (data segment + .bss).
        Path rd = Files.write(dir.resolve("big"), new byte[(int) (64 * MIB - 0x1203000 + 1)]);
        var e = assertThrows(BootException.class, () -> load(elf.build(), rd, ""));
        assertTrue(e.getMessage().startsWith("initrd '" + rd + "': 48222209 bytes (45 MiB) do not fit in guest RAM"
                + " between the end of the kernel (0x1203000) and 0x4000000"), e.getMessage());
    }

    @Test
    void fourByteEntryNote() {
        elf.entryDescSize = 4;
        elf.entry = 0x100_02FF;
        assertEquals(0x100_02FF, load(elf.build(), null, "").eip());
    }

    @Test
    void cmdlineLimit() {
        load(elf.build(), null, "z".repeat(2047));
        var e = assertThrows(BootException.class, () -> load(elf.build(), null, "z".repeat(2048)));
        assertEquals("the kernel command line is 2048 bytes long; this kernel accepts at most 2047", e.getMessage());
    }

    @Test
    void truncatedHeader() {
        assertEquals(PREFIX + "truncated ELF header (the file is 40 bytes)", failure(Arrays.copyOf(elf.build(), 40)));
    }

    @Test
    void programHeadersBeyondTheFile() {
        elf.phoff = 0x10000;
        assertEquals(PREFIX + "the ELF program header table (0xa8 bytes at file offset 0x10000) lies beyond the end"
                + " of the file (0x700 bytes)", failure(elf.build()));
        elf.phoff = -8; // u64 0xFFFFFFFFFFFFFFF8
        assertTrue(failure(elf.build()).startsWith(PREFIX + "the ELF program header table"));
        elf.phoff = 0x40;
        assertEquals(PREFIX + "the ELF program header table (0xa8 bytes at file offset 0x40) lies beyond the end"
                + " of the file (0xd0 bytes)", failure(Arrays.copyOf(elf.build(), 0xD0)));
    }

    @Test
    void segmentDataBeyondTheFile() {
        elf.textOffset = 0x10_0000;
        assertEquals(PREFIX + "ELF segment 0 (0x300 bytes at file offset 0x100000) lies beyond the end of the file"
                + " (0x700 bytes)", failure(elf.build()));
        elf.textOffset = SyntheticElf.TEXT_OFFSET;
        elf.textFileSize = 0x600;
        assertEquals(PREFIX + "ELF segment 0 (0x600 bytes at file offset 0x200) lies beyond the end of the file"
                + " (0x700 bytes)", failure(elf.build()));
    }

    @Test
    void segmentOutsideRam() {
        elf.textPaddr = 0x1000_0000;
        assertEquals(PREFIX + "ELF segment 0 (physical 0x10000000, 0x1000 bytes) does not fit in guest RAM",
                failure(elf.build()));
        elf.textPaddr = 64 * MIB - 0x800; // starts inside, ends outside
        assertEquals(PREFIX + "ELF segment 0 (physical 0x3fff800, 0x1000 bytes) does not fit in guest RAM",
                failure(elf.build()));
        elf.textPaddr = 0x100_0000;
        elf.textMemSize = -1;
        assertTrue(failure(elf.build()).startsWith(PREFIX + "ELF segment 0 has a file size"));
    }

    @Test
    void segmentInTheBootArea() {
        elf.textPaddr = 0x8000;
        elf.entry = 0x8100;
        assertEquals(PREFIX + "ELF segment 0 at physical 0x8000 overlaps molt's boot data below 0x100000",
                failure(elf.build()));
    }

    @Test
    void fileSizeLargerThanMemorySize() {
        elf.textMemSize = 0x100;
        assertEquals(PREFIX + "ELF segment 0 has a file size (0x300) larger than its memory size (0x100)",
                failure(elf.build()));
    }

    @Test
    void noPvhNote() {
        elf.xenNote = false;
        assertEquals(PREFIX + "ELF kernel has no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY)", failure(elf.build()));
        elf.xenNote = true;
        elf.xenNoteName = "Xem";
        assertEquals(PREFIX + "ELF kernel has no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY)", failure(elf.build()));
    }

    @Test
    void badEntryNotes() {
        elf.entry = 0x200_0000;
        assertEquals(PREFIX + "the PVH entry point 0x2000000 is not inside any loaded segment", failure(elf.build()));
        elf.entry = 1L << 32;
        assertEquals(PREFIX + "the PVH entry point 0x100000000 is not a 32-bit address", failure(elf.build()));
        elf.entryDescSize = 2;
        assertEquals(PREFIX + "the PVH entry note has a 2-byte address; expected 4 or 8 bytes", failure(elf.build()));
    }

    @Test
    void noteRunningPastItsSegment() {
        byte[] image = elf.build();
        ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN).putInt(0x100 + 4, 0x1000); // GNU note descsz
        assertEquals(PREFIX + "ELF note segment 2 has a note that runs past its end", failure(image));
    }

    @Test
    void wrongKindsOfElf() {
        elf.machine = 3;
        assertEquals(PREFIX + "not an x86-64 ELF file (e_machine 3)", failure(elf.build()));
        elf.machine = 62;
        elf.elfClass = 1;
        assertEquals(PREFIX + "not a 64-bit ELF file (EI_CLASS 1)", failure(elf.build()));
        elf.elfClass = 2;
        elf.type = 3;
        assertEquals(PREFIX + "not an executable ELF file (e_type 3)", failure(elf.build()));
        elf.type = 2;
        elf.phnum = 0;
        assertEquals(PREFIX + "ELF kernel has no program headers", failure(elf.build()));
        byte[] bigEndian = new SyntheticElf().build();
        bigEndian[5] = 2;
        assertEquals(PREFIX + "not a little-endian ELF file (EI_DATA 2)", failure(bigEndian));
    }

    @Test
    void noLoadableSegment() {
        byte[] image = elf.build();
        ByteBuffer b = ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(0x40, 6); // PT_PHDR
        b.putInt(0x40 + 56, 0); // PT_NULL
        assertEquals(PREFIX + "ELF kernel has no loadable (PT_LOAD) segment", failure(image));
    }

    @Test
    void randomCorruptionGivesOnlyBootExceptions() {
        byte[] valid = elf.build();
        Random random = new Random(12345);
        int loaded = 0;
        for (int round = 0; round < 3000; round++) {
            byte[] image = valid.clone();
            switch (random.nextInt(4)) {
                case 0 -> image = Arrays.copyOf(image, random.nextInt(valid.length));
                case 1 -> { // an extreme value in some 8-byte field of the headers or notes
                    long[] extremes = {-1L, Long.MIN_VALUE, Long.MAX_VALUE, 0x7FFF_FFFFL, 0xFFFF_FFFFL, 64 * MIB, 0};
                    int at = random.nextInt(0x150) & ~3;
                    ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN)
                            .putLong(at, extremes[random.nextInt(extremes.length)]);
                }
                default -> {
                    for (int n = random.nextInt(8) + 1; n > 0; n--) {
                        image[random.nextInt(0x200)] = (byte) random.nextInt();
                    }
                }
            }
            try {
                load(image, null, "console=ttyS0");
                loaded++;
            } catch (BootException e) {
                assertTrue(e.getMessage().startsWith(PREFIX), e.getMessage());
            }
        }
        assertTrue(loaded > 0, "some mutations are harmless");
    }
}
