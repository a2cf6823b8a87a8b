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
        return ofKind(false);
    }

    public List<Buffer> writable() {
        return ofKind(true);
    }

    /** A loop, not a stream: this runs for every request, and a stream's pipeline is several objects and calls more. */
    private List<Buffer> ofKind(boolean writable) {
        List<Buffer> out = new java.util.ArrayList<>(buffers.size());
        for (Buffer b : buffers) if (b.writable() == writable) out.add(b);
        return out;
    }
}
