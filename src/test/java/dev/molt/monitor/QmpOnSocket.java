package dev.molt.monitor;

import java.io.IOException;
import java.nio.file.Path;

/** A QMP server on a unix socket in {@code dir}, over a {@link FakeTarget} whose events go to {@link #events}. */
final class QmpOnSocket implements AutoCloseable {
    final FakeTarget target = new FakeTarget();
    final EventBus events = new EventBus();
    final Monitor monitor;
    final Path socket;
    final MonitorServer server;

    QmpOnSocket(Path dir) throws IOException {
        target.events = events;
        monitor = new Monitor(target, events);
        socket = dir.resolve("qmp.sock");
        server = MonitorServer.start(monitor, Protocol.QMP, SocketListener.unix(socket));
    }

    @Override
    public void close() {
        server.close();
    }
}
