package dev.molt.machine;

import dev.molt.chardev.NullChardev;
import dev.molt.devices.block.BlockException;
import dev.molt.devices.block.CacheMode;
import dev.molt.devices.block.DriveConfig;
import dev.molt.devices.block.VirtioBlkConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The microvm's virtio-mmio window: where devices land, what Linux is told, and what cannot be built. */
class VirtioSlotsTest {
    @TempDir
    Path dir;

    private MachineConfig config(List<? extends dev.molt.devices.virtio.VirtioDeviceConfig> disks) {
        return new MachineConfig(null, 1, 32L << 20, null, true, Path.of(""), null, "console=ttyS0", false, false, Map.of(), List.copyOf(disks));
    }

    private VirtioBlkConfig disk(String id) throws Exception {
        Path image = dir.resolve(id + ".raw");
        Files.write(image, new byte[64 * 1024]);
        return new VirtioBlkConfig(new DriveConfig(id, image, false, CacheMode.WRITEBACK), "");
    }

    @Test
    void devicesTakeSlotsInOrderAndLinuxIsToldOfEach() throws Exception {
        try (Machine m = Machine.create(config(List.of(disk("a"), disk("b"))), new QtestAccelerator(), new NullChardev("s"))) {
            assertEquals(0x74726976L, m.mmio().read(0xFEB0_0000L, 4), "slot 0's magic");
            assertEquals(0x74726976L, m.mmio().read(0xFEB0_0200L, 4), "slot 1's magic");
            assertEquals(128, m.mmio().read(0xFEB0_0100L, 4), "slot 0's capacity: 64 KiB in sectors");
            assertEquals(0, m.mmio().read(0xFEB0_0400L, 4), "no third slot: unassigned MMIO reads 0");
            assertEquals(List.of("serial16550", "i8042", "virtio-mmio"),
                    m.deviceSections().stream().map(dev.molt.migration.vmstate.VmStateDescription::name).toList(),
                    "the registered sections in order: two transports share one description");
        }
        List<dev.molt.devices.virtio.VirtioMmio> none = List.of();
        assertEquals("console=ttyS0", VirtioSlots.kernelCmdline("console=ttyS0", none));
    }

    @Test
    void theKernelCommandLineAnnouncesEachTransportAsQemuDoes() throws Exception {
        try (Machine m = Machine.create(config(List.of(disk("a"), disk("b"))), new QtestAccelerator(), new NullChardev("s"))) {
            List<dev.molt.devices.virtio.VirtioMmio> slots = new ArrayList<>();
            for (var r : m.mmio().regions()) slots.add((dev.molt.devices.virtio.VirtioMmio) r.device());
            assertEquals("console=ttyS0 virtio_mmio.device=512@0xfeb00000:16 virtio_mmio.device=512@0xfeb00200:17",
                    VirtioSlots.kernelCmdline("console=ttyS0", slots));
            assertEquals("virtio_mmio.device=512@0xfeb00000:16 virtio_mmio.device=512@0xfeb00200:17", VirtioSlots.kernelCmdline("", slots));
        }
    }

    @Test
    void whatCannotBeBuiltSaysWhy() throws Exception {
        VirtioBlkConfig missing = new VirtioBlkConfig(new DriveConfig("d9", dir.resolve("nope.raw"), false, CacheMode.WRITEBACK), "");
        BlockException e = assertThrows(BlockException.class,
                () -> Machine.create(config(List.of(disk("a"), missing)), new QtestAccelerator(), new NullChardev("s")));
        assertEquals("drive d9: Could not open '" + dir.resolve("nope.raw") + "': No such file or directory", e.getMessage());
        List<VirtioBlkConfig> nine = new ArrayList<>(Collections.nCopies(9, disk("x")));
        MachineException tooMany = assertThrows(MachineException.class,
                () -> Machine.create(config(nine), new QtestAccelerator(), new NullChardev("s")));
        assertEquals("microvm has 8 virtio-mmio slots; 9 devices do not fit", tooMany.getMessage());
    }

    /** What a device writes into guest RAM is in the dirty log, so live migration sends those pages again. */
    @Test
    void deviceWritesAreInTheDirtyLog() throws Exception {
        try (Machine m = Machine.create(config(List.of(disk("a"))), new QtestAccelerator(), new NullChardev("s"))) {
            m.boot();
            dev.molt.testsupport.VirtioDriver.Bus bus = new dev.molt.testsupport.VirtioDriver.Bus() {
                public void write(long gpa, byte[] data) {
                    m.ram().memory().write(gpa, data);
                }

                public byte[] read(long gpa, int len) {
                    return m.ram().memory().read(gpa, len);
                }

                public void writel(long addr, int value) {
                    m.mmio().write(addr, 4, Integer.toUnsignedLong(value));
                }

                public int readl(long addr) {
                    return (int) m.mmio().read(addr, 4);
                }
            };
            var driver = new dev.molt.testsupport.VirtioDriver(bus, VirtioSlots.BASE, 0x100000, 16);
            driver.init(dev.molt.testsupport.VirtioDriver.VERSION_1);
            m.setDirtyLogging(true);
            java.lang.foreign.MemorySegment bitmap = java.lang.foreign.Arena.ofAuto().allocate(Machine.dirtyBitmapBytes(m.ram().memory().regions().getFirst().size()));
            m.fetchDirtyLog(0, bitmap);
            var blk = new dev.molt.testsupport.VirtioBlkRequests(driver, bus, 0x200000);
            blk.read(0, 8192);
            m.fetchDirtyLog(0, bitmap);
            long page = (0x200000 + 4096) / 4096;
            long word = bitmap.getAtIndex(java.lang.foreign.ValueLayout.JAVA_LONG, page / 64);
            assertEquals(3L, (word >>> (page % 64)) & 3, "both pages the device read into");
            m.setDirtyLogging(false);
        }
    }
}
