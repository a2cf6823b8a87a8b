package dev.molt.devices.net;

import dev.molt.devices.virtio.VirtioDevice;
import dev.molt.devices.virtio.VirtioDeviceConfig;

import java.util.Objects;
import java.util.Optional;

/** {@code -device virtio-net-device,netdev=ID[,mac=..]}: a virtio-net device on a virtio-mmio slot, its tap {@code netdev}. */
public record VirtioNetConfig(NetdevConfig netdev, MacAddress mac) implements VirtioDeviceConfig {
    public VirtioNetConfig {
        Objects.requireNonNull(netdev, "netdev");
        Objects.requireNonNull(mac, "mac");
    }

    @Override
    public VirtioDevice create(int slot) {
        return new VirtioNet(this, TapBackend.open(netdev, Optional.empty()), slot);
    }
}
