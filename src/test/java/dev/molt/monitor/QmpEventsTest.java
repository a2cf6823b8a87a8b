package dev.molt.monitor;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Events reach every negotiated client, only those, and never wait for a slow one. */
class QmpEventsTest {
    @TempDir
    Path dir;
    FakeTarget target;
    EventBus events;
    MonitorServer server;
    Path socket;

    @BeforeEach
    void start() throws IOException {
        QmpOnSocket qmp = new QmpOnSocket(dir);
        target = qmp.target;
        events = qmp.events;
        socket = qmp.socket;
        server = qmp.server;
    }

    @AfterEach
    void stop() {
        server.close();
    }

    private void awaitSubscribers(int n) throws InterruptedException {
        for (int i = 0; i < 500 && events.subscriberCount() != n; i++) Thread.sleep(10);
        assertEquals(n, events.subscriberCount());
    }

    @Test
    void eventsReachEveryNegotiatedClientAndOnlyThose() throws Exception {
        try (LineClient a = LineClient.unix(socket).negotiate();
             LineClient b = LineClient.unix(socket).negotiate();
             LineClient c = LineClient.unix(socket)) {
            c.message(); // greeting only
            awaitSubscribers(2);
            events.emit(Events.stop());
            for (LineClient client : new LineClient[] {a, b}) {
                String line = client.line();
                assertTrue(line.matches("\\{\"timestamp\": \\{\"seconds\": \\d+, \"microseconds\": \\d+}, \"event\": \"STOP\"}"), line);
                @SuppressWarnings("unchecked")
                Map<String, Object> ts = (Map<String, Object>) ((Map<?, ?>) Json.parse(line)).get("timestamp");
                long seconds = (Long) ts.get("seconds");
                assertTrue(Math.abs(seconds - System.currentTimeMillis() / 1000) < 60);
                assertTrue((Long) ts.get("microseconds") < 1_000_000);
            }
            // The un-negotiated client got nothing: its next message is the reply to its command.
            assertEquals(Json.object("error", Json.object("class", "CommandNotFound", "desc", "Expecting capabilities negotiation with 'qmp_capabilities'")),
                    c.command("{\"execute\": \"query-status\"}"));
        }
    }

    @Test
    void negotiatingLaterGetsLaterEventsWithTheirData() throws Exception {
        try (LineClient a = LineClient.unix(socket).negotiate(); LineClient late = LineClient.unix(socket)) {
            late.message();
            awaitSubscribers(1);
            events.emit(Events.reset(ShutdownCause.GUEST_RESET));
            assertEquals("RESET", a.message().get("event"));
            assertEquals(Json.object("return", Map.of()), late.execute("qmp_capabilities"));
            events.emit(Events.shutdown(ShutdownCause.GUEST_SHUTDOWN));
            Map<String, Object> e = late.message();
            assertEquals("SHUTDOWN", e.get("event"));
            assertEquals(Json.object("guest", true, "reason", "guest-shutdown"), e.get("data"));
            assertEquals(e.get("data"), a.message().get("data"));
            events.emit(Events.migration("active"));
            events.emit(Events.migrationPass(2));
            assertEquals(Map.of("status", "active"), late.message().get("data"));
            assertEquals(Map.of("pass", 2L), late.message().get("data"));
        }
        awaitSubscribers(0);
    }

    @Test
    void anEventEmittedByACommandComesBeforeItsReply() throws Exception {
        try (LineClient a = LineClient.unix(socket).negotiate()) {
            a.send("{\"execute\": \"stop\", \"id\": 1}\n");
            assertEquals("STOP", a.message().get("event"));
            assertEquals(Json.object("return", Map.of(), "id", 1L), a.message());
        }
    }

    @Test
    void aClientThatDoesNotReadIsDroppedWithoutStallingTheEmitterOrOthers() throws Exception {
        SocketChannel slow = SocketChannel.open(StandardProtocolFamily.UNIX);
        slow.connect(UnixDomainSocketAddress.of(socket));
        slow.write(ByteBuffer.wrap("{\"execute\": \"qmp_capabilities\"}\n".getBytes(StandardCharsets.US_ASCII)));
        try (LineClient good = LineClient.unix(socket).negotiate()) {
            awaitSubscribers(2);
            String payload = "x".repeat(1024);
            int batches = 16, perBatch = 512; // 8 MiB in all: more than the queue and the socket buffers hold
            long slowestBatch = 0;
            for (int b = 0; b < batches; b++) {
                long start = System.nanoTime();
                for (int i = 0; i < perBatch; i++) events.emit("TEST", Json.object("n", (long) (b * perBatch + i), "payload", payload));
                slowestBatch = Math.max(slowestBatch, System.nanoTime() - start);
                // The good client keeps up (it is paced), so only the silent one falls behind.
                for (int i = 0; i < perBatch; i++) assertEquals((long) (b * perBatch + i), ((Map<?, ?>) good.message().get("data")).get("n"));
            }
            assertTrue(slowestBatch < 2_000_000_000L, "emitting a batch took " + slowestBatch / 1_000_000 + " ms");
            int count = batches * perBatch;
            assertEquals(Json.object("return", Map.of("status", "running", "running", true)), good.execute("query-status"));
            awaitSubscribers(1);
            // The slow client was hung up on: reading what the kernel buffered ends in EOF.
            ByteBuffer sink = ByteBuffer.allocate(1 << 16);
            long total = 0;
            int n;
            while ((n = slow.read(sink.clear())) >= 0) total += n;
            assertTrue(total < (long) count * payload.length(), "slow client got " + total + " bytes");
        } finally {
            slow.close();
        }
    }
}
