package dev.molt.monitor;

import java.time.Duration;

/** One client of a monitor, served by threads of its own until it disconnects or is closed. */
public interface MonitorSession extends AutoCloseable {
    /** Disconnects the client. */
    @Override
    void close();

    /**
     * For a reload: this client's connection (a duplicate fd) and where its session stands, so that
     * the new implementation serves it on; empty for a client that cannot move (stdio). Call it only
     * while the readers are held ({@link dev.molt.sys.ReadGate#pause}).
     */
    default java.util.Optional<HeldSession> hold() {
        return java.util.Optional.empty();
    }

    /** After a reload handed the connection over: writes nothing more; returns the bytes dropped (see {@link OutputQueue#abandon}). */
    default long abandonOutput() {
        return 0;
    }

    /** Waits at most {@code timeout} for the session to end; true if it has. */
    boolean awaitEnd(Duration timeout) throws InterruptedException;
}
