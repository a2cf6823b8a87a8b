package dev.molt.chardev;

import dev.molt.devices.ByteSink;

/**
 * A character backend (QEMU's -chardev): where a device's output goes and where its input comes
 * from. Output never blocks a vCPU for long: it is queued and written by the backend's own thread.
 */
public sealed interface Chardev extends ByteSink, AutoCloseable
        permits PumpedChardev, NullChardev {
    String id();

    /**
     * Writes out the output queued so far, waiting at most {@code bound} for a reader that stopped
     * reading; says whether all of it went. Backends that queue nothing have nothing to wait for.
     */
    default boolean flush(java.time.Duration bound) {
        return true;
    }

    /**
     * Writes on the calling thread, not through the backend's queue: for a protocol whose client
     * waits for each answer before it asks again (qtest), where the hand-off to the writer thread
     * would cost as much as the answer itself. All of a backend's output must go one way or the
     * other, or its order is lost. Blocks while the peer does not read.
     */
    default void writeNow(byte[] data, int off, int len) {
        write(data, off, len);
    }

    /** Starts delivering input to {@code input}; backends without input ignore it. */
    void connect(CharInput input);

    @Override
    void close();
}
