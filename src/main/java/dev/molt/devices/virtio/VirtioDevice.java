package dev.molt.devices.virtio;

import dev.molt.devices.GuestWrites;
import dev.molt.memory.GuestMemory;
import dev.molt.sys.Fd;

/**
 * A virtio device behind a transport (virtio-blk...): what it offers and how it serves one
 * request. The transport owns negotiation, status, queues and interrupts; it calls the device on
 * its I/O thread, one request at a time, unless the device takes several at once
 * ({@link #concurrentRequests}).
 */
public interface VirtioDevice extends AutoCloseable {
    /**
     * What {@link #handle} answers when it has nothing for the chain yet (a receive queue and an
     * empty tap): the chain goes back to the driver's ring untaken, and the transport serves that
     * queue again once {@link #backendFd()} is readable, or, while the device has no backend fd to
     * poll (null), when the driver notifies. A notify while the backend fd is polled and not
     * readable does not serve that queue: its work is the backend's.
     */
    int NOT_USED = -1;

    /** The virtio device ID (virtio 1.x section 5: 2 for block). */
    int deviceId();

    /** QEMU's -device type name, which error messages use. */
    String typeName();

    /** Feature bits the device offers besides the transport's (VIRTIO_F_VERSION_1). */
    long features();

    int queueCount();

    int queueMaxSize();

    /** The device configuration space as it is now (little-endian fields), which the driver reads from 0x100. */
    byte[] configSpace();

    /**
     * Serves one request; returns how many bytes it wrote into the chain's writable buffers, or
     * {@link #NOT_USED}. A device whose answer may fill several chains takes them from {@code more}.
     *
     * @throws VirtqueueException if the chain cannot even be answered (no status byte): the
     *     transport then marks the device as needing a reset
     */
    int handle(int queue, DescriptorChain chain, MoreChains more, GuestMemory mem, GuestWrites writes);

    /**
     * How many requests the device may serve at once, each on its own thread and answered in its own
     * chain as it completes (virtio-blk: a batch of reads and writes in parallel, as QEMU's thread
     * pool runs them). 1 (the default): one at a time, in order, and an answer may fill several chains.
     * A device that takes more must be safe to call from that many threads and never answer
     * {@link #NOT_USED} nor take chains from its {@link MoreChains}.
     */
    default int concurrentRequests() {
        return 1;
    }

    /** A host fd whose readiness is work for the device besides the driver's notifies (a tap's frames); null for none. */
    default Fd backendFd() {
        return null;
    }

    /** The features the driver took, when it sets DRIVER_OK (or a restored driver had), and 0 on reset. */
    default void setFeatures(long negotiated) { }

    /**
     * The guest now runs on this host (a live migration's destination): a NIC says so to the
     * network. Returns whether the device's configuration changed (a NIC asking its guest to
     * announce itself), which the transport then tells the driver.
     */
    default boolean announce() {
        return false;
    }

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
