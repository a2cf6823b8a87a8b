package dev.molt.devices.net;

import dev.molt.devices.virtio.VirtioDevice;
import dev.molt.devices.virtio.VirtioDeviceConfig;

import java.util.Objects;
import java.util.Optional;

/**
 * {@code -device virtio-net-device,netdev=ID[,mac=..][,id=..]}: a virtio-net device on a virtio-mmio
 * slot, its tap {@code netdev}.
 *
 * @param name the NIC's name, as QEMU names its net client: the -device id, else
 *     {@code virtio-net-device.N} (N counting this kind's NICs without an id); {@code set_link} takes it
 * @param qomPath the device's canonical path as QEMU's qdev names it ({@code /machine/peripheral/ID}, or
 *     {@code /machine/peripheral-anon/device[N]} for the N-th -device without an id), which NIC_RX_FILTER_CHANGED reports
 */
public record VirtioNetConfig(NetdevConfig netdev, MacAddress mac, String name, String qomPath) implements VirtioDeviceConfig {
    public VirtioNetConfig {
        Objects.requireNonNull(netdev, "netdev");
        Objects.requireNonNull(mac, "mac");
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(qomPath, "qomPath");
    }

    @Override
    public VirtioDevice create(int slot, dev.molt.sys.PreservedFds preserved) {
        return new VirtioNet(this, TapBackend.open(netdev, preserved), slot);
    }
}
