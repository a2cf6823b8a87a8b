package dev.molt.it;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Live migration between two molt processes running the test guest under real KVM. */
@Tag("kvm")
class MigrationIT {
    private static final Duration T = Duration.ofSeconds(90);

    @BeforeEach
    void host() {
        KvmHost.require();
    }

    /** One molt with a QMP socket and the guest console in a file. */
    record Vm(MoltProcess process, Path qmpSocket, Path console) implements AutoCloseable {
        static Vm start(Path dir, String name, int cpus, String guestArgs, String... extra) {
            Path qmp = dir.resolve(name + ".qmp");
            Path console = dir.resolve(name + ".log");
            List<String> args = new ArrayList<>(List.of("-smp", String.valueOf(cpus), "-m", "256M", "-kernel",
                    Project.testGuest().toString(), "-append", guestArgs, "-serial", "file:" + console, "-display", "none",
                    "-qmp", "unix:" + qmp + ",server=on,wait=off"));
            args.addAll(List.of(extra));
            return new Vm(MoltProcess.start(args.toArray(String[]::new)), qmp, console);
        }

        QmpClient qmp() throws Exception {
            return QmpClient.unix(qmpSocket, T).negotiated();
        }

        List<Tick> ticks() throws Exception {
            if (!Files.exists(console)) return List.of();
            return Tick.all(Files.readAllLines(console, StandardCharsets.ISO_8859_1).stream().map(l -> l.replace("\r", "")).toList());
        }

        /** Last tick per vCPU. */
        Map<Integer, Tick> last() throws Exception {
            Map<Integer, Tick> m = new HashMap<>();
            for (Tick t : ticks()) m.put(t.cpu(), t);
            return m;
        }

        Map<Integer, Tick> first() throws Exception {
            Map<Integer, Tick> m = new HashMap<>();
            for (Tick t : ticks()) m.putIfAbsent(t.cpu(), t);
            return m;
        }

        void awaitTicks(int cpus, long atLeast) throws Exception {
            GuestIT.waitFor(() -> {
                Map<Integer, Tick> l = last();
                return l.size() == cpus && l.values().stream().allMatch(t -> t.n() >= atLeast);
            }, T);
        }

        @Override
        public void close() {
            process.close();
        }
    }

    static Map<String, Object> awaitStatus(QmpClient q, String... wanted) throws Exception {
        long deadline = System.nanoTime() + T.toNanos();
        while (true) {
            Map<String, Object> m = q.returned("query-migrate");
            for (String w : wanted) if (w.equals(m.get("status"))) return m;
            if (System.nanoTime() > deadline) throw new AssertionError("migration status " + m);
            Thread.sleep(100);
        }
    }

    /** The destination continues the source's guest: next tick numbers, later guest time, intact memory. */
    static void assertContinues(Vm src, Vm dst, int cpus) throws Exception {
        dst.awaitTicks(cpus, 1);
        Map<Integer, Tick> before = src.last();
        long extra = 30;
        GuestIT.waitFor(() -> dst.last().size() == cpus && dst.last().values().stream().allMatch(
                t -> t.n() > before.get(t.cpu()).n() + extra), T);
        Map<Integer, Tick> after = dst.first();
        for (int c = 0; c < cpus; c++) {
            Tick s = before.get(c), d = after.get(c);
            assertTrue(d.n() == s.n() + 1 || d.n() == s.n() + 2, "vCPU " + c + " continues: source " + s + ", destination " + d);
            assertTrue(d.guestNs() > s.guestNs(), "guest time does not go back on vCPU " + c + ": " + s + " -> " + d);
            assertTrue(d.guestNs() - s.guestNs() < 5_000_000_000L, "no long stall in guest time: " + s + " -> " + d);
        }
        assertTrue(src.ticks().stream().allMatch(Tick::ok) && dst.ticks().stream().allMatch(Tick::ok), "memory integrity ok");
    }

    static int freePort() throws Exception {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    @ParameterizedTest(name = "{0}, {1} vCPU(s), guest args {2}")
    // dirty=: pages rewritten all through the migration, each checked against the generation the guest
    // counted (guest/README.md); slice=: every share verified at least twice in assertContinues' 30 ticks.
    @CsvSource({"unix, 1, mem=64M", "unix, 2, mem=64M dirty=256 slice=4M", "tcp, 2, mem=64M", "tcp, 1, mem=128M dirty=64 slice=8M"})
    void liveMigrationOverSockets(String transport, int cpus, String guestArgs, @TempDir Path dir) throws Exception {
        String uri = transport.equals("unix") ? "unix:" + dir.resolve("mig.sock") : "tcp:127.0.0.1:" + freePort();
        try (Vm src = Vm.start(dir, "src", cpus, guestArgs); Vm dst = Vm.start(dir, "dst", cpus, guestArgs, "-incoming", uri);
             QmpClient s = src.qmp(); QmpClient d = dst.qmp()) {
            assertEquals("inmigrate", d.returned("query-status").get("status"));
            src.awaitTicks(cpus, 20);
            s.execute("migrate-set-capabilities", Map.of("capabilities", List.of(Map.of("capability", "events", "state", true))));
            s.execute("migrate-set-parameters", Map.of("max-bandwidth", 0L));
            assertTrue(s.execute("migrate", Map.of("uri", uri)).containsKey("return"));
            s.event("MIGRATION", T);
            Map<String, Object> done = awaitStatus(s, "completed", "failed");
            assertEquals("completed", done.get("status"), done.toString());
            for (String k : List.of("total-time", "downtime", "setup-time", "ram")) assertTrue(done.containsKey(k), k + " in " + done);
            assertEquals("postmigrate", s.returned("query-status").get("status"));
            assertContinues(src, dst, cpus);
            assertEquals("running", d.returned("query-status").get("status"));
            assertEquals("completed", d.returned("query-migrate").get("status"));
        }
    }

    @Test
    void migrationThroughAFileAndThroughExec(@TempDir Path dir) throws Exception {
        Path state = dir.resolve("vm.state");
        try (Vm src = Vm.start(dir, "src", 2, "mem=32M"); QmpClient s = src.qmp()) {
            src.awaitTicks(2, 20);
            s.execute("migrate", Map.of("uri", "file:" + state));
            assertEquals("completed", awaitStatus(s, "completed", "failed").get("status"));
            try (Vm dst = Vm.start(dir, "dst", 2, "mem=32M", "-incoming", "file:" + state)) {
                assertContinues(src, dst, 2);
            }
        }
        Path piped = dir.resolve("piped.state");
        try (Vm src = Vm.start(dir, "src2", 1, "mem=32M"); QmpClient s = src.qmp()) {
            src.awaitTicks(1, 20);
            s.execute("migrate", Map.of("uri", "exec:cat > " + piped));
            assertEquals("completed", awaitStatus(s, "completed", "failed").get("status"));
            try (Vm dst = Vm.start(dir, "dst2", 1, "mem=32M", "-incoming", "exec:cat " + piped)) {
                assertContinues(src, dst, 1);
            }
        }
    }

    @Test
    void xIgnoreSharedSendsNoPagesOfASharedFile(@TempDir Path dir) throws Exception {
        // Both molts map the same shared file as guest RAM: with x-ignore-shared no page is sent.
        Path ramFile = Path.of("/dev/shm").resolve("molt-it-" + ProcessHandle.current().pid() + "-" + System.nanoTime());
        String[] ram = {"-object", "memory-backend-file,id=m0,size=256M,mem-path=" + ramFile + ",share=on", "-machine", "memory-backend=m0"};
        String uri = "unix:" + dir.resolve("mig.sock");
        Map<String, Object> cap = Map.of("capabilities", List.of(Map.of("capability", "x-ignore-shared", "state", true)));
        try (Vm src = Vm.start(dir, "src", 2, "mem=64M", ram); QmpClient s = src.qmp()) {
            List<String> dstArgs = new ArrayList<>(List.of(ram));
            dstArgs.addAll(List.of("-incoming", "defer"));
            try (Vm dst = Vm.start(dir, "dst", 2, "mem=64M", dstArgs.toArray(String[]::new)); QmpClient d = dst.qmp()) {
                src.awaitTicks(2, 20);
                assertTrue(s.execute("migrate-set-capabilities", cap).containsKey("return"));
                assertTrue(d.execute("migrate-set-capabilities", cap).containsKey("return"));
                d.execute("migrate-incoming", Map.of("uri", uri));
                s.execute("migrate", Map.of("uri", uri));
                Map<String, Object> done = awaitStatus(s, "completed", "failed");
                assertEquals("completed", done.get("status"), done.toString());
                assertEquals(0L, ((Number) ((Map<?, ?>) done.get("ram")).get("normal")).longValue(), "no page sent: " + done);
                assertContinues(src, dst, 2);
            }
        } finally {
            Files.deleteIfExists(ramFile);
        }
    }

    @Test
    void migrationToAnFdPassedWithGetfd(@TempDir Path dir) throws Exception {
        // The client passes an open file with SCM_RIGHTS (python3's socket.send_fds, not molt's code),
        // names it with getfd and migrates to fd:NAME.
        Path state = dir.resolve("fd.state");
        try (Vm src = Vm.start(dir, "src", 1, "mem=32M")) {
            src.awaitTicks(1, 20);
            String client = """
                    import json, os, socket, sys, time
                    s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); f = s.makefile("rw")
                    f.readline()
                    def cmd(m):
                        f.write(json.dumps(m) + "\\n"); f.flush()
                        while True:
                            r = json.loads(f.readline())
                            if "return" in r or "error" in r: return r
                    cmd({"execute": "qmp_capabilities"})
                    fd = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                    socket.send_fds(s, [json.dumps({"execute": "getfd", "arguments": {"fdname": "mig"}}).encode() + b"\\n"], [fd])
                    os.close(fd)
                    while True:
                        r = json.loads(f.readline())
                        if "return" in r or "error" in r: break
                    print("getfd", json.dumps(r))
                    print("migrate", json.dumps(cmd({"execute": "migrate", "arguments": {"uri": "fd:mig"}})))
                    for _ in range(600):
                        m = cmd({"execute": "query-migrate"})["return"]
                        if m.get("status") in ("completed", "failed"): break
                        time.sleep(0.05)
                    print("status", m.get("status"), m.get("error-desc", ""))
                    """;
            Process p = new ProcessBuilder("python3", "-c", client, src.qmpSocket().toString(), state.toString())
                    .redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertEquals(0, p.waitFor(), out);
            assertTrue(out.contains("getfd {\"return\": {}}"), out);
            assertTrue(out.contains("status completed"), out);
            try (Vm dst = Vm.start(dir, "dst", 1, "mem=32M", "-incoming", "file:" + state)) {
                assertContinues(src, dst, 1);
            }
        }
    }

    @Test
    void autoConvergeThrottlesAGuestThatDirtiesTooFast(@TempDir Path dir) throws Exception {
        // 2 vCPUs rewriting 512 pages every 10 ms (~400 MB/s) against a 16 MiB/s link cannot converge.
        String uri = "unix:" + dir.resolve("mig.sock");
        try (Vm src = Vm.start(dir, "src", 2, "mem=32M dirty=512"); Vm dst = Vm.start(dir, "dst", 2, "mem=32M dirty=512", "-incoming", uri);
             QmpClient s = src.qmp()) {
            src.awaitTicks(2, 10);
            dst.qmp().close();
            s.execute("migrate-set-capabilities", Map.of("capabilities", List.of(Map.of("capability", "auto-converge", "state", true))));
            s.execute("migrate-set-parameters", Map.of("max-bandwidth", 16L << 20));
            s.execute("migrate", Map.of("uri", uri));
            long deadline = System.nanoTime() + T.toNanos();
            long throttle = 0;
            while (throttle < 20) {
                Map<String, Object> m = s.returned("query-migrate");
                assertTrue(List.of("setup", "active").contains(m.get("status")), "still migrating: " + m);
                throttle = m.get("cpu-throttle-percentage") instanceof Number n ? n.longValue() : 0;
                if (System.nanoTime() > deadline) throw new AssertionError("no throttling: " + m);
                Thread.sleep(100);
            }
            s.execute("migrate_cancel");
            assertEquals("cancelled", awaitStatus(s, "cancelled", "failed").get("status"));
            long n = src.last().get(0).n();
            src.awaitTicks(2, n + 20);
            assertTrue(src.ticks().stream().allMatch(Tick::ok));
        }
    }

    @Test
    void deferredIncoming(@TempDir Path dir) throws Exception {
        String uri = "unix:" + dir.resolve("mig.sock");
        try (Vm src = Vm.start(dir, "src", 1, "mem=32M"); Vm dst = Vm.start(dir, "dst", 1, "mem=32M", "-incoming", "defer");
             QmpClient s = src.qmp(); QmpClient d = dst.qmp()) {
            src.awaitTicks(1, 20);
            assertEquals("inmigrate", d.returned("query-status").get("status"));
            assertTrue(d.execute("migrate-incoming", Map.of("uri", uri)).containsKey("return"));
            s.execute("migrate", Map.of("uri", uri));
            assertEquals("completed", awaitStatus(s, "completed", "failed").get("status"));
            assertContinues(src, dst, 1);
        }
    }

    @Test
    void cancelAndDeadDestinationLeaveTheSourceRunning(@TempDir Path dir) throws Exception {
        String uri = "unix:" + dir.resolve("mig.sock");
        try (Vm src = Vm.start(dir, "src", 2, "mem=128M"); QmpClient s = src.qmp()) {
            src.awaitTicks(2, 10);
            // Slow enough to be caught in the middle: 256 MiB at 16 MiB/s.
            s.execute("migrate-set-parameters", Map.of("max-bandwidth", 16L << 20));
            try (Vm dst = Vm.start(dir, "dst", 2, "mem=128M", "-incoming", uri)) {
                dst.qmp().close(); // the destination is up and listening
                s.execute("migrate", Map.of("uri", uri));
                awaitStatus(s, "active");
                assertTrue(s.execute("migrate_cancel").containsKey("return"));
                assertEquals("cancelled", awaitStatus(s, "cancelled", "failed", "completed").get("status"));
                assertNotEquals(0, dst.process().awaitExit(T), "the destination fails the load and exits");
            }
            assertEquals("running", s.returned("query-status").get("status"));
            long n = src.last().get(0).n();
            src.awaitTicks(2, n + 20);

            try (Vm dst = Vm.start(dir, "dst2", 2, "mem=128M", "-incoming", uri)) {
                dst.qmp().close(); // the destination is up and listening
                s.execute("migrate", Map.of("uri", uri));
                awaitStatus(s, "active");
                dst.process().close(); // killed mid-way
                Map<String, Object> failed = awaitStatus(s, "failed", "completed");
                assertEquals("failed", failed.get("status"));
                assertTrue(failed.containsKey("error-desc"), failed.toString());
            }
            assertEquals("running", s.returned("query-status").get("status"));
            long m = src.last().get(1).n();
            src.awaitTicks(2, m + 20);
            assertTrue(src.ticks().stream().allMatch(Tick::ok));
        }
    }

    @Test
    void hostileStreamsAreRefused(@TempDir Path dir) throws Exception {
        // A valid stream to mutate.
        Path good = dir.resolve("good.state");
        try (Vm src = Vm.start(dir, "src", 1, "mem=16M"); QmpClient s = src.qmp()) {
            src.awaitTicks(1, 5);
            s.execute("migrate", Map.of("uri", "file:" + good));
            assertEquals("completed", awaitStatus(s, "completed", "failed").get("status"));
        }
        byte[] bytes = Files.readAllBytes(good);
        Random random = new Random(42);
        List<byte[]> hostile = new ArrayList<>();
        byte[] noise = new byte[1 << 16];
        random.nextBytes(noise);
        hostile.add(noise);
        hostile.add(java.util.Arrays.copyOf(bytes, bytes.length / 2));           // truncated
        byte[] flipped = bytes.clone();
        flipped[bytes.length - 100] ^= 0x55;                                   // corrupt near the end (device state)
        hostile.add(flipped);
        byte[] header = bytes.clone();
        header[9] = 99;                                                         // a format version from the future
        hostile.add(header);
        for (int i = 0; i < hostile.size(); i++) {
            Path f = dir.resolve("hostile" + i + ".state");
            Files.write(f, hostile.get(i));
            try (Vm dst = Vm.start(dir, "dst" + i, 1, "mem=16M", "-incoming", "file:" + f)) {
                assertEquals(1, dst.process().awaitExit(T), "stream " + i + " is refused");
                String err = dst.process().stderr();
                assertTrue(err.contains("molt: load of migration failed:"), err);
                assertTrue(!err.contains("Exception") && !err.contains("\tat "), "no crash: " + err);
            }
        }
    }
}
