package dev.molt.monitor;

import org.junit.jupiter.api.Test;

import java.nio.channels.Channels;
import java.nio.channels.Pipe;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A QMP session on a pair of streams, as {@code -qmp stdio} runs it. */
class QmpStdioTest {
    @Test
    void sessionOnStreamsBehavesAsOnASocket() throws Exception {
        FakeTarget target = new FakeTarget();
        EventBus events = new EventBus();
        target.events = events;
        Monitor monitor = new Monitor(target, events);
        Pipe toServer = Pipe.open();
        Pipe fromServer = Pipe.open();
        MonitorSession session = monitor.start(Protocol.QMP, Connection.of(Channels.newInputStream(toServer.source()),
                Channels.newOutputStream(fromServer.sink()), () -> fromServer.sink().close()));
        try (LineClient c = new LineClient(Channels.newInputStream(fromServer.source()), Channels.newOutputStream(toServer.sink()),
                () -> fromServer.source().close())) {
            c.negotiate();
            assertEquals(Json.object("return", Map.of()), c.execute("stop"));
            assertEquals("STOP", c.events.getFirst().get("event"));
            // End of input ends the session, after the replies already due went out.
            c.send("{\"execute\": \"query-status\"}");
            toServer.sink().close();
            assertEquals(Json.object("return", Map.of("status", "paused", "running", false)), c.reply());
            assertTrue(session.awaitEnd(Duration.ofSeconds(10)));
            assertEquals(0, events.subscriberCount());
        }
    }

    @Test
    void getfdTakesTheFdTheTransportReceived() throws Exception {
        Monitor monitor = new Monitor(new FakeTarget(), new EventBus());
        Pipe toServer = Pipe.open();
        Pipe fromServer = Pipe.open();
        List<Integer> closed = new CopyOnWriteArrayList<>();
        AtomicInteger nextFd = new AtomicInteger(100);
        Connection base = Connection.of(Channels.newInputStream(toServer.source()), Channels.newOutputStream(fromServer.sink()),
                () -> fromServer.sink().close());
        // A transport that, like one built on recvmsg(2), got an fd with every message.
        Connection withFds = new Connection() {
            @Override
            public java.io.InputStream input() {
                return base.input();
            }

            @Override
            public java.io.OutputStream output() {
                return base.output();
            }

            @Override
            public void close() {
                base.close();
            }

            @Override
            public Optional<PassedFd> takeReceivedFd() {
                int fd = nextFd.getAndIncrement();
                return Optional.of(new PassedFd(fd, () -> closed.add(fd)));
            }
        };
        monitor.start(Protocol.QMP, withFds);
        try (LineClient c = new LineClient(Channels.newInputStream(fromServer.source()), Channels.newOutputStream(toServer.sink()),
                () -> toServer.sink().close())) {
            c.negotiate();
            Map<String, Object> ok = Json.object("return", Map.of());
            assertEquals(ok, c.command("{\"execute\": \"getfd\", \"arguments\": {\"fdname\": \"mig\"}}"));
            assertEquals(Json.object("error", Json.object("class", "GenericError", "desc", "Parameter 'fdname' expects a name not starting with a digit")),
                    c.command("{\"execute\": \"getfd\", \"arguments\": {\"fdname\": \"9mig\"}}"));
            assertEquals(List.of(101), closed);
            assertEquals(ok, c.command("{\"execute\": \"getfd\", \"arguments\": {\"fdname\": \"mig\"}}"));
            assertEquals(List.of(101, 100), closed); // replaced
            assertEquals(ok, c.command("{\"execute\": \"getfd\", \"arguments\": {\"fdname\": \"other\"}}"));
            assertEquals(ok, c.command("{\"execute\": \"closefd\", \"arguments\": {\"fdname\": \"other\"}}"));
            assertEquals(List.of(101, 100, 103), closed);
            assertEquals(102, monitor.passedFds().take("mig").orElseThrow().fd());
            assertTrue(monitor.passedFds().take("mig").isEmpty());
            monitor.drainOutput(Duration.ofSeconds(1));
        }
    }
}
