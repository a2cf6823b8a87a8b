package dev.molt.monitor;

import java.io.IOException;

/**
 * Where a monitor server gets its clients. {@link SocketListener} listens on a unix or TCP socket;
 * a listening fd inherited across exec (live update) can be served by an implementation that
 * accepts on that fd and wraps each client fd in a {@link Connection}.
 */
public interface Listener extends AutoCloseable {
    /** Blocks until a client connects; throws once the listener is closed. */
    Connection accept() throws IOException;

    /** Stops listening; a blocked {@link #accept()} must then return or throw. */
    @Override
    void close();

    /** For messages: "unix:/run/qmp.sock", "tcp:127.0.0.1:4444". */
    String describe();
}
