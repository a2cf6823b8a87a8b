package dev.molt.chardev;

/** A device that takes bytes from a character backend (a UART's receiver), with back-pressure. */
public interface CharInput {
    /** Accepts up to {@code len} bytes; returns how many were taken (0 when full). */
    int receive(byte[] data, int off, int len);

    /** Waits until the device can take input again, or the timeout passes; true if it can. */
    boolean awaitRoom(long timeoutNanos);

    /**
     * How many bytes {@link #receive} would take now. The reader reads no more than that, so what
     * the device cannot take yet stays in the kernel (a live update hands the fd on with it). By
     * default every byte is taken at once.
     */
    default int room() {
        return Integer.MAX_VALUE;
    }
}
