package dev.molt.devices.virtio;

import dev.molt.devices.GuestWrites;
import dev.molt.memory.GuestMemory;

/**
 * A virtio device behind a transport (virtio-blk...): what it offers and how it serves one
 * request. The transport owns negotiation, status, queues and interrupts; it calls the device on
 * its I/O thread, one request at a time.
 */
public interface VirtioDevice extends AutoCloseable {
    /** The virtio device ID (virtio 1.x section 5: 2 for block). */
    int deviceId();

    /** QEMU's -device type name, which error messages use. */
    String typeName();

    /** Feature bits the device offers besides the transport's (VIRTIO_F_VERSION_1). */
    long features();

    int queueCount();

    int queueMaxSize();

    /** Bytes of device configuration space. */
    int configSize();

    /** Reads {@code size} bytes of configuration space at {@code offset} (inside it), little-endian. */
    long readConfig(int offset, int size);

    /**
     * Serves one request; returns how many bytes it wrote into the chain's writable buffers.
     *
     * @throws VirtqueueException if the chain cannot even be answered (no status byte): the
     *     transport then marks the device as needing a reset
     */
    int handle(int queue, DescriptorChain chain, GuestMemory mem, GuestWrites writes);

    /** The host resources (an image fd) go. */
    @Override
    void close();

    /**
     * Takes or lets go of what the device holds on the host for the one process that may run the
     * guest (a disk image's locks): let go while a live migration hands the guest to another
     * process, taken back if the guest stays here. Most devices hold nothing of the kind.
     */
    default void holdHostResources(boolean hold) { }
}
