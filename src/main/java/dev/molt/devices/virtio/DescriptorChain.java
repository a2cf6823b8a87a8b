package dev.molt.devices.virtio;

import java.util.List;

/**
 * One request as the driver made it available: the head's index (what goes back in the used ring)
 * and its buffers in chain order, every one checked to lie inside guest RAM, the device-readable
 * ones before the device-writable ones.
 */
public record DescriptorChain(int head, List<Buffer> buffers) {
    public DescriptorChain {
        buffers = List.copyOf(buffers);
    }

    /** A guest-physical buffer; {@code writable}: the device writes it (VIRTQ_DESC_F_WRITE). */
    public record Buffer(long gpa, int len, boolean writable) {}

    public List<Buffer> readable() {
        return buffers.stream().filter(b -> !b.writable()).toList();
    }

    public List<Buffer> writable() {
        return buffers.stream().filter(Buffer::writable).toList();
    }
}
