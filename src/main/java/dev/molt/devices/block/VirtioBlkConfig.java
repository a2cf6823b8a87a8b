package dev.molt.devices.block;

import dev.molt.devices.virtio.VirtioDevice;
import dev.molt.devices.virtio.VirtioDeviceConfig;

import java.util.Objects;

/**
 * {@code -device virtio-blk-device,drive=ID[,serial=S]}: a virtio-blk device on a virtio-mmio slot.
 *
 * @param serial what VIRTIO_BLK_T_GET_ID answers (at most 20 bytes, as in QEMU); empty for none
 */
public record VirtioBlkConfig(DriveConfig drive, String serial) implements VirtioDeviceConfig {
    /** VIRTIO_BLK_ID_BYTES. */
    public static final int SERIAL_BYTES = 20;

    public VirtioBlkConfig {
        Objects.requireNonNull(drive, "drive");
        Objects.requireNonNull(serial, "serial");
        if (serial.getBytes(java.nio.charset.StandardCharsets.UTF_8).length > SERIAL_BYTES) {
            throw new IllegalArgumentException("serial '" + serial + "' is longer than " + SERIAL_BYTES + " bytes");
        }
    }

    @Override
    public VirtioDevice create(int slot, dev.molt.sys.PreservedFds preserved) {
        return new VirtioBlk(this, BlockImage.open(drive, preserved));
    }
}
