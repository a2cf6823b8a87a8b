package dev.molt.machine.boot;

import dev.molt.memory.GuestMemory;
import dev.molt.memory.GuestMemoryException;
import dev.molt.memory.RamLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Loads an ELF64 x86-64 kernel (Linux's uncompressed vmlinux) and boots it through the PVH entry:
 * every PT_LOAD at its physical address, then {@code hvm_start_info}, the module list (the initrd),
 * the memory map and the command line, as the Xen/PVH boot ABI (xen/include/public/arch-x86/hvm/
 * start_info.h) describes them.
 *
 * <p>Everything read from the file is bounds-checked: a corrupt ELF gives a {@link BootException}
 * that says what is wrong, never another exception.
 */
public final class PvhElfLoader {
    private PvhElfLoader() {}

    public static final int START_INFO_MAGIC = 0x336e_c578;
    public static final int START_INFO_VERSION = 1;
    public static final int START_INFO_SIZE = 56;
    public static final int MODLIST_ENTRY_SIZE = 32;
    /** Note type of the 32-bit physical PVH entry point, in notes named "Xen". */
    public static final int XEN_ELFNOTE_PHYS32_ENTRY = 18;

    private static final int EHDR_SIZE = 64;
    private static final int PHDR_SIZE = 56;
    private static final int ELFCLASS64 = 2;
    private static final int ELFDATA2LSB = 1;
    private static final int ET_EXEC = 2;
    private static final int EM_X86_64 = 62;
    private static final int PT_LOAD = 1;
    private static final int PT_NOTE = 4;
    private static final int NOTE_HEADER_SIZE = 12;
    private static final byte[] XEN_NOTE_NAME = {'X', 'e', 'n', 0};

    /** Whether {@code image} starts with the ELF magic. */
    public static boolean isElf(byte[] image) {
        return image.length >= 4 && image[0] == 0x7F && image[1] == 'E' && image[2] == 'L' && image[3] == 'F';
    }

    /** One program header: only what loading needs. */
    private record Segment(int index, int type, long offset, long paddr, long fileSize, long memSize) {
        long end() {
            return paddr + memSize;
        }
    }

    /**
     * Loads the ELF kernel {@code image} (the bytes of {@code path}, used in messages), the
     * initrd (none if null) and the command line into {@code mem}, whose RAM ranges are {@code ram}.
     */
    public static BootEntry.Pvh32 load(Path path, byte[] image, Path initrd, String cmdline,
                                       GuestMemory mem, List<RamLayout.Range> ram) {
        ImageBytes img = new ImageBytes(path, image);
        List<Segment> segments = programHeaders(img);
        List<Segment> loads = segments.stream().filter(s -> s.type() == PT_LOAD).toList();
        if (loads.isEmpty()) throw img.error("ELF kernel has no loadable (PT_LOAD) segment");
        for (Segment s : loads) checkLoadable(img, s, mem);
        long entry = pvhEntry(img, segments);
        if (loads.stream().noneMatch(s -> entry >= s.paddr() && entry - s.paddr() < s.fileSize())) {
            throw img.error(String.format("the PVH entry point 0x%x is not inside any loaded segment", entry));
        }
        List<E820.Entry> map = E820.build(ram);
        byte[] cmdlineBytes = KernelCommandLine.encode(cmdline, BootLayout.PVH_CMDLINE_MAX);
        long kernelEnd = loads.stream().mapToLong(Segment::end).max().orElseThrow();
        long initrdCeiling = Math.min(E820.lowRamEnd(ram), BootLayout.FOUR_GIB);

        try {
            for (Segment s : loads) {
                mem.write(s.paddr(), image, (int) s.offset(), (int) s.fileSize());
                mem.fill(s.paddr() + s.fileSize(), s.memSize() - s.fileSize(), (byte) 0); // .bss
            }
            Initrd.Placement rd = Initrd.load(initrd, mem, kernelEnd, initrdCeiling);
            mem.write(BootLayout.PVH_CMDLINE, cmdlineBytes);
            E820.writePvhMemmap(mem, BootLayout.PVH_MEMMAP, map);
            if (rd != null) mem.write(BootLayout.PVH_MODULE_LIST, moduleEntry(rd));
            mem.write(BootLayout.PVH_START_INFO, startInfo(rd != null, map.size()));
            LongModeTables.writeDescriptorTables(mem);
        } catch (GuestMemoryException e) {
            throw img.error("cannot be loaded into guest RAM: " + e.getMessage());
        }
        return new BootEntry.Pvh32(entry, BootLayout.PVH_START_INFO);
    }

    /** Validates the ELF header and returns every program header. */
    private static List<Segment> programHeaders(ImageBytes img) {
        if (img.length() < EHDR_SIZE) throw img.error("truncated ELF header (the file is " + img.length() + " bytes)");
        if (!isElf(img.bytes())) throw img.error("not an ELF file");
        if (img.u8(4) != ELFCLASS64) throw img.error("not a 64-bit ELF file (EI_CLASS " + img.u8(4) + ")");
        if (img.u8(5) != ELFDATA2LSB) throw img.error("not a little-endian ELF file (EI_DATA " + img.u8(5) + ")");
        if (img.u16(18) != EM_X86_64) throw img.error("not an x86-64 ELF file (e_machine " + img.u16(18) + ")");
        if (img.u16(16) != ET_EXEC) throw img.error("not an executable ELF file (e_type " + img.u16(16) + ")");
        long phoff = img.u64(32);
        int phentsize = img.u16(54);
        int phnum = img.u16(56);
        if (phnum == 0) throw img.error("ELF kernel has no program headers");
        if (phentsize < PHDR_SIZE) throw img.error("ELF program header size " + phentsize + " is too small");
        img.require(phoff, (long) phnum * phentsize, "the ELF program header table");
        List<Segment> segments = new ArrayList<>(phnum);
        for (int i = 0; i < phnum; i++) {
            long at = phoff + (long) i * phentsize;
            segments.add(new Segment(i, (int) img.u32(at), img.u64(at + 8), img.u64(at + 24),
                    img.u64(at + 32), img.u64(at + 40)));
        }
        return segments;
    }

    /** A PT_LOAD must come from inside the file and land inside guest RAM, above the boot area. */
    private static void checkLoadable(ImageBytes img, Segment s, GuestMemory mem) {
        String name = "ELF segment " + s.index();
        img.require(s.offset(), s.fileSize(), name);
        if (s.memSize() < 0 || Long.compareUnsigned(s.fileSize(), s.memSize()) > 0) {
            throw img.error(String.format("%s has a file size (0x%x) larger than its memory size (0x%x)",
                    name, s.fileSize(), s.memSize()));
        }
        if (s.paddr() < 0 || !mem.contains(s.paddr(), s.memSize())) {
            throw img.error(String.format("%s (physical 0x%x, 0x%x bytes) does not fit in guest RAM",
                    name, s.paddr(), s.memSize()));
        }
        if (s.memSize() > 0 && s.paddr() < BootLayout.KERNEL_START) {
            throw img.error(String.format("%s at physical 0x%x overlaps molt's boot data below 0x%x",
                    name, s.paddr(), BootLayout.KERNEL_START));
        }
    }

    /** The XEN_ELFNOTE_PHYS32_ENTRY address, from the first PT_NOTE that has one. */
    private static long pvhEntry(ImageBytes img, List<Segment> segments) {
        for (Segment s : segments) {
            if (s.type() != PT_NOTE) continue;
            img.require(s.offset(), s.fileSize(), "ELF note segment " + s.index());
            long end = s.offset() + s.fileSize();
            for (long at = s.offset(); end - at >= NOTE_HEADER_SIZE; ) {
                long nameSize = img.u32(at);
                long descSize = img.u32(at + 4);
                long type = img.u32(at + 8);
                long name = at + NOTE_HEADER_SIZE;
                long desc = name + align4(nameSize);
                if (desc > end || descSize > end - desc) {
                    throw img.error("ELF note segment " + s.index() + " has a note that runs past its end");
                }
                if (type == XEN_ELFNOTE_PHYS32_ENTRY && isXenName(img, name, nameSize)) {
                    return switch ((int) descSize) {
                        case 4 -> img.u32(desc);
                        case 8 -> checkedEntry(img, img.u64(desc));
                        default -> throw img.error("the PVH entry note has a " + descSize
                                + "-byte address; expected 4 or 8 bytes");
                    };
                }
                at = desc + align4(descSize);
            }
        }
        throw img.error("ELF kernel has no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY)");
    }

    private static long checkedEntry(ImageBytes img, long entry) {
        if (entry < 0 || entry >= BootLayout.FOUR_GIB) {
            throw img.error(String.format("the PVH entry point 0x%x is not a 32-bit address", entry));
        }
        return entry;
    }

    private static boolean isXenName(ImageBytes img, long name, long nameSize) {
        if (nameSize != XEN_NOTE_NAME.length) return false;
        for (int i = 0; i < XEN_NOTE_NAME.length; i++) {
            if (img.u8(name + i) != XEN_NOTE_NAME[i]) return false;
        }
        return true;
    }

    private static long align4(long n) {
        return (n + 3) & ~3L;
    }

    /** struct hvm_start_info (version 1: with the memory map). */
    private static byte[] startInfo(boolean hasInitrd, int memmapEntries) {
        ByteBuffer b = ByteBuffer.allocate(START_INFO_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(START_INFO_MAGIC);
        b.putInt(START_INFO_VERSION);
        b.putInt(0); // flags
        b.putInt(hasInitrd ? 1 : 0); // nr_modules
        b.putLong(hasInitrd ? BootLayout.PVH_MODULE_LIST : 0);
        b.putLong(BootLayout.PVH_CMDLINE);
        b.putLong(0); // rsdp_paddr: no ACPI, the MP table describes the machine
        b.putLong(BootLayout.PVH_MEMMAP);
        b.putInt(memmapEntries);
        b.putInt(0); // reserved
        return b.array();
    }

    /** struct hvm_modlist_entry for the initrd; Linux takes its first module as the initrd. */
    private static byte[] moduleEntry(Initrd.Placement rd) {
        ByteBuffer b = ByteBuffer.allocate(MODLIST_ENTRY_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(rd.gpa()).putLong(rd.size()).putLong(0).putLong(0);
        return b.array();
    }
}
