package dev.molt.devices;

/**
 * Where a device sends the bytes it emits (a serial port's transmitter, for example). A device on a
 * vCPU thread must never wait for a slow reader (a paused vCPU that waits cannot park, and the
 * guest could not be stopped): it asks {@link #ready()} first, as a UART reports THRE, writes with
 * {@link #offer}, and, when the sink was not ready, is told by {@link #whenReady} once it is again.
 */
@FunctionalInterface
public interface ByteSink {
    /** Writes all of it, waiting for room if the sink is full (monitors, qtest: never a vCPU). */
    void write(byte[] data, int off, int len);

    /** Whether the sink takes bytes now without waiting. Sinks that never wait always are. */
    default boolean ready() {
        return true;
    }

    /** Writes what the sink can take now, never waiting; the rest is lost (a guest that ignored {@link #ready}). */
    default void offer(byte[] data, int off, int len) {
        write(data, off, len);
    }

    /**
     * Runs {@code whenReady} once the sink is {@link #ready} again: at once if it is, else on the
     * sink's own thread, holding none of the sink's locks (so it may call into the device).
     */
    default void whenReady(Runnable whenReady) {
        whenReady.run();
    }
}
