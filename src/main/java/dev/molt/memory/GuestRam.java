package dev.molt.memory;

import java.util.ArrayList;
import java.util.List;

/**
 * All of a guest's RAM: one block (an explicit memory backend or the machine's implicit RAM) laid
 * out around the MMIO hole. Owns the block; closing it unmaps and closes the fd.
 */
public final class GuestRam implements AutoCloseable {
    /** QEMU's name for microvm's implicit RAM block. */
    public static final String IMPLICIT_BLOCK = "microvm.ram";
    /** KVM caps a memory slot at 2^31 - 1 pages. */
    private static final long MAX_SLOT_BYTES = ((1L << 31) - 1) * 4096;

    private final RamBlock block;
    private final List<RamLayout.Range> ranges;
    private final GuestMemory memory;

    private GuestRam(RamBlock block) {
        this.block = block;
        this.ranges = RamLayout.split(block.size());
        List<GuestRegion> regions = new ArrayList<>();
        for (RamLayout.Range r : ranges) {
            regions.add(new GuestRegion(r.gpa(), block.host().asSlice(r.blockOffset(), r.size()), block.name(), r.blockOffset()));
        }
        this.memory = new GuestMemory(regions);
    }

    /**
     * Allocates RAM as configured: {@code backend} if given, else implicit RAM that is a shared memfd
     * when {@code auxRamShare} is on (what makes it preservable across a live update, as QEMU's
     * aux-ram-share=on), private anonymous memory otherwise.
     *
     * @param physBits the guest-physical address width: RAM must fit below it
     */
    public static GuestRam allocate(long size, MemoryBackendConfig backend, boolean auxRamShare, int physBits) {
        checkFits(size, physBits);
        RamBlock block = switch (backend) {
            case null -> auxRamShare
                    ? RamBlock.memfd(IMPLICIT_BLOCK, size, 0, false)
                    : RamBlock.anonymous(IMPLICIT_BLOCK, size, false);
            // Shared anonymous RAM is a memfd, so a live update can hand it on (as QEMU 9.2+ does).
            case MemoryBackendConfig.Ram r -> r.share()
                    ? RamBlock.memfd(r.id(), size, 0, r.prealloc())
                    : RamBlock.anonymous(r.id(), size, r.prealloc());
            case MemoryBackendConfig.Memfd m -> RamBlock.memfd(m.id(), size,
                    m.hugetlb() ? m.hugetlbSize().orElse(2L << 20) : 0, m.prealloc(), m.share());
            case MemoryBackendConfig.File f -> RamBlock.file(f.id(), f.memPath(), size, f.share(), f.prealloc());
        };
        return new GuestRam(block);
    }

    /** Maps RAM from a block another process made (a live update). */
    public static GuestRam adopt(RamBlock block) {
        return new GuestRam(block);
    }

    static void checkFits(long size, int physBits) {
        long top = RamLayout.split(size).getLast().end();
        if (physBits > 0 && physBits < 64 && top > (1L << physBits)) {
            throw new MemoryException(String.format("cannot give the guest %s of RAM: it would end at 0x%x, beyond the %d-bit guest-physical address space",
                    human(size), top, physBits));
        }
        for (RamLayout.Range r : RamLayout.split(size)) {
            if (r.size() > MAX_SLOT_BYTES) {
                throw new MemoryException("cannot give the guest " + human(size) + " of RAM: larger than a KVM memory slot can hold");
            }
        }
    }

    static String human(long bytes) {
        String[] units = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
        int u = 0;
        double v = bytes;
        while (v >= 1024 && u < units.length - 1 && v % 1024 == 0) {
            v /= 1024;
            u++;
        }
        return (v == Math.floor(v) ? String.valueOf((long) v) : String.valueOf(v)) + " " + units[u];
    }

    public RamBlock block() {
        return block;
    }

    public List<RamLayout.Range> ranges() {
        return ranges;
    }

    public GuestMemory memory() {
        return memory;
    }

    public long size() {
        return block.size();
    }

    @Override
    public void close() {
        block.close();
    }
}
