package dev.molt.machine.boot;

import dev.molt.memory.GuestMemory;
import dev.molt.memory.RamLayout;
import java.nio.file.Path;
import java.util.List;

/**
 * Loads a kernel for direct boot, whatever its format: a bzImage (64-bit boot protocol) or an ELF
 * vmlinux (PVH entry), told apart by their magic numbers, never by the file name.
 */
public final class KernelLoader {
    private KernelLoader() {}

    /**
     * Loads {@code kernel}, the optional {@code initrd} (null for none) and {@code cmdline} into
     * {@code mem} (whose RAM ranges are {@code ram}), writes the boot structures that kernel's entry
     * needs, and says how to enter it. The MP table is not written here: it depends on the CPU
     * count, see {@link MpTable#write}.
     *
     * @throws BootException for anything that prevents booting, with a message naming the file
     */
    public static BootEntry load(Path kernel, Path initrd, String cmdline, GuestMemory mem,
                                 List<RamLayout.Range> ram) {
        ImageBytes img = BootFiles.readKernel(kernel);
        byte[] bytes = img.bytes();
        if (PvhElfLoader.isElf(bytes)) return PvhElfLoader.load(kernel, bytes, initrd, cmdline, mem, ram);
        if (BzImageLoader.isBzImage(bytes)) return BzImageLoader.load(kernel, bytes, initrd, cmdline, mem, ram);
        throw img.error("not a bzImage or an ELF kernel");
    }
}
