package dev.molt.cli;

import dev.molt.devices.virtio.VirtioDeviceConfig;

import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * {@code -device}: molt's microvm has virtio-mmio devices only, which take slots in the order of
 * their -device options whatever their kind. Each kind's options are checked by its own class.
 */
final class DeviceOptions {
    final BlockOptions block = new BlockOptions();
    final NetOptions net = new NetOptions();
    private int count;
    /** -device options without id= so far: QEMU files them as /machine/peripheral-anon/device[N]. */
    private int anonymous;

    void device(String location, String value) {
        int position = count++;
        QemuOpts.parse(location, value, "driver").read(r -> {
            String driver = r.requireString("driver");
            java.util.Optional<String> id = r.string("id");
            // The device's canonical QOM path, as QEMU's qdev names a -device (NIC_RX_FILTER_CHANGED's "path").
            String qomPath = id.map(i -> "/machine/peripheral/" + i).orElseGet(() -> "/machine/peripheral-anon/device[" + anonymous++ + "]");
            switch (driver) {
                case "virtio-blk-device" -> block.device(r, location, position);
                case "virtio-net-device" -> net.device(r, location, position, id, qomPath);
                case "virtio-blk-pci", "virtio-blk", "virtio-net-pci", "virtio-net" -> throw r.error("driver", "'" + driver
                        + "' needs PCI, which molt's microvm does not have: use " + (driver.startsWith("virtio-blk") ? "virtio-blk-device" : "virtio-net-device")
                        + " (virtio-mmio)");
                default -> throw r.error("driver", "device '" + driver + "' is not supported (molt supports: virtio-blk-device, virtio-net-device)");
            }
            return null;
        });
    }

    /** Every virtio device, in -device order. */
    List<VirtioDeviceConfig> virtioDevices() {
        Map<Integer, VirtioDeviceConfig> all = new TreeMap<>(block.disks());
        all.putAll(net.nics());
        return List.copyOf(all.values());
    }
}
