package dev.molt.machine.boot;

import dev.molt.memory.GuestMemory;
import dev.molt.memory.GuestMemoryException;
import dev.molt.memory.RamLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.List;

/**
 * Loads a Linux bzImage for the 64-bit boot protocol (Documentation/arch/x86/boot.rst): the
 * protected-mode part at 1 MiB, a zero page (struct boot_params) at {@link BootLayout#ZERO_PAGE},
 * the command line at {@link BootLayout#BZIMAGE_CMDLINE}, the initrd at the top of low RAM, and the
 * boot GDT and identity page tables. The 16-bit setup code is never run.
 */
public final class BzImageLoader {
    private BzImageLoader() {}

    /** "HdrS", little-endian, at {@link #HEADER_MAGIC}. */
    public static final int HDRS = 0x5372_6448;
    /** 2.12: the first protocol with xloadflags, which says whether a 64-bit entry exists. */
    public static final int MIN_PROTOCOL = 0x020C;
    /** The 64-bit entry is this far past the protected-mode load address. */
    public static final long ENTRY_64_OFFSET = 0x200;

    // Setup header fields: offsets in both the image and the zero page.
    private static final int SETUP_SECTS = 0x1F1;
    private static final int HEADER_START = 0x1F1;
    private static final int HEADER_LENGTH_BYTE = 0x201;
    static final int HEADER_MAGIC = 0x202;
    private static final int VERSION = 0x206;
    static final int TYPE_OF_LOADER = 0x210;
    static final int LOADFLAGS = 0x211;
    static final int RAMDISK_IMAGE = 0x218;
    static final int RAMDISK_SIZE = 0x21C;
    static final int HEAP_END_PTR = 0x224;
    static final int CMD_LINE_PTR = 0x228;
    private static final int INITRD_ADDR_MAX = 0x22C;
    private static final int KERNEL_ALIGNMENT = 0x230;
    private static final int RELOCATABLE_KERNEL = 0x234;
    private static final int XLOADFLAGS = 0x236;
    static final int CMDLINE_SIZE = 0x238;
    private static final int PREF_ADDRESS = 0x258;
    private static final int INIT_SIZE = 0x260;
    /** The 2.12 header runs through handover_offset (0x264, 4 bytes). */
    private static final int MIN_HEADER_END = 0x268;
    // boot_params fields outside the setup header.
    static final int EXT_RAMDISK_IMAGE = 0x0C0;
    static final int EXT_RAMDISK_SIZE = 0x0C4;

    private static final int LOADED_HIGH = 0x01;
    private static final int CAN_USE_HEAP = 0x80;
    private static final int XLF_KERNEL_64 = 0x01;
    /** "Undefined" boot loader: molt has no assigned id. */
    private static final int LOADER_UNDEFINED = 0xFF;
    /** Heap end for the (skipped) real-mode setup code, as kvm-host sets it. */
    private static final int HEAP_END = 0xFE00;
    private static final int SECTOR = 512;
    /** setup_sects of 0 means 4, for compatibility with very old kernels. */
    private static final int DEFAULT_SETUP_SECTS = 4;

    /** Whether {@code image} carries the bzImage setup header signature. */
    public static boolean isBzImage(byte[] image) {
        return image.length >= HEADER_MAGIC + 4 && new ImageBytes(null, image).u32(HEADER_MAGIC) == HDRS;
    }

    /** The validated setup header fields molt uses. */
    record Header(int setupSize, int loadflags, long initrdAddrMax, long cmdlineSize, long kernelAlignment,
                  boolean relocatable, long prefAddress, long initSize, int headerEnd) {

        static Header parse(ImageBytes img) {
            if (img.length() < HEADER_MAGIC + 4 || img.u32(HEADER_MAGIC) != HDRS) {
                throw img.error("not a bzImage (no \"HdrS\" setup header signature at 0x202)");
            }
            int version = img.length() >= VERSION + 2 ? img.u16(VERSION) : 0;
            if (version < MIN_PROTOCOL) {
                throw img.error(String.format("boot protocol %d.%02d too old: molt needs 2.12+",
                        version >> 8, version & 0xFF));
            }
            if (img.length() < MIN_HEADER_END) throw img.error("not a bzImage (the setup header is truncated)");
            int headerEnd = HEADER_MAGIC + img.u8(HEADER_LENGTH_BYTE);
            if (headerEnd < MIN_HEADER_END || headerEnd > img.length()) {
                throw img.error(String.format("not a bzImage (setup header length byte 0x%02x is invalid)",
                        img.u8(HEADER_LENGTH_BYTE)));
            }
            if ((img.u16(XLOADFLAGS) & XLF_KERNEL_64) == 0) {
                throw img.error("kernel has no 64-bit entry point (XLF_KERNEL_64 is clear in xloadflags)");
            }
            int loadflags = img.u8(LOADFLAGS);
            if ((loadflags & LOADED_HIGH) == 0) {
                throw img.error("not a bzImage (a zImage, which loads below 1 MiB, is not supported)");
            }
            int setupSects = img.u8(SETUP_SECTS);
            int setupSize = ((setupSects == 0 ? DEFAULT_SETUP_SECTS : setupSects) + 1) * SECTOR;
            if (setupSize >= img.length()) {
                throw img.error(String.format("truncated: the file (%d bytes) ends inside the %d-byte setup code",
                        img.length(), setupSize));
            }
            return new Header(setupSize, loadflags, img.u32(INITRD_ADDR_MAX), img.u32(CMDLINE_SIZE),
                    img.u32(KERNEL_ALIGNMENT), img.u8(RELOCATABLE_KERNEL) != 0, img.u64(PREF_ADDRESS),
                    img.u32(INIT_SIZE), headerEnd);
        }

        /**
         * Where the kernel decompresses itself and runs. The decompressor works in
         * [start, start + init_size) with start = pref_address (LOAD_PHYSICAL_ADDR, 16 MiB for
         * Debian's kernel) or the load address rounded up to kernel_alignment if that is higher
         * (arch/x86/boot/compressed/head_64.S). With KASLR it may pick another place, but it avoids
         * the initrd then; without KASLR this is the range the initrd must stay out of.
         */
        long runStart() {
            long start = BootLayout.KERNEL_START;
            boolean sensibleAlignment = kernelAlignment > 0 && Long.bitCount(kernelAlignment) == 1;
            if (relocatable && sensibleAlignment) start = (start + kernelAlignment - 1) & -kernelAlignment;
            return prefAddress > start || prefAddress < 0 ? prefAddress : start;
        }
    }

    /**
     * Loads {@code image} (the bytes of {@code path}, which is only used in messages), the initrd
     * (or none if null) and the command line into {@code mem}, whose RAM ranges are {@code ram}.
     */
    public static BootEntry.Linux64 load(Path path, byte[] image, Path initrd, String cmdline,
                                         GuestMemory mem, List<RamLayout.Range> ram) {
        ImageBytes img = new ImageBytes(path, image);
        Header header = Header.parse(img);
        List<E820.Entry> map = E820.build(ram);
        long lowEnd = E820.lowRamEnd(ram);

        int payloadLength = img.length() - header.setupSize();
        long runStart = header.runStart();
        long kernelEnd = runStart < 0 || runStart > lowEnd
                ? Long.MAX_VALUE
                : Math.max(BootLayout.KERNEL_START + payloadLength, runStart + header.initSize());
        if (kernelEnd > lowEnd) {
            throw img.error(String.format("kernel does not fit in guest RAM: it needs memory up to 0x%x"
                            + " (load address 0x%x, init_size 0x%x) but RAM below 4 GiB ends at 0x%x (%d MiB)",
                    runStart + header.initSize(), runStart, header.initSize(), lowEnd, lowEnd >> 20));
        }
        long cmdlineMax = Math.min(BootLayout.BZIMAGE_CMDLINE_MAX, header.cmdlineSize() + 1);
        byte[] cmdlineBytes = KernelCommandLine.encode(cmdline, (int) cmdlineMax);

        try {
            mem.write(BootLayout.KERNEL_START, image, header.setupSize(), payloadLength);
            long initrdCeiling = Math.min(header.initrdAddrMax() + 1, lowEnd);
            Initrd.Placement rd = Initrd.load(initrd, mem, kernelEnd, initrdCeiling);
            mem.write(BootLayout.BZIMAGE_CMDLINE, cmdlineBytes);
            mem.write(BootLayout.ZERO_PAGE, zeroPage(image, header, rd, cmdlineBytes.length - 1));
            E820.writeZeroPage(mem, BootLayout.ZERO_PAGE, map);
            LongModeTables.write(mem);
        } catch (GuestMemoryException e) {
            throw img.error("cannot be loaded into guest RAM: " + e.getMessage());
        }
        return new BootEntry.Linux64(BootLayout.KERNEL_START + ENTRY_64_OFFSET, BootLayout.ZERO_PAGE);
    }

    /** struct boot_params: the image's setup header plus what the boot loader must fill in. */
    private static byte[] zeroPage(byte[] image, Header header, Initrd.Placement rd, int cmdlineLength) {
        byte[] page = new byte[BootLayout.ZERO_PAGE_SIZE];
        // Start at 0x1F1, not 0x1EF: byte 0x1EF is the "sentinel" that catches loaders copying too much.
        System.arraycopy(image, HEADER_START, page, HEADER_START, header.headerEnd() - HEADER_START);
        ByteBuffer b = ByteBuffer.wrap(page).order(ByteOrder.LITTLE_ENDIAN);
        b.put(TYPE_OF_LOADER, (byte) LOADER_UNDEFINED);
        b.put(LOADFLAGS, (byte) ((header.loadflags() & LOADED_HIGH) | CAN_USE_HEAP));
        b.putShort(HEAP_END_PTR, (short) HEAP_END);
        b.putInt(CMD_LINE_PTR, (int) BootLayout.BZIMAGE_CMDLINE);
        b.putInt(CMDLINE_SIZE, cmdlineLength);
        long rdAddress = rd == null ? 0 : rd.gpa();
        long rdSize = rd == null ? 0 : rd.size();
        b.putInt(RAMDISK_IMAGE, (int) rdAddress);
        b.putInt(RAMDISK_SIZE, (int) rdSize);
        b.putInt(EXT_RAMDISK_IMAGE, (int) (rdAddress >>> 32));
        b.putInt(EXT_RAMDISK_SIZE, (int) (rdSize >>> 32));
        return page;
    }
}
