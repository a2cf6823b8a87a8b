package dev.molt.chardev;

/** A device that takes bytes from a character backend (a UART's receiver), with back-pressure. */
public interface CharInput {
    /** Accepts up to {@code len} bytes; returns how many were taken (0 when full). */
    int receive(byte[] data, int off, int len);

    /** Waits until the device can take input again, or the timeout passes; true if it can. */
    boolean awaitRoom(long timeoutNanos);
}
