package dev.molt;

import dev.molt.chardev.ChardevConfig;
import dev.molt.chardev.ChardevException;
import dev.molt.chardev.StdioChardev;
import dev.molt.monitor.Connection;
import dev.molt.monitor.Listener;
import dev.molt.monitor.Monitor;
import dev.molt.monitor.MonitorConfig;
import dev.molt.monitor.MonitorServer;
import dev.molt.monitor.Protocol;
import dev.molt.monitor.SocketListener;
import dev.molt.sys.Terminal;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Turns the command line's monitors into running QMP/HMP endpoints. Listening sockets are bound
 * first ({@link #bind}), so a bad path fails before the guest starts; sessions start afterwards
 * ({@link #start}), because nothing but the guest belongs on the start-up path.
 */
final class MonitorSetup implements AutoCloseable {
    private record Bound(MonitorConfig config, Listener listener) {}

    private final List<Bound> bound = new ArrayList<>();
    private final List<MonitorConfig> stdio = new ArrayList<>();
    private final List<MonitorConfig> muxed = new ArrayList<>();
    private final List<MonitorServer> servers = new ArrayList<>();

    static MonitorSetup bind(List<MonitorConfig> monitors, Map<String, ChardevConfig> chardevs) {
        MonitorSetup setup = new MonitorSetup();
        try {
            for (MonitorConfig m : monitors) setup.bindOne(m, chardevs.get(m.chardev()));
        } catch (RuntimeException e) {
            setup.close();
            throw e;
        }
        return setup;
    }

    private void bindOne(MonitorConfig m, ChardevConfig c) {
        try {
            switch (c) {
                case ChardevConfig.Stdio s when s.mux() -> muxed.add(m);
                case ChardevConfig.Stdio s -> stdio.add(m);
                case ChardevConfig.UnixSocket u when u.server() && !u.waitForClient() -> bound.add(new Bound(m, SocketListener.unix(u.path())));
                case ChardevConfig.TcpSocket t when t.server() && !t.waitForClient() ->
                        bound.add(new Bound(m, SocketListener.tcp(t.host(), t.port())));
                case ChardevConfig.UnixSocket u when u.server() -> throw waitUnsupported(m);
                case ChardevConfig.TcpSocket t when t.server() -> throw waitUnsupported(m);
                default -> throw new ChardevException(m.location() + ": a monitor needs stdio or a listening socket (server=on)");
            }
        } catch (IOException e) {
            throw new ChardevException(m.location() + ": " + e.getMessage());
        }
    }

    private static ChardevException waitUnsupported(MonitorConfig m) {
        return new ChardevException(m.location() + ": monitors do not hold the guest's start for a client (wait=on); use wait=off");
    }

    /** Starts accepting clients and the stdio sessions. */
    void start(Monitor monitor, Map<String, dev.molt.chardev.Chardev> openChardevs) {
        for (Bound b : bound) servers.add(MonitorServer.start(monitor, b.config().protocol(), b.listener()));
        for (MonitorConfig m : stdio) {
            Terminal.makeRaw(0); // QEMU's stdio backend is raw too; the monitor echoes what is typed
            if (m.protocol() == Protocol.HMP) monitor.startHmp(Connection.stdio(), true);
            else monitor.start(Protocol.QMP, Connection.stdio());
        }
        for (MonitorConfig m : muxed) {
            if (openChardevs.get(m.chardev()) instanceof StdioChardev console) {
                console.enableMonitorMux((in, out) -> {
                    Connection conn = Connection.of(in, out, () -> { });
                    if (m.protocol() == Protocol.HMP) monitor.startHmp(conn, true);
                    else monitor.start(Protocol.QMP, conn);
                });
            }
        }
    }

    /** Stops accepting and disconnects socket clients; stdio sessions are left alone. Idempotent. */
    @Override
    public void close() {
        for (MonitorServer s : servers) s.close();
        servers.clear();
        if (!bound.isEmpty()) {
            for (Bound b : bound) {
                try {
                    b.listener().close();
                } catch (Exception ignored) {
                    // Already closed by its server, or closing at exit: nothing else to do.
                }
            }
            bound.clear();
        }
    }
}
