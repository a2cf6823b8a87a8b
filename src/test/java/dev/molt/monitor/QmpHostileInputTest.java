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
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Whatever one client sends, the server answers or drops that client, and serves the next one. */
class QmpHostileInputTest {
    @TempDir
    Path dir;
    FakeTarget target;
    MonitorServer server;
    Path socket;

    @BeforeEach
    void start() throws IOException {
        QmpOnSocket qmp = new QmpOnSocket(dir);
        target = qmp.target;
        socket = qmp.socket;
        server = qmp.server;
    }

    @AfterEach
    void stop() {
        server.close();
    }

    private static final Map<String, Object> RUNNING = Json.object("return", Json.object("status", "running", "running", true));

    private void freshClientIsServed() throws Exception {
        try (LineClient c = LineClient.unix(socket).negotiate()) {
            assertEquals(RUNNING, c.execute("query-status"));
        }
    }

    private static Map<String, Object> generic(String desc) {
        return Json.object("error", Json.object("class", "GenericError", "desc", desc));
    }

    @Test
    void tenMegabyteLinesAreAnsweredWithAnErrorAndTheSessionGoesOn() throws Exception {
        long heapBefore = usedHeap();
        try (LineClient c = LineClient.unix(socket).negotiate()) {
            String big = "A".repeat(10 << 20);
            c.send("{\"execute\": \"query-status\", \"arguments\": {\"x\": \"" + big + "\"}}\n");
            assertEquals(generic("JSON token size limit exceeded"), c.reply());
            assertEquals(RUNNING, c.execute("query-status"));
            c.send(big + "\n");
            assertEquals(generic("JSON token size limit exceeded"), c.reply());
            c.send("[" .repeat(10 << 20) + "\n");
            assertEquals(generic("JSON nesting depth limit exceeded"), c.reply());
            // The unbalanced brackets keep the parser waiting; a control character resets it.
            c.send("\u0001");
            assertEquals(generic("JSON parse error, stray '\u0001'"), c.reply());
            assertEquals(RUNNING, c.execute("query-status"));
        }
        // The server kept a bounded buffer, not the 30 MB it was sent (generous margin for GC timing).
        assertTrue(usedHeap() - heapBefore < 200L << 20);
        freshClientIsServed();
    }

    @Test
    void malformedJsonIsAnsweredAndTheSessionContinues() throws Exception {
        try (LineClient c = LineClient.unix(socket).negotiate()) {
            for (String bad : List.of("{\"execute\": }", "{\"execute\" \"x\"}", "[1 2]", "}", "tru", "{\"a\": \"\\q\"}", "{\"a\": 01}")) {
                Map<String, Object> reply = c.command(bad);
                assertEquals("GenericError", ((Map<?, ?>) reply.get("error")).get("class"), bad);
                assertTrue(((String) ((Map<?, ?>) reply.get("error")).get("desc")).startsWith("JSON parse error, "), bad);
            }
            c.sendBytes(new byte[] {'"', (byte) 0xc3, '"', '\n'});
            assertEquals(generic("JSON parse error, invalid UTF-8 sequence in string"), c.reply());
            assertEquals(RUNNING, c.execute("query-status"));
        }
    }

    @Test
    void numbersTooBigForJsonAreAnsweredBeforeAndAfterNegotiation() throws Exception {
        Map<String, Object> outOfRange = generic("QMP input member 'id' contains a number out of range");
        try (LineClient c = LineClient.unix(socket)) {
            assertTrue(c.message().containsKey("QMP"));
            // QEMU reads 1e999 as infinity, which no JSON reply can echo.
            assertEquals(outOfRange, c.command("{\"id\": 1e999}"));
            assertEquals(outOfRange, c.command("{\"execute\": \"qmp_capabilities\", \"id\": -1e400}"));
            // The refused qmp_capabilities did not run.
            assertEquals(Json.object("error", Json.object("class", "CommandNotFound", "desc", "Expecting capabilities negotiation with 'qmp_capabilities'")),
                    c.execute("query-status"));
            assertEquals(Json.object("return", Map.of()), c.execute("qmp_capabilities"));
            assertEquals(outOfRange, c.command("{\"execute\": \"stop\", \"id\": {\"a\": [1, 1e999]}}"));
            assertEquals(List.of(), target.calls);
            // As an argument, such a number is just not the integer the command expects.
            assertEquals(generic("Invalid parameter type for 'cpu-index', expected: integer"), c.command(
                    "{\"execute\": \"human-monitor-command\", \"arguments\": {\"command-line\": \"info status\", \"cpu-index\": 1e999}}"));
            assertEquals(RUNNING, c.execute("query-status"));
        }
        freshClientIsServed();
    }

    @Test
    void aFailureBehindACommandIsAnsweredWithTheIdAndTheSessionGoesOn() throws Exception {
        target.failure = new StackOverflowError();
        try (LineClient c = LineClient.unix(socket).negotiate()) {
            assertEquals(Json.object("id", 5L, "error", Json.object("class", "GenericError", "desc", "internal error: java.lang.StackOverflowError")),
                    c.command("{\"execute\": \"stop\", \"id\": 5}"));
            // quit fails after its reply went out: the failure is still answered.
            assertEquals(Json.object("return", Map.of()), c.execute("quit"));
            assertEquals(generic("internal error: java.lang.StackOverflowError"), c.reply());
            target.failure = null;
            assertEquals(RUNNING, c.execute("query-status"));
        }
        freshClientIsServed();
    }

    @Test
    void aReplyJsonCannotCarryBecomesAnInternalErrorWithTheId() throws Exception {
        server.close();
        RecordingMigration migration = new RecordingMigration();
        migration.info = Map.of("mbps", Double.POSITIVE_INFINITY); // a bug in the migration code, say
        server = MonitorServer.start(new Monitor(target, new EventBus(), migration), Protocol.QMP, SocketListener.unix(socket));
        try (LineClient c = LineClient.unix(socket).negotiate()) {
            assertEquals(Json.object("id", "q", "error", Json.object("class", "GenericError",
                            "desc", "internal error: java.lang.IllegalArgumentException: JSON has no Infinity")),
                    c.command("{\"execute\": \"query-migrate\", \"id\": \"q\"}"));
            assertEquals(RUNNING, c.execute("query-status"));
        }
    }

    @Test
    void tenThousandCommandsInABurstAreAnsweredInOrder() throws Exception {
        try (LineClient c = LineClient.unix(socket).negotiate()) {
            StringBuilder burst = new StringBuilder();
            int n = 10_000;
            for (int i = 0; i < n; i++) burst.append("{\"execute\": \"query-status\", \"id\": ").append(i).append("}");
            c.send(burst.toString());
            for (int i = 0; i < n; i++) {
                Map<String, Object> reply = c.reply();
                assertEquals((long) i, reply.get("id"));
                assertEquals(RUNNING.get("return"), reply.get("return"));
            }
        }
        freshClientIsServed();
    }

    @Test
    void clientsThatVanishMidCommandDisturbNobody() throws Exception {
        try (LineClient watcher = LineClient.unix(socket).negotiate()) {
            // Half a command, then gone.
            try (SocketChannel half = raw()) {
                half.write(ascii("{\"execute\": \"qmp_capabilities\"}{\"execute\": \"query-st"));
            }
            // A thousand commands, then gone without reading a single reply.
            try (SocketChannel rude = raw()) {
                StringBuilder sb = new StringBuilder("{\"execute\": \"qmp_capabilities\"}");
                for (int i = 0; i < 1000; i++) sb.append("{\"execute\": \"query-status\"}");
                rude.write(ascii(sb.toString()));
            }
            // Gone in the middle of a stop/cont storm.
            try (SocketChannel storm = raw()) {
                StringBuilder sb = new StringBuilder("{\"execute\": \"qmp_capabilities\"}");
                for (int i = 0; i < 200; i++) sb.append("{\"execute\": \"stop\"}{\"execute\": \"cont\"}");
                storm.write(ascii(sb.toString()));
            }
            // Their sessions run what they had received (as QEMU does), then end on the dead socket.
            for (int i = 0; i < 1000 && (server.servedCount() < 4 || server.clientCount() > 1); i++) Thread.sleep(10);
            assertEquals(4, server.servedCount());
            assertEquals(1, server.clientCount());
            // A session's commands already read may still be running after its client is counted gone
            // (under load): the storm's last stop can come after a cont sent now. Once they have all run,
            // the watcher's cont holds.
            Map<String, Object> status = Map.of();
            for (int i = 0; i < 100 && !RUNNING.equals(status); i++) {
                assertEquals(Json.object("return", Map.of()), watcher.execute("cont"));
                Thread.sleep(50);
                status = watcher.execute("query-status");
            }
            assertEquals(RUNNING, status);
        }
        freshClientIsServed();
        for (int i = 0; i < 500 && server.clientCount() > 0; i++) Thread.sleep(10);
        assertEquals(0, server.clientCount());
    }

    @Test
    void aConnectionFloodIsCappedAndTheServerRecovers() throws Exception {
        List<SocketChannel> flood = new ArrayList<>();
        try {
            for (int i = 0; i < MonitorServer.MAX_CLIENTS + 10; i++) flood.add(raw());
            int served = 0;
            int refused = 0;
            for (SocketChannel ch : flood) {
                ByteBuffer buf = ByteBuffer.allocate(4096);
                int n = ch.read(buf);
                if (n > 0) served++;
                else refused++;
            }
            assertEquals(MonitorServer.MAX_CLIENTS, served);
            assertEquals(10, refused);
        } finally {
            for (SocketChannel ch : flood) ch.close();
        }
        for (int i = 0; i < 500 && server.clientCount() > 0; i++) Thread.sleep(10);
        freshClientIsServed();
    }

    private SocketChannel raw() throws IOException {
        SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
        ch.connect(UnixDomainSocketAddress.of(socket));
        return ch;
    }

    private static ByteBuffer ascii(String s) {
        return ByteBuffer.wrap(s.getBytes(StandardCharsets.US_ASCII));
    }

    private static long usedHeap() {
        System.gc();
        Runtime rt = Runtime.getRuntime();
        return rt.totalMemory() - rt.freeMemory();
    }
}
