package dev.molt.monitor;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Serves one {@link Listener} in one {@link Protocol}: accepts clients one after another and
 * concurrently, each in its own session. A client that misbehaves or vanishes only ends its own
 * session; the server goes on accepting until closed. At most {@value #MAX_CLIENTS} clients are
 * served at once; more are hung up on at once, so a connection flood cannot exhaust molt.
 *
 * <p>Accepting can pause while the socket keeps listening (a live update execs the next molt,
 * which serves the same socket): clients that connect meanwhile wait, and when accepting starts
 * again they are served first and get the QMP events they missed while they waited.
 */
public final class MonitorServer implements AutoCloseable {
    static final int MAX_CLIENTS = 64;
    private static final Duration STOP_WAIT = Duration.ofSeconds(2);

    private final Monitor monitor;
    private final Protocol protocol;
    private final Listener listener;
    private final Set<MonitorSession> sessions = ConcurrentHashMap.newKeySet();
    private final AtomicInteger counter = new AtomicInteger();
    private volatile boolean closed;
    private volatile boolean accepting;
    private Thread acceptor; // guarded by this
    private long stoppedAtEvent; // guarded by this

    private MonitorServer(Monitor monitor, Protocol protocol, Listener listener) {
        this.monitor = monitor;
        this.protocol = protocol;
        this.listener = listener;
    }

    /** Starts accepting on {@code listener}; the server owns it from now on. */
    public static MonitorServer start(Monitor monitor, Protocol protocol, Listener listener) {
        MonitorServer server = new MonitorServer(monitor, protocol, listener);
        server.startAccepting(OptionalLong.empty());
        return server;
    }

    /**
     * Starts accepting on a listener that clients could reach while no molt accepted: one this
     * process inherited across exec, or any of a live update's new molt (which serves only once
     * the guest resumed). The clients already waiting connected during the live update, so after
     * capabilities negotiation they get the events this process emitted before (QEMU would have
     * sent them RESUME too), as far as {@link EventBus} retains them.
     */
    public static MonitorServer startInherited(Monitor monitor, Protocol protocol, Listener listener) {
        MonitorServer server = new MonitorServer(monitor, protocol, listener);
        server.startAccepting(OptionalLong.of(0));
        return server;
    }

    private void startAccepting(OptionalLong missedFrom) {
        accepting = true;
        acceptor = Thread.ofPlatform().name(protocol.name().toLowerCase() + "-accept").daemon(true)
                .start(() -> acceptLoop(missedFrom));
    }

    /**
     * Stops accepting but leaves the socket listening and the sessions running; returns once no
     * client can be accepted any more. New clients wait in the socket's backlog meanwhile.
     */
    public synchronized void stopAccepting() {
        if (!accepting) return;
        accepting = false;
        stoppedAtEvent = monitor.events().emitted();
        listener.wakeup();
        try {
            acceptor.join(STOP_WAIT);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        acceptor = null;
    }

    /** Accepts again after {@link #stopAccepting()}; the clients that waited get the events emitted since. */
    public synchronized void resumeAccepting() {
        if (accepting || closed) return;
        startAccepting(OptionalLong.of(stoppedAtEvent));
    }

    private void acceptLoop(OptionalLong missedFrom) {
        if (missedFrom.isPresent()) {
            // Whoever waited is served first, all of them, before anyone who connects from now on. The
            // backlog is taken whole before the first of them is served: served one by one, a client
            // that connected once an earlier one had its answers could still be taken for one that
            // waited (and be sent events from before it connected).
            List<Connection> waited = new ArrayList<>();
            try {
                for (Optional<Connection> c; accepting && (c = listener.acceptWaiting()).isPresent(); ) waited.add(c.get());
            } catch (IOException e) {
                // The accept loop below meets the same error and deals with it.
            }
            for (Connection c : waited) serve(c, missedFrom);
        }
        while (accepting) {
            Optional<Connection> connection;
            try {
                connection = listener.accept();
            } catch (IOException e) {
                if (!accepting) return;
                // A client that reset before it was accepted is its own problem; running out of fds
                // is not, and must not turn this loop into a busy spin.
                pause();
                continue;
            }
            connection.ifPresent(c -> serve(c, OptionalLong.empty()));
        }
    }

    private void serve(Connection connection, OptionalLong missedFrom) {
        if (sessions.size() >= MAX_CLIENTS) {
            connection.close();
            return;
        }
        track((name, onEnd) -> protocol.open(monitor, connection, name, missedFrom, onEnd));
    }

    private interface Opener {
        MonitorSession open(String name, Runnable onEnd);
    }

    private void track(Opener opener) {
        String name = protocol.name().toLowerCase() + "-" + counter.incrementAndGet();
        // A session can end before open() returns: the lock makes its removal wait for its addition.
        MonitorSession[] self = new MonitorSession[1];
        synchronized (self) {
            self[0] = opener.open(name, () -> {
                synchronized (self) {
                    sessions.remove(self[0]);
                }
            });
            sessions.add(self[0]);
        }
        if (closed) self[0].close();
    }

    /**
     * For a reload, with the readers held: each client's connection (duplicated) and session state,
     * for the new implementation's server of the same socket to go on with.
     */
    public List<HeldSession> hold() {
        List<HeldSession> held = new ArrayList<>();
        for (MonitorSession s : sessions) s.hold().ifPresent(held::add);
        return held;
    }

    /** A reload handed the clients over: their sessions here write nothing more. Returns the bytes still queued, dropped. */
    public long abandonOutput() {
        long dropped = 0;
        for (MonitorSession s : sessions) dropped += s.abandonOutput();
        return dropped;
    }

    /** Serves a client the previous implementation served on this socket, from where it stood. */
    public void adopt(HeldSession held) {
        Connection connection = new SocketConnection(held.connection());
        track((name, onEnd) -> protocol.adopt(monitor, connection, name, held.negotiated(), held.pendingInput(), onEnd));
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

    public Protocol protocol() {
        return protocol;
    }

    public String describe() {
        return listener.describe();
    }

    /** Stops accepting, stops listening and disconnects every client. Idempotent. */
    @Override
    public void close() {
        synchronized (this) {
            if (closed) return;
            stopAccepting();
            closed = true;
        }
        listener.close();
        sessions.forEach(MonitorSession::close);
    }
}
