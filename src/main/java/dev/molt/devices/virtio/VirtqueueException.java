package dev.molt.devices.virtio;

/**
 * The driver broke the virtqueue's rules (a loop in a chain, a buffer outside RAM, a ring index
 * out of range): the device cannot trust the queue any more and sets DEVICE_NEEDS_RESET, as the
 * virtio spec tells it to (2.1.2), rather than guess.
 */
public final class VirtqueueException extends RuntimeException {
    public VirtqueueException(String message) {
        super(message);
    }
}
