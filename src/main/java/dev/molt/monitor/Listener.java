package dev.molt.monitor;

import java.io.IOException;
import java.util.Optional;

/**
 * Where a monitor server gets its clients: {@link SocketListener} listens on a unix or TCP socket,
 * bound afresh or inherited across exec (live update). Accepting can stop and start again without
 * the socket ever ceasing to listen, so that a client connecting meanwhile waits instead of being
 * refused.
 */
public interface Listener extends AutoCloseable {
    /** Waits until a client connects and accepts it; empty if {@link #wakeup()} ended the wait. */
    Optional<Connection> accept() throws IOException;

    /** Accepts a client that is already waiting, without waiting; empty if none is. */
    Optional<Connection> acceptWaiting() throws IOException;

    /**
     * Makes a waiting {@link #accept()} return empty (or the next one, if none waits now); the
     * socket goes on listening.
     */
    void wakeup();

    /** Stops listening; call it once no thread is in {@link #accept()} any more. */
    @Override
    void close();

    /** For messages: "unix:/run/qmp.sock", "tcp:127.0.0.1:4444". */
    String describe();
}
