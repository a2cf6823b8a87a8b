package dev.molt.it;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * cpr-transfer between two molt processes on real KVM: the new molt, started first, receives the
 * guest RAM memfds over the cpr channel and the device state over the main channel; the guest's
 * ticks carry on in the one console log both processes append to.
 */
@Tag("kvm")
class CprTransferIT {
    private static final Duration T = Duration.ofSeconds(90);

    @BeforeEach
    void host() {
        KvmHost.require();
    }

    /** A guest whose console is appended to dir/console.log, with its QMP socket at dir/{qmp}. */
    private static List<String> vmArgs(Path dir, String qmp, int cpus, String ram, String... extra) {
        List<String> a = new ArrayList<>(List.of("-machine", "microvm,aux-ram-share=on", "-m", ram, "-smp", String.valueOf(cpus),
                "-kernel", Project.testGuest().toString(), "-append", "mem=64M",
                "-chardev", "file,id=con,path=" + dir.resolve("console.log") + ",append=on", "-serial", "chardev:con",
                "-display", "none", "-qmp", "unix:" + dir.resolve(qmp) + ",server=on,wait=off"));
        a.addAll(List.of(extra));
        return a;
    }

    private static String[] target(Path dir, int cpus, String ram, String main, String cpr) {
        return vmArgs(dir, "new.qmp", cpus, ram, "-incoming", main, "-incoming", cpr).toArray(String[]::new);
    }

    /** The new molt's cpr channel on dir/cpr.sock, in -incoming's dotted-key form. */
    static String unixCpr(Path dir) {
        return "cpr,addr.transport=socket,addr.type=unix,addr.path=" + dir.resolve("cpr.sock");
    }

    /** migrate's channels for a cpr-transfer to dir/main.sock and dir/cpr.sock. */
    static List<Map<String, Object>> channels(Path dir) {
        return List.of(
                Map.of("channel-type", "main", "addr", Map.of("transport", "socket", "type", "unix", "path", dir.resolve("main.sock").toString())),
                Map.of("channel-type", "cpr", "addr", Map.of("transport", "socket", "type", "unix", "path", dir.resolve("cpr.sock").toString())));
    }

    private static Map<String, Object> migrate(Path dir, String qmp, Map<String, Object> args) throws Exception {
        try (QmpClient q = QmpClient.unix(dir.resolve(qmp), T).negotiated()) {
            assertTrue(q.execute("migrate-set-parameters", Map.of("mode", "cpr-transfer")).containsKey("return"));
            return q.execute("migrate", args);
        }
    }

    private static void awaitSocket(Path p, MoltProcess molt) throws Exception {
        GuestIT.waitFor(() -> Files.exists(p) || !molt.alive(), T);
        assertTrue(molt.alive(), "the new molt died: " + molt.stderr());
    }

    /** Polls until query-migrate's status is {@code migration} (null: any) and query-status's is {@code run}. */
    private static Map<String, Object> awaitStatus(Path dir, String qmp, String migration, String run) throws Exception {
        long deadline = System.nanoTime() + T.toNanos();
        Map<String, Object> last = Map.of();
        while (System.nanoTime() < deadline) {
            try (QmpClient q = QmpClient.unix(dir.resolve(qmp), Duration.ofSeconds(5)).negotiated()) {
                last = q.returned("query-migrate");
                String status = (String) q.returned("query-status").get("status");
                if ((migration == null || migration.equals(last.get("status"))) && run.equals(status)) return last;
                last = Map.of("migrate", last, "status", status);
            } catch (Exception | AssertionError e) {
                // Not serving yet (the new molt's monitor starts after the guest resumes).
            }
            Thread.sleep(100);
        }
        throw new AssertionError(qmp + ": expected " + migration + "/" + run + ", last " + last);
    }

    private static long ticksNow(Path dir, int cpu) throws Exception {
        return CprExecIT.ticks(dir).stream().filter(t -> t.cpu() == cpu).mapToLong(Tick::n).max().orElse(-1);
    }

    @ParameterizedTest(name = "{0} vCPU(s), {1}")
    @CsvSource({"1, 1G", "2, 2G"})
    void transferMovesTheGuestToTheNewMolt(int cpus, String ram, @TempDir Path dir) throws Exception {
        try (MoltProcess old = MoltProcess.start(vmArgs(dir, "old.qmp", cpus, ram).toArray(String[]::new));
             MoltProcess neu = MoltProcess.start(target(dir, cpus, ram, "unix:" + dir.resolve("main.sock"), unixCpr(dir)))) {
            CprExecIT.awaitMoreTicks(dir, cpus, 20);
            awaitSocket(dir.resolve("cpr.sock"), neu);
            Map<String, Object> r = migrate(dir, "old.qmp", Map.of("channels", channels(dir)));
            assertTrue(r.containsKey("return"), r.toString());
            awaitStatus(dir, "new.qmp", "completed", "running");
            Map<String, Object> done = awaitStatus(dir, "old.qmp", "completed", "postmigrate");
            long downtime = ((Number) done.get("downtime")).longValue();
            assertTrue(downtime >= 0 && downtime < 10_000, done.toString());
            CprExecIT.awaitMoreTicks(dir, cpus, 30);
            CprExecIT.assertConsecutive(dir);
            assertTrue(old.alive() && neu.alive());
            // RAM went by fd, never through the stream: the new process maps the old one's memfd.
            assertTrue(CprExecIT.fds(neu.pid()).values().stream().anyMatch(f -> f.startsWith("/memfd:microvm.ram")));
            System.out.printf("[CprTransferIT] %s: %d vCPU(s), %s: old pid %d -> new pid %d, pause %d ms, ticks ok%n",
                    KvmHost.FLAVOUR, cpus, ram, old.pid(), neu.pid(), downtime);
        }
    }

    @Test
    void deferredTargetWithJsonChannelWaitsForMigrateIncoming(@TempDir Path dir) throws Exception {
        String cpr = "{\"channel-type\":\"cpr\",\"addr\":{\"transport\":\"socket\",\"type\":\"unix\",\"path\":\"" + dir.resolve("cpr.sock") + "\"}}";
        try (MoltProcess old = MoltProcess.start(vmArgs(dir, "old.qmp", 1, "512M").toArray(String[]::new));
             MoltProcess neu = MoltProcess.start(target(dir, 1, "512M", "defer", cpr))) {
            CprExecIT.awaitMoreTicks(dir, 1, 10);
            awaitSocket(dir.resolve("cpr.sock"), neu);
            assertTrue(migrate(dir, "old.qmp", Map.of("channels", channels(dir))).containsKey("return"));
            // The old molt waits for the new one to listen on the main channel: the guest keeps running.
            awaitStatus(dir, "new.qmp", null, "inmigrate");
            long before = ticksNow(dir, 0);
            CprExecIT.awaitMoreTicks(dir, 1, 5);
            assertTrue(ticksNow(dir, 0) > before);
            try (QmpClient q = QmpClient.unix(dir.resolve("old.qmp"), T).negotiated()) {
                assertEquals("setup", q.returned("query-migrate").get("status"));
                assertEquals("running", q.returned("query-status").get("status"));
            }
            try (QmpClient q = QmpClient.unix(dir.resolve("new.qmp"), T).negotiated()) {
                Map<String, Object> r = q.execute("migrate-incoming", Map.of("uri", "unix:" + dir.resolve("main.sock")));
                assertTrue(r.containsKey("return"), r.toString());
            }
            awaitStatus(dir, "new.qmp", "completed", "running");
            awaitStatus(dir, "old.qmp", "completed", "postmigrate");
            CprExecIT.awaitMoreTicks(dir, 1, 20);
            CprExecIT.assertConsecutive(dir);
        }
    }

    @Test
    void targetTakesAPrecreatedListeningSocketByFd(@TempDir Path dir) throws Exception {
        // As QEMU's test: the cpr socket is created and listened on before molt starts, and inherited.
        String script = "import os,socket,sys\n"
                + "s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(4); os.set_inheritable(s.fileno(), True)\n"
                + "args=[a.replace('@FD@', str(s.fileno())) for a in sys.argv[2:]]\n"
                + "os.execv(args[0], args)\n";
        List<String> prefix = List.of("python3", "-c", script, dir.resolve("cpr.sock").toString());
        try (MoltProcess old = MoltProcess.start(vmArgs(dir, "old.qmp", 1, "512M").toArray(String[]::new));
             MoltProcess neu = MoltProcess.start(prefix, target(dir, 1, "512M", "unix:" + dir.resolve("main.sock"),
                     "cpr,addr.transport=socket,addr.type=fd,addr.str=@FD@"))) {
            CprExecIT.awaitMoreTicks(dir, 1, 10);
            awaitSocket(dir.resolve("cpr.sock"), neu);
            assertTrue(migrate(dir, "old.qmp", Map.of("channels", channels(dir))).containsKey("return"));
            awaitStatus(dir, "new.qmp", "completed", "running");
            awaitStatus(dir, "old.qmp", "completed", "postmigrate");
            CprExecIT.awaitMoreTicks(dir, 1, 20);
            CprExecIT.assertConsecutive(dir);
        }
    }

    @Test
    void refusedTransfersLeaveTheGuestRunning(@TempDir Path dir) throws Exception {
        Map<String, Object> main = Map.of("channel-type", "main", "addr", Map.of("transport", "socket", "type", "unix", "path", dir.resolve("main.sock").toString()));
        Map<String, Object> tcpCpr = Map.of("channel-type", "cpr", "addr", Map.of("transport", "socket", "type", "inet", "host", "127.0.0.1", "port", "4444"));
        Map<String, Object> unixCpr = channels(dir).get(1);
        Map<String, Object> fileMain = Map.of("channel-type", "main", "addr", Map.of("transport", "file", "filename", dir.resolve("f").toString(), "offset", 0));
        record Case(Map<String, Object> args, String error) {}
        List<Case> cases = List.of(
                new Case(Map.of("uri", "unix:" + dir.resolve("main.sock")), "missing 'cpr' migration channel"),
                new Case(Map.of("channels", List.of(main)), "missing 'cpr' migration channel"),
                new Case(Map.of("channels", List.of(main, tcpCpr)), "bad cpr channel address; must be unix"),
                new Case(Map.of("channels", List.of(fileMain, unixCpr)), "Migration requires streamable transport (eg unix)"),
                new Case(Map.of("channels", List.of(Map.of("channel-type", "main", "addr", Map.of("transport", "exec", "args", List.of("cat"))), unixCpr)),
                        "needs a main channel that goes both ways"),
                // Nobody listens on the cpr socket: the connect fails before anything stops.
                new Case(Map.of("channels", channels(dir)), "Failed to connect"));
        try (MoltProcess old = MoltProcess.start(vmArgs(dir, "old.qmp", 1, "256M").toArray(String[]::new))) {
            CprExecIT.awaitMoreTicks(dir, 1, 10);
            for (Case c : cases) {
                Map<String, Object> r = migrate(dir, "old.qmp", c.args());
                assertTrue(String.valueOf(r.get("error")).contains(c.error()), c + " -> " + r);
                try (QmpClient q = QmpClient.unix(dir.resolve("old.qmp"), T).negotiated()) {
                    assertEquals("running", q.returned("query-status").get("status"));
                }
            }
            CprExecIT.awaitMoreTicks(dir, 1, 10);
        }
        // Guest RAM that cannot be handed over by fd is refused before anything happens.
        Path dir2 = Files.createDirectories(dir.resolve("plain"));
        List<String> plain = new ArrayList<>(vmArgs(dir2, "old.qmp", 1, "256M"));
        plain.set(1, "microvm");
        try (MoltProcess old = MoltProcess.start(plain.toArray(String[]::new))) {
            CprExecIT.awaitMoreTicks(dir2, 1, 5);
            Map<String, Object> r = migrate(dir2, "old.qmp", Map.of("channels", channels(dir2)));
            assertTrue(String.valueOf(r.get("error")).contains("is not compatible with CPR"), r.toString());
        }
    }

    @Test
    void targetRefusesANonUnixCprChannel(@TempDir Path dir) throws Exception {
        try (MoltProcess neu = MoltProcess.start(target(dir, 1, "256M", "unix:" + dir.resolve("main.sock"),
                "cpr,addr.transport=socket,addr.type=inet,addr.host=127.0.0.1,addr.port=4444"))) {
            assertEquals(1, neu.awaitExit(T));
            assertTrue(neu.stderr().contains("bad cpr channel socket type; must be unix"), neu.stderr());
        }
    }

    /** The new molt fails after taking the fds; the old molt never let go and the guest runs on there. */
    @ParameterizedTest(name = "new molt with {0}")
    @CsvSource({"'-m 512M', 1, 512M, before the guest stops", "'-smp 2', 2, 256M, after the guest stopped"})
    void aFailingNewMoltLeavesTheGuestWithTheOldOne(String what, int cpus, String ram, String when, @TempDir Path dir) throws Exception {
        try (MoltProcess old = MoltProcess.start(vmArgs(dir, "old.qmp", 1, "256M").toArray(String[]::new));
             MoltProcess neu = MoltProcess.start(target(dir, cpus, ram, "unix:" + dir.resolve("main.sock"), unixCpr(dir)))) {
            CprExecIT.awaitMoreTicks(dir, 1, 10);
            awaitSocket(dir.resolve("cpr.sock"), neu);
            assertTrue(migrate(dir, "old.qmp", Map.of("channels", channels(dir))).containsKey("return"));
            assertEquals(1, neu.awaitExit(T), neu.stderr());
            assertTrue(neu.stderr().contains("the guest runs on in the old molt"), neu.stderr());
            Map<String, Object> m = awaitStatus(dir, "old.qmp", "failed", "running");
            CprExecIT.awaitMoreTicks(dir, 1, 20);
            CprExecIT.assertConsecutive(dir);
            System.out.printf("[CprTransferIT] %s: new molt with %s fails %s: old molt runs the guest on (%s)%n",
                    KvmHost.FLAVOUR, what, when, m.get("error-desc"));
        }
    }

    /** migrate_cancel while the old molt waits for the new one to listen: nothing stopped, nothing lost. */
    @Test
    void cancelWhileWaitingForTheNewMolt(@TempDir Path dir) throws Exception {
        try (MoltProcess old = MoltProcess.start(vmArgs(dir, "old.qmp", 1, "256M").toArray(String[]::new));
             MoltProcess neu = MoltProcess.start(target(dir, 1, "256M", "defer", unixCpr(dir)))) {
            CprExecIT.awaitMoreTicks(dir, 1, 10);
            awaitSocket(dir.resolve("cpr.sock"), neu);
            assertTrue(migrate(dir, "old.qmp", Map.of("channels", channels(dir))).containsKey("return"));
            try (QmpClient q = QmpClient.unix(dir.resolve("old.qmp"), T).negotiated()) {
                assertTrue(q.execute("migrate_cancel", Map.of()).containsKey("return"));
            }
            awaitStatus(dir, "old.qmp", "cancelled", "running");
            CprExecIT.awaitMoreTicks(dir, 1, 10);
            CprExecIT.assertConsecutive(dir);
        }
    }
}
