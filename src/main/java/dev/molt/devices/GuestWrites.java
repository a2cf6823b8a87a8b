package dev.molt.devices;

/**
 * Told of every write a device makes to guest RAM itself (DMA: virtio's used ring, data read from
 * a disk), so that live migration's dirty log sends those pages again: neither KVM's dirty log nor
 * qtest's sees writes that no vCPU or qtest client made.
 */
@FunctionalInterface
public interface GuestWrites {
    GuestWrites NONE = (gpa, len) -> { };

    void written(long gpa, long len);
}
