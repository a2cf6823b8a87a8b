package dev.molt.it;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.StandardProtocolFamily;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * QMP and HMP end to end: molt driven like a management tool would. Tests that watch the guest
 * run (its ticks stop and go, its reset, its echo) need KVM; the others run under both
 * accelerators, under qtest on any host.
 */
class MonitorIT {
    private static final Duration T = Duration.ofSeconds(60);

    private static MoltProcess molt(Path console, String... extra) {
        return molt("kvm", console, extra);
    }

    /** molt with the test guest's kernel under {@code accel}; under qtest it is loaded and never runs. */
    private static MoltProcess molt(String accel, Path console, String... extra) {
        if (accel.equals("kvm")) KvmHost.require();
        List<String> args = new java.util.ArrayList<>(List.of("-accel", accel, "-smp", "2", "-m", "256M", "-kernel",
                Project.testGuest().toString(), "-append", "mem=16M", "-serial", "file:" + console, "-display", "none"));
        args.addAll(List.of(extra));
        return MoltProcess.start(args.toArray(String[]::new));
    }

    /** The VM still runs: under KVM the guest ticks on; under qtest (no guest code) it reports running. */
    private static void assertStillRuns(String accel, Path log, QmpClient q) throws Exception {
        assertEquals("running", q.returned("query-status").get("status"));
        if (accel.equals("kvm")) {
            long before = ticks(log);
            GuestIT.waitFor(() -> ticks(log) > before + 20, T);
            assertTrue(Tick.all(console(log)).stream().allMatch(Tick::ok));
        }
    }

    /** Lines the guest has written to its console so far. */
    private static List<String> console(Path log) throws Exception {
        return Files.exists(log) ? Files.readAllLines(log, StandardCharsets.ISO_8859_1).stream()
                .map(l -> l.replace("\r", "")).toList() : List.of();
    }

    private static long ticks(Path log) throws Exception {
        return console(log).stream().filter(l -> l.startsWith("tick ")).count();
    }

    @Test
    @Tag("kvm")
    void qmpDrivesTheRunningGuest(@TempDir Path dir) throws Exception {
        Path sock = dir.resolve("qmp.sock");
        Path log = dir.resolve("console.log");
        try (MoltProcess molt = molt(log, "-name", "vm1", "-qmp", "unix:" + sock + ",server=on,wait=off");
             QmpClient a = QmpClient.unix(sock, T); QmpClient b = QmpClient.unix(sock, T)) {
            assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(sock)));
            @SuppressWarnings("unchecked")
            Map<String, Object> qmp = (Map<String, Object>) a.greeting.get("QMP");
            assertEquals(List.of(), qmp.get("capabilities"));
            assertTrue(String.valueOf(qmp.get("version")).contains("molt"), qmp.toString());

            // Before negotiation only qmp_capabilities is known.
            Map<String, Object> early = a.execute("query-status");
            assertEquals("CommandNotFound", ((Map<?, ?>) early.get("error")).get("class"));
            a.negotiated();
            b.negotiated();
            GuestIT.waitFor(() -> console(log).stream().anyMatch(l -> l.startsWith("READY")), T);

            assertEquals(Map.of("status", "running", "running", true), a.returned("query-status"));
            assertEquals(Map.of("name", "vm1"), a.returned("query-name"));
            assertEquals(Map.of("enabled", true, "present", true), a.returned("query-kvm"));
            @SuppressWarnings("unchecked")
            List<Map<String, Object>> cpus = (List<Map<String, Object>>) a.execute("query-cpus-fast").get("return");
            assertEquals(2, cpus.size());
            for (Map<String, Object> cpu : cpus) {
                long tid = ((Number) cpu.get("thread-id")).longValue();
                assertTrue(Files.isDirectory(Path.of("/proc/" + molt.pid() + "/task/" + tid)), "vCPU thread " + tid + " is molt's");
            }

            // stop: both clients see STOP and the guest's ticks stop.
            a.returned("stop");
            a.event("STOP", T);
            b.event("STOP", T);
            assertEquals(Map.of("status", "paused", "running", false), b.returned("query-status"));
            Thread.sleep(300);
            long frozen = ticks(log);
            Thread.sleep(1000);
            assertEquals(frozen, ticks(log), "no guest ticks while stopped");

            // cont: RESUME, ticks continue with consecutive numbers and intact memory.
            b.returned("cont");
            a.event("RESUME", T);
            b.event("RESUME", T);
            GuestIT.waitFor(() -> ticks(log) > frozen + 20, T);
            List<Tick> all = Tick.all(console(log));
            assertTrue(all.stream().allMatch(Tick::ok));

            // system_reset: RESET, and the guest boots again.
            a.returned("system_reset");
            Map<String, Object> reset = b.event("RESET", T);
            assertEquals(Map.of("guest", false, "reason", "host-qmp-system-reset"), reset.get("data"));
            GuestIT.waitFor(() -> console(log).stream().filter(l -> l.startsWith("READY")).count() == 2, T);

            // quit: SHUTDOWN on every client, then molt exits 0.
            a.returned("quit");
            assertEquals(Map.of("guest", false, "reason", "host-qmp-quit"), b.event("SHUTDOWN", T).get("data"));
            assertEquals(0, molt.awaitExit(T));
            assertFalse(Files.exists(sock), "the socket is removed at exit");
        }
    }

    @Test
    @Tag("kvm")
    void guestResetIsAnEventAndNoRebootEndsWithShutdown(@TempDir Path dir) throws Exception {
        KvmHost.require();
        Path sock = dir.resolve("qmp.sock");
        Path log = dir.resolve("console.log");
        Path in = dir.resolve("in.sock");
        try (MoltProcess molt = MoltProcess.start("-m", "256M", "-kernel", Project.testGuest().toString(),
                "-append", "mem=16M", "-chardev", "socket,id=con,path=" + in + ",server=on,wait=off", "-serial", "chardev:con",
                "-display", "none", "-no-reboot", "-chardev", "socket,id=mon0,path=" + sock + ",server=on,wait=off",
                "-mon", "chardev=mon0,mode=control");
             QmpClient q = QmpClient.unix(sock, T).negotiated()) {
            GuestIT.waitFor(() -> Files.exists(in), T);
            try (var c = java.nio.channels.SocketChannel.open(StandardProtocolFamily.UNIX)) {
                c.connect(java.net.UnixDomainSocketAddress.of(in));
                // Output with no client connected is dropped (as in QEMU), so READY may be gone: wait for ticks.
                readUntil(c, new StringBuilder(), "tick 0 ");
                c.write(java.nio.ByteBuffer.wrap("reboot\r".getBytes(StandardCharsets.US_ASCII)));
            }
            assertEquals(Map.of("guest", true, "reason", "guest-reset"), q.event("SHUTDOWN", T).get("data"));
            assertEquals(0, molt.awaitExit(T));
        }
    }

    @Test
    @Tag("kvm")
    void startPausedThenContOverTcp(@TempDir Path dir) throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        Path log = dir.resolve("console.log");
        try (MoltProcess molt = molt(log, "-S", "-qmp", "tcp:127.0.0.1:" + port + ",server=on,wait=off")) {
            QmpClient q = null;
            long deadline = System.nanoTime() + T.toNanos();
            while (q == null) {
                try {
                    q = QmpClient.connect(new InetSocketAddress("127.0.0.1", port), StandardProtocolFamily.INET);
                } catch (java.io.IOException e) {
                    if (System.nanoTime() > deadline) throw e;
                    Thread.sleep(100);
                }
            }
            try (QmpClient c = q.negotiated()) {
                assertEquals(Map.of("status", "prelaunch", "running", false), c.returned("query-status"));
                Thread.sleep(1000);
                assertEquals(0, ticks(log), "nothing runs before cont");
                c.returned("cont");
                c.event("RESUME", T);
                GuestIT.waitFor(() -> ticks(log) > 10, T);
            }
        }
    }

    @ParameterizedTest(name = "accel {0}")
    @ValueSource(strings = {"kvm", "qtest"})
    void hostileClientsLeaveGuestAndOthersAlone(String accel, @TempDir Path dir) throws Exception {
        Path sock = dir.resolve("qmp.sock");
        Path log = dir.resolve("console.log");
        try (MoltProcess molt = molt(accel, log, "-qmp", "unix:" + sock + ",server=on,wait=off");
             QmpClient good = QmpClient.unix(sock, T).negotiated()) {
            if (accel.equals("kvm")) GuestIT.waitFor(() -> ticks(log) > 5, T);
            try (QmpClient bad = QmpClient.unix(sock, T).negotiated()) {
                // Malformed JSON, then a 10 MB line: each gets an error, and the session goes on.
                bad.sendRaw("{\"execute\": \"query-status\"\n");
                bad.sendRaw("}{ this is not json }\n");
                bad.sendRaw("{\"execute\": \"query-status\", \"id\": \"" + "x".repeat(10 << 20) + "\"}\n");
                bad.sendRaw("{\"execute\": \"query-status\", \"id\": \"sync\"}\n");
                int errors = 0;
                while (true) {
                    Map<String, Object> r = bad.reply(T);
                    if ("sync".equals(r.get("id"))) break;
                    if (r.containsKey("error")) {
                        errors++;
                        assertEquals("GenericError", ((Map<?, ?>) r.get("error")).get("class"), r.toString());
                    }
                }
                assertTrue(errors >= 2, "malformed JSON and the oversized line are errors");
                // A burst of commands is answered in order.
                StringBuilder burst = new StringBuilder();
                for (int i = 0; i < 2000; i++) burst.append("{\"execute\":\"query-status\",\"id\":").append(i).append("}\n");
                bad.sendRaw(burst.toString());
                for (int i = 0; i < 2000; i++) assertEquals((long) i, ((Number) bad.reply(T).get("id")).longValue());
                // Disconnect in the middle of a command.
                bad.sendRaw("{\"execute\": \"query-cpus-f");
            }
            assertEquals(Map.of("status", "running", "running", true), good.returned("query-status"));
            assertStillRuns(accel, log, good);
            try (QmpClient fresh = QmpClient.unix(sock, T).negotiated()) {
                assertEquals("running", fresh.returned("query-status").get("status"));
            }
            assertTrue(molt.alive());
        }
    }

    @ParameterizedTest(name = "accel {0}")
    @ValueSource(strings = {"kvm", "qtest"})
    void socatSpeaksQmpToMolt(String accel, @TempDir Path dir) throws Exception {
        // A QMP client molt's project did not write: socat with raw JSON lines.
        assertTrue(Files.isExecutable(Path.of("/usr/bin/socat")), "socat is installed by scripts/test.sh");
        Path sock = dir.resolve("qmp.sock");
        Path log = dir.resolve("console.log");
        try (MoltProcess molt = molt(accel, log, "-qmp", "unix:" + sock + ",server=on,wait=off")) {
            GuestIT.waitFor(() -> Files.exists(sock), T);
            Process socat = new ProcessBuilder("socat", "-t", "2", "-", "UNIX-CONNECT:" + sock).start();
            socat.getOutputStream().write(("{\"execute\":\"qmp_capabilities\"}\n{\"execute\":\"query-status\",\"id\":\"s1\"}\n"
                    + "{\"execute\":\"stop\"}\n").getBytes(StandardCharsets.US_ASCII));
            socat.getOutputStream().close();
            assertTrue(socat.waitFor(30, TimeUnit.SECONDS));
            String out = new String(socat.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(out.startsWith("{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, \"major\": 10}"), out);
            assertTrue(out.contains("{\"return\": {\"status\": \"running\", \"running\": true}, \"id\": \"s1\"}"), out);
            assertTrue(out.contains("\"event\": \"STOP\""), out);
        }
    }

    @ParameterizedTest(name = "accel {0}")
    @ValueSource(strings = {"kvm", "qtest"})
    void hmpOnASocketAndOnStdio(String accel, @TempDir Path dir) throws Exception {
        Path sock = dir.resolve("hmp.sock");
        Path log = dir.resolve("console.log");
        try (MoltProcess molt = molt(accel, log, "-monitor", "unix:" + sock + ",server=on,wait=off")) {
            GuestIT.waitFor(() -> Files.exists(sock), T);
            try (var c = java.nio.channels.SocketChannel.open(StandardProtocolFamily.UNIX)) {
                c.connect(java.net.UnixDomainSocketAddress.of(sock));
                var out = java.nio.channels.Channels.newOutputStream(c);
                StringBuilder seen = new StringBuilder();
                readUntil(c, seen, "(qemu) ");
                out.write("info status\n".getBytes(StandardCharsets.US_ASCII));
                readUntil(c, seen, "VM status: running");
                out.write("stop\n".getBytes(StandardCharsets.US_ASCII));
                out.write("info status\n".getBytes(StandardCharsets.US_ASCII));
                readUntil(c, seen, "VM status: paused");
                out.write("c\n".getBytes(StandardCharsets.US_ASCII));
                out.write("info status\n".getBytes(StandardCharsets.US_ASCII));
                readUntil(c, seen.delete(0, seen.length()), "VM status: running");
                out.write("nonsense\n".getBytes(StandardCharsets.US_ASCII));
                readUntil(c, seen, "unknown command: 'nonsense'");
            }
        }
        try (MoltProcess molt = molt(accel, log, "-monitor", "stdio")) {
            molt.awaitLine(l -> l.contains("monitor - type 'help' for more information"), T);
            molt.send("info status\n");
            molt.awaitLine(l -> l.contains("VM status: running"), T);
            molt.send("quit\n");
            assertEquals(0, molt.awaitExit(T));
        }
    }

    @Test
    @Tag("kvm")
    void nographicMultiplexesConsoleAndMonitor() {
        KvmHost.require();
        try (MoltProcess molt = MoltProcess.start("-m", "256M", "-kernel", Project.testGuest().toString(),
                "-append", "mem=16M", "-nographic")) {
            int ready = molt.awaitLine(l -> l.startsWith("READY"), T);
            molt.send("\u0001c");
            molt.awaitLine(ready, l -> l.contains("monitor - type 'help' for more information"), T);
            molt.send("info status\r");
            int status = molt.awaitLine(ready, l -> l.contains("VM status: running"), T);
            molt.send("stop\r");
            molt.send("info status\r");
            molt.awaitLine(status, l -> l.contains("VM status: paused"), T);
            molt.send("cont\r");
            molt.send("\u0001c");
            molt.send("to the guest\r");
            // Guest and monitor share stdout byte by byte, as with QEMU's mux: the prompt that follows cont
            // may land inside the guest's echo ("r(qemu) x to the guest", seen under load).
            molt.awaitLine(status, l -> l.replace("(qemu) ", "").endsWith("rx to the guest"), T);
        }
    }

    /** Reads from {@code c} until {@code needle} appears; a watchdog closes the channel at the deadline. */
    @ParameterizedTest(name = "accel {0}")
    @ValueSource(strings = {"kvm", "qtest"})
    void qmpOnStdioAndQueryMemdev(String accel, @TempDir Path dir) throws Exception {
        Path log = dir.resolve("console.log");
        try (MoltProcess molt = molt(accel, log, "-object", "memory-backend-memfd,id=ram0,size=256M,share=on",
                "-machine", "memory-backend=ram0", "-qmp", "stdio")) {
            molt.awaitLine(l -> l.startsWith("{\"QMP\""), T);
            molt.send("{\"execute\":\"qmp_capabilities\"}\n{\"execute\":\"query-memdev\",\"id\":7}\n");
            int i = molt.awaitLine(l -> l.contains("\"id\": 7"), T);
            String memdev = molt.lines().get(i);
            assertTrue(memdev.contains("\"id\": \"ram0\"") && memdev.contains("\"size\": 268435456")
                    && memdev.contains("\"share\": true"), memdev);
            molt.send("{\"execute\":\"quit\"}\n");
            assertEquals(0, molt.awaitExit(T));
        }
    }

    @ParameterizedTest(name = "accel {0}")
    @ValueSource(strings = {"kvm", "qtest"})
    void aMonitorPathThatIsNotASocketIsAnError(String accel, @TempDir Path dir) throws Exception {
        Path notSocket = dir.resolve("qmp.sock");
        Files.writeString(notSocket, "precious data");
        try (MoltProcess molt = molt(accel, dir.resolve("console.log"), "-qmp", "unix:" + notSocket + ",server=on,wait=off")) {
            assertEquals(1, molt.awaitExit(T));
            ErrorsIT.assertOneLineError(molt.stderr(), "exists and is not a socket");
        }
        assertEquals("precious data", Files.readString(notSocket));
        // A stale socket (left by a killed process) is replaced.
        try (var stale = java.nio.channels.ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            Files.delete(notSocket);
            stale.bind(java.net.UnixDomainSocketAddress.of(notSocket));
        }
        try (MoltProcess molt = molt(accel, dir.resolve("console.log"), "-qmp", "unix:" + notSocket + ",server=on,wait=off");
             QmpClient q = QmpClient.unix(notSocket, T).negotiated()) {
            assertEquals("running", q.returned("query-status").get("status"));
        }
    }

    private static void readUntil(java.nio.channels.SocketChannel c, StringBuilder seen, String needle) throws java.io.IOException {
        Thread watchdog = Thread.ofPlatform().daemon(true).start(() -> {
            try {
                Thread.sleep(T.toMillis());
                c.close();
            } catch (InterruptedException | java.io.IOException e) {
                // Done in time.
            }
        });
        try {
            java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(4096);
            while (!seen.toString().contains(needle)) {
                b.clear();
                int n;
                try {
                    n = c.read(b);
                } catch (java.io.IOException e) {
                    throw new AssertionError("no '" + needle + "' within " + T + " in: " + seen);
                }
                if (n < 0) throw new AssertionError("closed before '" + needle + "': " + seen);
                seen.append(new String(b.array(), 0, n, StandardCharsets.ISO_8859_1));
            }
        } finally {
            watchdog.interrupt();
        }
    }
}
