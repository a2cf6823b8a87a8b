package dev.molt.monitor;

import java.io.IOException;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Serves one {@link Listener} in one {@link Protocol}: accepts clients one after another and
 * concurrently, each in its own session. A client that misbehaves or vanishes only ends its own
 * session; the server goes on accepting until closed. At most {@value #MAX_CLIENTS} clients are
 * served at once; more are hung up on at once, so a connection flood cannot exhaust molt.
 */
public final class MonitorServer implements AutoCloseable {
    static final int MAX_CLIENTS = 64;

    private final Monitor monitor;
    private final Protocol protocol;
    private final Listener listener;
    private final Set<MonitorSession> sessions = ConcurrentHashMap.newKeySet();
    private final AtomicInteger counter = new AtomicInteger();
    private volatile boolean closed;

    private MonitorServer(Monitor monitor, Protocol protocol, Listener listener) {
        this.monitor = monitor;
        this.protocol = protocol;
        this.listener = listener;
    }

    /** Starts accepting on {@code listener}; the server owns it from now on. */
    public static MonitorServer start(Monitor monitor, Protocol protocol, Listener listener) {
        MonitorServer server = new MonitorServer(monitor, protocol, listener);
        Thread.ofPlatform().name(protocol.name().toLowerCase() + "-accept").daemon(true).start(server::acceptLoop);
        return server;
    }

    private void acceptLoop() {
        while (!closed) {
            Connection connection;
            try {
                connection = listener.accept();
            } catch (IOException e) {
                if (closed) return;
                // A client that reset before it was accepted is its own problem; running out of fds
                // is not, and must not turn this loop into a busy spin.
                pause();
                continue;
            }
            if (sessions.size() >= MAX_CLIENTS) {
                connection.close();
                continue;
            }
            String name = protocol.name().toLowerCase() + "-" + counter.incrementAndGet();
            // A session can end before open() returns: the lock makes its removal wait for its addition.
            MonitorSession[] self = new MonitorSession[1];
            synchronized (self) {
                self[0] = protocol.open(monitor, connection, name, () -> {
                    synchronized (self) {
                        sessions.remove(self[0]);
                    }
                });
                sessions.add(self[0]);
            }
            if (closed) self[0].close();
        }
    }

    private static void pause() {
        try {
            Thread.sleep(10);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Clients being served now. */
    public int clientCount() {
        return sessions.size();
    }

    /** Clients accepted and served since the start (those hung up on by the cap not counted). */
    int servedCount() {
        return counter.get();
    }

    public String describe() {
        return listener.describe();
    }

    /** Stops accepting and disconnects every client. */
    @Override
    public void close() {
        closed = true;
        listener.close();
        sessions.forEach(MonitorSession::close);
    }
}
