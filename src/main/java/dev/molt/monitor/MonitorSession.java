package dev.molt.monitor;

import java.time.Duration;

/** One client of a monitor, served by threads of its own until it disconnects or is closed. */
public interface MonitorSession extends AutoCloseable {
    /** Disconnects the client. */
    @Override
    void close();

    /** Waits at most {@code timeout} for the session to end; true if it has. */
    boolean awaitEnd(Duration timeout) throws InterruptedException;
}
