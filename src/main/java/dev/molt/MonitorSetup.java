package dev.molt;

import dev.molt.chardev.ChardevConfig;
import dev.molt.chardev.ChardevException;
import dev.molt.chardev.StdioChardev;
import dev.molt.host.HeldClient;
import dev.molt.monitor.Connection;
import dev.molt.monitor.HeldSession;
import dev.molt.monitor.Monitor;
import dev.molt.monitor.MonitorConfig;
import dev.molt.monitor.MonitorServer;
import dev.molt.monitor.MonitorSession;
import dev.molt.monitor.Protocol;
import dev.molt.monitor.SocketListener;
import dev.molt.sys.Fd;
import dev.molt.sys.PreservedFds;
import dev.molt.sys.Terminal;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Turns the command line's monitors into running QMP/HMP endpoints. Listening sockets are bound
 * first ({@link #bind}), so a bad path fails before the guest starts; sessions start afterwards
 * ({@link #start}), because nothing but the guest belongs on the start-up path.
 *
 * <p>Across a cpr-exec live update the listening sockets stay open: the old molt stops accepting
 * ({@link #stopAccepting}) and hands them to the new one (they are in the {@link PreservedFds}), which serves
 * them again instead of binding, so a client is never refused. Each is named in the CPR state by
 * its endpoint ({@code monitor:unix:/run/vm.qmp}, {@code monitor:tcp:127.0.0.1:4444}) rather than
 * by chardev id, because {@code -qmp}/{@code -monitor} ids follow the options' order, which a
 * new command line may change.
 */
final class MonitorSetup implements AutoCloseable {
    /** The CPR-state names of monitors' listening sockets start with this. */
    static final String PRESERVED_PREFIX = "monitor:";
    /**
     * What a reload calls the client of the monitor on stdio, followed by its protocol: there is one
     * stdio, and no socket it came through.
     */
    static final String STDIO_CLIENT = "stdio:";
    /**
     * What a reload calls the -nographic multiplexer's keyboard when it is on the monitor: not a
     * session (that one is served through a pipe inside the old code and ends with it) but where the
     * keyboard is, which the new code keeps. An older new code knows no such client and closes it:
     * its keyboard starts on the guest, as it did.
     */
    static final String MUX_MONITOR_FOCUS = "stdio-mux:monitor-focused";

    private record Bound(MonitorConfig config, String preservedName, SocketListener listener, boolean inherited) {}

    private final List<Bound> bound = new ArrayList<>();
    /** At most one: the command line refuses stdio for two chardevs. */
    private final List<MonitorConfig> stdio = new ArrayList<>();
    /** The stdio monitor's session, once started (or adopted from the previous code of a reload). */
    private MonitorSession stdioSession;
    /** The -nographic console whose keyboard the multiplexed monitor shares, once started. */
    private StdioChardev muxedConsole;
    private Monitor monitor;
    private final List<MonitorConfig> muxed = new ArrayList<>();
    /** The running servers, by their listening socket's preserved name: where a reload's clients come back. */
    private final Map<String, MonitorServer> servers = new java.util.LinkedHashMap<>();

    static MonitorSetup bind(List<MonitorConfig> monitors, Map<String, ChardevConfig> chardevs) {
        return bind(monitors, chardevs, PreservedFds.fresh());
    }

    /**
     * @param preserved where each listening socket is registered for the next molt of a live update,
     *     and where a socket the previous molt handed over is claimed by the monitor with the same
     *     endpoint. One that is unfit is closed and the endpoint bound afresh, with a warning; one
     *     whose endpoint this command line no longer has is left unclaimed (and closed with the
     *     rest), so that its clients are refused as when no molt listens.
     */
    static MonitorSetup bind(List<MonitorConfig> monitors, Map<String, ChardevConfig> chardevs, PreservedFds preserved) {
        MonitorSetup setup = new MonitorSetup();
        try {
            for (MonitorConfig m : monitors) setup.bindOne(m, chardevs.get(m.chardev()), preserved);
        } catch (RuntimeException e) {
            // Inherited sockets stay open: this molt is about to go back to the previous one, which wants them.
            for (Bound b : setup.bound) if (!b.inherited()) b.listener().close();
            setup.bound.clear();
            throw e;
        }
        for (Bound b : setup.bound) {
            // A name longer than the CPR state holds: this endpoint is bound afresh by the next molt.
            if (PreservedFds.nameFits(b.preservedName())) preserved.register(b.preservedName(), b.listener().fd(), PreservedFds.Scope.EXEC);
        }
        return setup;
    }

    private void bindOne(MonitorConfig m, ChardevConfig c, PreservedFds inherited) {
        try {
            switch (c) {
                case ChardevConfig.Stdio s when s.mux() -> muxed.add(m);
                case ChardevConfig.Stdio s -> stdio.add(m);
                case ChardevConfig.UnixSocket u when u.server() && !u.waitForClient() -> {
                    String name = preservedName(c);
                    Fd fd = inherited.claim(name).map(PreservedFds.Inherited::fd).orElse(null);
                    SocketListener l = fd == null ? null : inherit(m, fd, () -> SocketListener.inheritedUnix(fd, u.path()));
                    bound.add(new Bound(m, name, l != null ? l : SocketListener.unix(u.path()), l != null));
                }
                case ChardevConfig.TcpSocket t when t.server() && !t.waitForClient() -> {
                    String name = preservedName(c);
                    Fd fd = inherited.claim(name).map(PreservedFds.Inherited::fd).orElse(null);
                    SocketListener l = fd == null ? null : inherit(m, fd, () -> SocketListener.inheritedTcp(fd, t.host(), t.port()));
                    bound.add(new Bound(m, name, l != null ? l : SocketListener.tcp(t.host(), t.port()), l != null));
                }
                case ChardevConfig.SocketFd s when s.server() && !s.waitForClient() -> {
                    // A live update's new molt gets it by name (the number may differ); the first molt at fd=N.
                    String name = preservedName(c);
                    Fd fd = inherited.claim(name).map(PreservedFds.Inherited::fd).orElseGet(() -> new Fd(s.fd(), "-chardev fd=" + s.fd()));
                    bound.add(new Bound(m, name, SocketListener.handedDown(fd), true));
                }
                case ChardevConfig.SocketFd s when s.server() -> throw waitUnsupported(m);
                case ChardevConfig.UnixSocket u when u.server() -> throw waitUnsupported(m);
                case ChardevConfig.TcpSocket t when t.server() -> throw waitUnsupported(m);
                default -> throw new ChardevException(m.location() + ": a monitor needs stdio or a listening socket (server=on)");
            }
        } catch (IOException e) {
            throw new ChardevException(m.location() + ": " + e.getMessage());
        }
    }

    private interface Inherit {
        SocketListener get() throws IOException;
    }

    /** The inherited listener, or null (the fd closed, a warning printed) if the socket is unfit. */
    private static SocketListener inherit(MonitorConfig m, Fd fd, Inherit inherit) {
        try {
            return inherit.get();
        } catch (IOException e) {
            System.err.println("molt: warning: " + m.location() + ": the listening socket the previous molt handed over (fd "
                    + fd.num() + ") cannot be used: " + e.getMessage() + "; listening anew");
            fd.close();
            return null;
        }
    }

    /** The CPR-state name of a listening monitor socket: its endpoint as the command line gives it. */
    static String preservedName(ChardevConfig c) {
        return PRESERVED_PREFIX + switch (c) {
            case ChardevConfig.UnixSocket u -> "unix:" + u.path().toAbsolutePath().normalize();
            case ChardevConfig.TcpSocket t -> "tcp:" + t.host() + ":" + t.port();
            case ChardevConfig.SocketFd s -> "fd:" + s.fd();
            default -> throw new IllegalArgumentException("not a listening socket: " + c);
        };
    }

    private static ChardevException waitUnsupported(MonitorConfig m) {
        return new ChardevException(m.location() + ": monitors do not hold the guest's start for a client (wait=on); use wait=off");
    }

    /**
     * Starts accepting clients and the stdio sessions. With {@code tookAGuestOver} (a live update's
     * new molt, the only one with inherited sockets), clients already waiting connected while nobody
     * accepted: its sockets listened during the update (inherited), or were bound before the guest
     * came (a cpr-transfer's, before it read the cpr channel). They get the events they missed,
     * RESUME among them: QEMU's monitors run before its incoming starts. With {@code reloaded} (the
     * new code of a reload, in the same process) the stdio monitor's client is the previous code's,
     * which {@link #adopt} serves on: it is not greeted again.
     */
    void start(Monitor monitor, Map<String, dev.molt.chardev.Chardev> openChardevs, boolean tookAGuestOver, boolean reloaded) {
        this.monitor = monitor;
        for (Bound b : bound) {
            MonitorServer s = tookAGuestOver ? MonitorServer.startInherited(monitor, b.config().protocol(), b.listener())
                    : MonitorServer.start(monitor, b.config().protocol(), b.listener());
            servers.put(b.preservedName(), s);
        }
        for (MonitorConfig m : stdio) {
            Terminal.makeRaw(0); // QEMU's stdio backend is raw too; the monitor echoes what is typed
            if (reloaded) continue;
            stdioSession = m.protocol() == Protocol.HMP ? monitor.startHmp(Connection.stdio(), true)
                    : monitor.start(Protocol.QMP, Connection.stdio());
        }
        for (MonitorConfig m : muxed) {
            if (openChardevs.get(m.chardev()) instanceof StdioChardev console) {
                muxedConsole = console;
                console.enableMonitorMux((in, out) -> {
                    Connection conn = Connection.of(in, out, () -> { });
                    if (m.protocol() == Protocol.HMP) monitor.startHmp(conn, true);
                    else monitor.start(Protocol.QMP, conn);
                });
            }
        }
    }

    /**
     * Before a live update's exec: no client is accepted any more (one accepted now would be cut
     * off by the exec), but the sockets go on listening, so clients wait for the next molt instead
     * of being refused. Connected clients are left alone: the exec closes them, or, if it fails,
     * they go on.
     */
    void stopAccepting() {
        for (MonitorServer s : servers.values()) s.stopAccepting();
    }

    /** Whether a monitor has stdio to itself: the new code of a reload must be able to go on with its client. */
    boolean usesStdio() {
        return !stdio.isEmpty();
    }

    /**
     * For a reload, with the readers held: every client's connection (duplicated) and session state,
     * by the listening socket it came through, or as the stdio monitor's client; and whether the
     * -nographic multiplexer's keyboard is on its monitor (that session, served through a pipe inside
     * this code, ends with it: the new code keeps the keyboard there with a session of its own).
     */
    List<HeldClient> hold() {
        List<HeldClient> held = new ArrayList<>();
        servers.forEach((name, server) -> {
            for (HeldSession h : server.hold()) held.add(heldClient(name, server.protocol(), h));
        });
        if (stdioSession != null && !ended(stdioSession)) {
            Protocol p = stdio.getFirst().protocol();
            stdioSession.hold().ifPresent(h -> held.add(heldClient(STDIO_CLIENT + p.name(), p, h)));
        }
        if (muxedConsole != null && muxedConsole.monitorFocused()) {
            held.add(new HeldClient(MUX_MONITOR_FOCUS, dev.molt.sys.GatedStdin.copyForHandOver().release(), Protocol.HMP.name(),
                    true, new byte[0]));
        }
        return held;
    }

    private static HeldClient heldClient(String listener, Protocol protocol, HeldSession h) {
        return new HeldClient(listener, h.connection().release(), protocol.name(), h.negotiated(), h.pendingInput());
    }

    /** A stdio session whose input ended (stdin closed) has nothing to hand over. */
    private static boolean ended(MonitorSession session) {
        try {
            return session.awaitEnd(Duration.ZERO);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /** After a reload's hand-over: the old sessions write nothing more (the new code owns the connections); bytes dropped. */
    long abandonOutput() {
        long dropped = 0;
        for (MonitorServer s : servers.values()) dropped += s.abandonOutput();
        if (stdioSession != null) dropped += stdioSession.abandonOutput();
        return dropped;
    }

    /**
     * After a reload: the clients the previous code served go on here, each on the server of the
     * socket it came through, the stdio monitor's on stdio. One whose socket this command line has
     * no more is hung up on.
     */
    void adopt(List<HeldClient> clients) {
        for (HeldClient c : clients) {
            Fd fd = new Fd(c.fd(), "monitor client of " + c.listener());
            if (c.listener().startsWith(STDIO_CLIENT)) {
                fd.close(); // stdin itself is read: this copy only showed it was open
                adoptStdio(c);
                continue;
            }
            if (c.listener().equals(MUX_MONITOR_FOCUS)) {
                fd.close();
                if (muxedConsole != null) muxedConsole.focusMonitor();
                continue;
            }
            MonitorServer server = servers.get(c.listener());
            if (server == null) {
                fd.close();
                continue;
            }
            server.adopt(new HeldSession(fd, c.negotiated(), c.pendingInput()));
        }
    }

    private void adoptStdio(HeldClient c) {
        if (stdio.isEmpty() || stdioSession != null) return;
        Protocol p = stdio.getFirst().protocol();
        // A reload runs the same command line, so the protocol is the one the client speaks.
        if (p.name().equals(c.protocol())) stdioSession = monitor.adopt(p, Connection.stdio(), c.negotiated(), c.pendingInput());
    }

    /** After a failed exec: accepting again, first the clients that waited meanwhile. */
    void resumeAccepting() {
        for (MonitorServer s : servers.values()) s.resumeAccepting();
    }

    /** Stops listening and disconnects socket clients; stdio sessions are left alone. Idempotent. */
    @Override
    public void close() {
        for (MonitorServer s : servers.values()) s.close();
        servers.clear();
        for (Bound b : bound) b.listener().close(); // those no server owned yet
        bound.clear();
    }
}
