package dev.molt.devices.virtio;

/**
 * What a {@code -device} option asks for on a virtio-mmio slot: it knows how to open its host
 * resources and build its device, so the machine attaches any kind by this one call.
 */
public interface VirtioDeviceConfig {
    /**
     * Opens the host resources (an image, a tap) and builds the device for transport slot
     * {@code slot}. What a live update handed over is claimed from {@code preserved} instead of
     * opened, and what is opened is registered there, so that the next update hands it on.
     */
    VirtioDevice create(int slot, dev.molt.sys.PreservedFds preserved);
}
