package dev.molt.monitor;

import dev.molt.sys.Fd;
import dev.molt.sys.ListenSocket;
import dev.molt.sys.Posix;
import dev.molt.sys.UnixListen;
import dev.molt.sys.UnixSocket;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A monitor socket handed from one molt to the next (cpr-exec): accepting stops while the socket
 * goes on listening, an inherited socket is served again, and the clients that waited meanwhile
 * get the events they missed.
 */
class MonitorHandoverTest {
    private static final Map<String, Object> RETURNED = Json.object("return", Map.of());

    @TempDir
    Path dir;
    EventBus events;
    Monitor monitor;
    Path socket;

    @BeforeEach
    void setUp() {
        FakeTarget target = new FakeTarget();
        events = new EventBus();
        target.events = events;
        monitor = new Monitor(target, events);
        socket = dir.resolve("qmp.sock");
    }

    private void awaitSubscribers(int n) throws InterruptedException {
        for (int i = 0; i < 500 && events.subscriberCount() != n; i++) Thread.sleep(10);
        assertEquals(n, events.subscriberCount());
    }

    private static String event(LineClient c) throws InterruptedException {
        return String.valueOf(c.message().get("event"));
    }

    @Test
    void aServerThatStoppedAcceptingKeepsListeningAndServesTheWaitingClientsWhatTheyMissed() throws Exception {
        try (MonitorServer server = MonitorServer.start(monitor, Protocol.QMP, SocketListener.unix(socket));
             LineClient connected = LineClient.unix(socket).negotiate()) {
            awaitSubscribers(1);
            events.emit(Events.reset(ShutdownCause.GUEST_RESET)); // before the stop: nobody waiting missed it
            assertEquals("RESET", event(connected));
            server.stopAccepting();
            events.emit(Events.stop());
            try (LineClient waiting = LineClient.unix(socket)) { // connects: the socket still listens
                assertTrue(waiting.quietFor(300), "nobody accepts while stopped");
                events.emit(Events.resume());
                // A client connected before goes on as if nothing happened.
                assertEquals("STOP", event(connected));
                assertEquals("RESUME", event(connected));
                server.resumeAccepting();
                assertTrue(waiting.message().containsKey("QMP"));
                waiting.send("{\"execute\": \"qmp_capabilities\"}\n");
                assertEquals(RETURNED, waiting.message());
                assertEquals("STOP", event(waiting));
                assertEquals("RESUME", event(waiting));
                // Whoever connects once accepting again gets later events only, as in QEMU.
                try (LineClient later = LineClient.unix(socket).negotiate()) {
                    awaitSubscribers(3);
                    events.emit(Events.shutdown(ShutdownCause.HOST_QMP_QUIT));
                    assertEquals("SHUTDOWN", event(later));
                    assertEquals("SHUTDOWN", event(waiting));
                    assertEquals("SHUTDOWN", event(connected));
                }
            }
            server.stopAccepting();
            server.stopAccepting(); // idempotent, as is resuming twice
            server.resumeAccepting();
            server.resumeAccepting();
            try (LineClient again = LineClient.unix(socket).negotiate()) {
                assertEquals(Json.object("return", Map.of("status", "running", "running", true)), again.execute("query-status"));
            }
        }
    }

    @Test
    void anInheritedSocketIsServedAndItsWaitingClientsGetTheEventsEmittedBeforeTheStart() throws Exception {
        Fd fd = UnixListen.at(socket); // as the previous molt handed it over
        try (LineClient waiting = LineClient.unix(socket)) {
            events.emit(Events.resume()); // the new molt resumed the guest before its monitors served
            try (MonitorServer server = MonitorServer.startInherited(monitor, Protocol.QMP, SocketListener.inheritedUnix(fd, socket))) {
                assertEquals("unix:" + socket, server.describe());
                assertTrue(waiting.message().containsKey("QMP"));
                waiting.send("{\"execute\": \"qmp_capabilities\"}\n");
                assertEquals(RETURNED, waiting.message());
                assertEquals("RESUME", event(waiting));
                assertEquals(Json.object("return", Map.of("status", "running", "running", true)), waiting.execute("query-status"));
                try (LineClient later = LineClient.unix(socket).negotiate()) {
                    awaitSubscribers(2);
                    events.emit(Events.stop());
                    assertEquals("STOP", event(later)); // not RESUME: it connected after the server started
                    assertEquals("STOP", event(waiting));
                }
            }
        }
        assertTrue(Files.notExists(socket), "the new molt owns the socket file now, and removes it at exit");
    }

    @Test
    void anInheritedTcpSocketIsServedOnItsPort() throws Exception {
        Fd fd = ListenSocket.tcp(InetAddress.getLoopbackAddress(), 0, 8);
        int port = ListenSocket.localPort(fd);
        try (MonitorServer server = MonitorServer.startInherited(monitor, Protocol.QMP, SocketListener.inheritedTcp(fd, "127.0.0.1", port));
             LineClient c = LineClient.tcp(new InetSocketAddress("127.0.0.1", port)).negotiate()) {
            assertEquals("tcp:127.0.0.1:" + port, server.describe());
            assertEquals(Json.object("return", Map.of("enabled", true, "present", true)), c.execute("query-kvm"));
        }
    }

    @Test
    void anInheritedFdMustBeAListeningStreamSocketOfTheRightFamily() throws Exception {
        Path file = dir.resolve("file");
        Files.writeString(file, "x");
        try (Fd notSocket = Posix.open(file.toString(), Posix.O_RDONLY, 0)) {
            IOException e = assertThrows(IOException.class, () -> SocketListener.inheritedUnix(notSocket, socket));
            assertTrue(e.getMessage().startsWith("it is not a socket (getsockopt SO_DOMAIN: ENOTSOCK"), e.getMessage());
            assertTrue(notSocket.isOpen(), "an unfit fd is left to the caller");
        }
        try (Fd tcp = ListenSocket.tcp(InetAddress.getLoopbackAddress(), 0, 1)) {
            assertEquals("it is not a unix stream socket",
                    assertThrows(IOException.class, () -> SocketListener.inheritedUnix(tcp, socket)).getMessage());
            int port = ListenSocket.localPort(tcp);
            int other = port == 65535 ? port - 1 : port + 1;
            assertEquals("it listens on port " + port + ", not " + other,
                    assertThrows(IOException.class, () -> SocketListener.inheritedTcp(tcp, "127.0.0.1", other)).getMessage());
        }
        try (Fd unix = UnixListen.at(socket)) {
            assertEquals("it is not a TCP stream socket",
                    assertThrows(IOException.class, () -> SocketListener.inheritedTcp(unix, "127.0.0.1", 4444)).getMessage());
            try (LineClient client = LineClient.unix(socket); Fd accepted = UnixSocket.accept(unix)) {
                assertEquals("it is not listening",
                        assertThrows(IOException.class, () -> SocketListener.inheritedUnix(accepted, socket)).getMessage());
            }
            Files.delete(socket); // nobody could reach the socket any more
            assertEquals("no socket is at " + socket + " any more",
                    assertThrows(IOException.class, () -> SocketListener.inheritedUnix(unix, socket)).getMessage());
        }
    }

    @Test
    void onlyTheLatestEventsAreKeptForClientsThatMissedThem() {
        int total = EventBus.RETAINED + 8;
        for (int i = 0; i < total; i++) events.emit(Events.migrationPass(i));
        List<Object> all = new ArrayList<>();
        events.subscribe(json -> all.add(((Map<?, ?>) ((Map<?, ?>) Json.parse(json)).get("data")).get("pass")), 0);
        List<Object> expected = new ArrayList<>();
        for (long i = total - EventBus.RETAINED; i < total; i++) expected.add(i);
        assertEquals(expected, all);
        List<Object> recent = new ArrayList<>();
        events.subscribe(json -> recent.add(((Map<?, ?>) ((Map<?, ?>) Json.parse(json)).get("data")).get("pass")), total - 2);
        assertEquals(List.of((long) total - 2, (long) total - 1), recent);
        events.emit(Events.migrationPass(total));
        assertEquals((long) total, all.getLast(), "then live events");
        assertEquals((long) total, recent.getLast());
        assertEquals(total + 1, events.emitted());
    }
}
