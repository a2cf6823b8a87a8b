package dev.molt.it;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import static dev.molt.it.CprExecIT.awaitCompleted;
import static dev.molt.it.CprExecIT.update;
import static dev.molt.it.QtestVm.T;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Live updates between releases, as users make them: a guest running under a molt built at a
 * previous release's tag is updated to today's molt, and today's back to that release, by cpr-exec,
 * cpr-transfer and live migration, under -accel qtest with RAM checked byte for byte. The releases
 * are the tags of landings that changed a state description (see docs/migration-format.md); each is
 * built once by scripts/build-release.sh.
 */
@Tag("qtest")
class CrossReleaseIT {
    private static final long BASE = 1L << 20;
    private static final int LEN = 8 << 20;
    private static final Map<String, Path> BUILT = new ConcurrentHashMap<>();

    /** The launcher of molt as built at {@code tag}. */
    static Path release(String tag) throws Exception {
        Path known = BUILT.get(tag);
        if (known != null) return known;
        Process p = new ProcessBuilder(Project.root().resolve("scripts/build-release.sh").toString(), tag)
                .redirectError(ProcessBuilder.Redirect.PIPE).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        int rc = p.waitFor();
        Assumptions.assumeTrue(rc != 2, "no previous release to update from: " + err);
        assertEquals(0, rc, "building " + tag + ": " + err);
        Path launcher = Path.of(out);
        BUILT.put(tag, launcher);
        return launcher;
    }

    /**
     * Whether the release loads the CPR state today's molt writes (version 3 since v0.5.0). Older ones
     * refuse it: a cpr-transfer to them is refused before the guest stops; a cpr-exec to them stops
     * the guest, and the keeper brings it back under today's molt (they cannot say what they load
     * before they run: see the note in docs/live-update.md).
     */
    private static boolean readsTodaysCprState(String tag) {
        return !tag.equals("v0.4.0");
    }

    private static List<String> command(Path launcher, List<String> args, Path state) {
        List<String> cmd = new ArrayList<>(List.of(launcher.toString()));
        cmd.addAll(args);
        cmd.addAll(List.of("-incoming", "file:" + state));
        return cmd;
    }

    /** Which build a process runs: its command line names the jar. */
    private static boolean runs(long pid, Path launcher) {
        return Procs.cmdline(pid).contains(launcher.getParent().resolve("../target/molt.jar").toString());
    }

    private static long pidIn(Path pidfile) throws Exception {
        return Long.parseLong(Files.readString(pidfile).trim());
    }

    @ParameterizedTest(name = "cpr-exec: {0} to today's molt and back")
    @ValueSource(strings = {"v0.5.1", "v0.4.0"})
    void cprExecToTodayAndBack(String tag, @TempDir Path dir) throws Exception {
        Path old = release(tag), today = Project.launcher();
        Path pidfile = dir.resolve("molt.pid");
        List<String> args = QtestVm.args(dir, "128M", "-pidfile", pidfile.toString());
        Path state = dir.resolve("vm.state");
        long last = -1;
        try (QtestVm vm = QtestVm.start(dir, List.of(), old, args)) {
            vm.writePattern(21, BASE, LEN);
            long pid = vm.process.pid();
            assertTrue(update(dir, command(today, args, state), "file:" + state).containsKey("return"));
            awaitCompleted(dir);
            vm.reconnect();
            assertEquals(pid, vm.process.pid());
            assertTrue(runs(pid, today), Procs.cmdline(pid));
            assertEquals(-1, vm.firstBadPage(21, BASE, LEN), "RAM byte for byte under today's molt");
            // And back: today's state is newer than some releases can read.
            assertTrue(update(dir, command(old, args, state), "file:" + state).containsKey("return"));
            awaitCompleted(dir);
            vm.reconnect();
            last = pidIn(pidfile);
            assertEquals(-1, vm.firstBadPage(21, BASE, LEN), "RAM byte for byte after the update back");
            String where = runs(last, old) ? tag : runs(last, today) ? "today's molt" : Procs.cmdline(last);
            System.out.printf("[molt-it] releases: cpr-exec %s -> today (PID %d kept) -> %s: the guest runs under %s in PID %d%s%n",
                    tag, pid, tag, where, last, last == pid ? " (kept)" : "");
            if (readsTodaysCprState(tag)) {
                assertTrue(runs(last, old), "back to " + tag + ": " + where + "\n" + vm.process.stderr());
                assertEquals(pid, last);
            } else {
                assertTrue(runs(last, today), "the keeper brings the guest back under today's molt: " + where);
                assertTrue(vm.process.stderr().contains("going back to the previous molt"), vm.process.stderr());
            }
        } finally {
            if (last > 0) ProcessHandle.of(last).ifPresent(ProcessHandle::destroyForcibly);
        }
    }

    /**
     * x-cpr-reload between releases, both ways, in one process: a guest started under a release is
     * reloaded into today's jar and back into the release's, its qtest and QMP connections going on;
     * and one started under today's molt (whose host has two-phase starts, which the release's
     * reload entry lacks) into the release's and back. Releases before v0.6.0 cannot be reloaded
     * from or into (they have no reload entry; QtestReloadIT checks the refusal).
     */
    @ParameterizedTest(name = "x-cpr-reload: {0} to today's molt and back, and today's to {0} and back")
    @ValueSource(strings = {"v0.7.0", "v0.6.0"})
    void reloadToTodayAndBack(String tag, @TempDir Path dir) throws Exception {
        Path old = release(tag);
        Path oldJar = old.getParent().resolve("../target/molt.jar").normalize(), todaysJar = QtestReloadIT.moltJar();
        reloads(dir.resolve("from-release"), old, List.of(todaysJar, oldJar));
        reloads(dir.resolve("from-today"), Project.launcher(), List.of(oldJar, todaysJar));
        System.out.printf("[molt-it] releases: x-cpr-reload %s -> today -> %s and today -> %s -> today, each in one PID,"
                + " the same qtest and QMP connections%n", tag, tag, tag);
    }

    /** Starts molt from {@code launcher} and reloads it into each of {@code jars} in turn. */
    private static void reloads(Path dir, Path launcher, List<Path> jars) throws Exception {
        Files.createDirectories(dir);
        try (QtestVm vm = QtestVm.start(dir, List.of(), launcher, QtestVm.args(dir, "64M")); QmpClient q = vm.qmp()) {
            vm.writePattern(23, BASE, LEN);
            long pid = vm.process.pid();
            for (Path jar : jars) {
                Map<String, Object> p = q.execute("migrate-set-parameters", Map.of("mode", "x-cpr-reload", "x-cpr-reload-jar", jar.toString()));
                assertTrue(p.containsKey("return"), p.toString());
                assertTrue(q.execute("migrate", Map.of("uri", "file:" + dir.resolve("vm.state"))).containsKey("return"));
                GuestIT.waitFor(() -> "completed".equals(q.returned("query-migrate").get("status")), T);
                assertEquals(pid, vm.process.pid());
                assertEquals(-1, vm.firstBadPage(23, BASE, LEN), "RAM byte for byte after the reload into " + jar);
            }
        }
    }

    /**
     * A monitor on stdio crosses a reload into today's molt, which greets its client once; a release
     * that would greet it again (v0.7.0, the last without stdio-monitor in Molt-Reload-Takes-Over) is
     * refused before the guest stops, and the client goes on with the molt it has.
     */
    @org.junit.jupiter.api.Test
    void aStdioMonitorIsRefusedToAReleaseThatWouldGreetItAgain(@TempDir Path dir) throws Exception {
        Path oldJar = release("v0.7.0").getParent().resolve("../target/molt.jar").normalize();
        try (QtestVm vm = QtestVm.start(dir, QtestVm.args(dir, "64M", "-qmp", "stdio")); QmpClient q = vm.qmp()) {
            vm.process.awaitLine(l -> l.startsWith("{\"QMP\""), T);
            vm.writePattern(24, BASE, LEN);
            Map<String, Object> p = q.execute("migrate-set-parameters", Map.of("mode", "x-cpr-reload", "x-cpr-reload-jar", oldJar.toString()));
            assertTrue(p.containsKey("return"), p.toString());
            Map<String, Object> r = q.execute("migrate", Map.of("uri", "file:" + dir.resolve("vm.state")));
            assertTrue(String.valueOf(r.get("error")).contains("cannot go on with a monitor on stdio"), r.toString());
            assertFalse(q.pendingEvents().contains("STOP"), q.pendingEvents().toString());
            vm.process.send("{\"execute\": \"qmp_capabilities\", \"id\": 1}\n");
            vm.process.awaitLine(l -> l.contains("\"id\": 1"), T);
            assertEquals(-1, vm.firstBadPage(24, BASE, LEN));
        }
    }

    @ParameterizedTest(name = "live migration: {0} to today's molt and back")
    @ValueSource(strings = {"v0.5.1", "v0.4.0"})
    void migrationToTodayAndBack(String tag, @TempDir Path dir) throws Exception {
        Path old = release(tag), today = Project.launcher();
        String there = "unix:" + dir.resolve("there.sock"), back = "unix:" + dir.resolve("back.sock");
        try (QtestVm a = QtestVm.start(dir, List.of(), old, QtestVm.named(dir, "a", "64M"));
             QtestVm b = QtestVm.start(dir, List.of(), today, QtestVm.named(dir, "b", "64M", "-incoming", there))) {
            a.writePattern(22, BASE, LEN);
            migrate(a, there);
            assertRunning(b);
            assertEquals(-1, b.firstBadPage(22, BASE, LEN), "RAM byte for byte under today's molt");
            try (QtestVm c = QtestVm.start(dir, List.of(), old, QtestVm.named(dir, "c", "64M", "-incoming", back))) {
                migrate(b, back);
                assertRunning(c);
                assertEquals(-1, c.firstBadPage(22, BASE, LEN), "RAM byte for byte back under " + tag);
            }
            System.out.printf("[molt-it] releases: live migration %s -> today -> %s, RAM byte for byte each way%n", tag, tag);
        }
    }

    @ParameterizedTest(name = "cpr-transfer: {0} to today's molt and back")
    @ValueSource(strings = {"v0.7.0", "v0.5.1", "v0.4.0"})
    void cprTransferToTodayAndBack(String tag, @TempDir Path dir) throws Exception {
        Path old = release(tag), today = Project.launcher();
        try (QtestVm a = QtestVm.start(dir, List.of(), old, QtestVm.named(dir, "a", "64M"))) {
            a.writePattern(23, BASE, LEN);
            try (Transferred b = transfer(a, dir, "b", today)) {
                assertEquals(-1, RamPattern.firstBadPage(23, BASE, b.qtest.read(BASE, LEN)), "RAM byte for byte under today's molt");
                if (readsTodaysCprState(tag)) {
                    try (Transferred c = transfer(b, dir, "c", old)) {
                        assertEquals(-1, RamPattern.firstBadPage(23, BASE, c.qtest.read(BASE, LEN)), "RAM byte for byte back under " + tag);
                    }
                } else {
                    String refusal = refusedTransfer(b, dir, "c", old);
                    assertEquals(-1, RamPattern.firstBadPage(23, BASE, b.qtest.read(BASE, LEN)), "RAM byte for byte, still under today's molt");
                    System.out.printf("[molt-it] releases: cpr-transfer today -> %s refused before the guest stopped (%s); the guest runs on%n", tag, refusal);
                }
            }
            if (readsTodaysCprState(tag)) {
                System.out.printf("[molt-it] releases: cpr-transfer %s -> today -> %s, RAM byte for byte each way%n", tag, tag);
            }
        }
    }

    private static void migrate(QtestVm from, String uri) throws Exception {
        try (QmpClient q = from.qmp()) {
            assertTrue(q.execute("migrate", Map.of("uri", uri)).containsKey("return"));
            QtestMigrationIT.awaitMigration(q, "completed");
        }
    }

    private static void assertRunning(QtestVm vm) throws Exception {
        try (QmpClient q = vm.qmp()) {
            GuestIT.waitFor(() -> "running".equals(q.returned("query-status").get("status")), T);
        }
    }

    /** The molt a cpr-transfer created: its process, its qtest connection, its QMP socket. */
    private record Transferred(MoltProcess process, QtestClient qtest, QtestClient.Listener listener, Path qmp) implements AutoCloseable {
        @Override
        public void close() throws Exception {
            qtest.close();
            process.close();
            listener.close();
        }
    }

    /** A cpr-transfer the new molt refuses: it fails with the guest still running in {@code from}, never stopped. */
    private static String refusedTransfer(Transferred from, Path dir, String name, Path launcher) throws Exception {
        Path sub = Files.createDirectories(dir.resolve(name));
        List<String> args = QtestVm.named(sub, name, "64M", "-incoming", "unix:" + sub.resolve("main.sock"),
                "-incoming", CprTransferIT.unixCpr(sub));
        try (QtestClient.Listener listener = new QtestClient.Listener(sub.resolve(name + "-qtest.sock"));
             MoltProcess p = MoltProcess.start(List.of(), launcher, args.toArray(String[]::new));
             QmpClient q = QmpClient.unix(from.qmp(), T).negotiated()) {
            GuestIT.waitFor(() -> Files.exists(sub.resolve("cpr.sock")) || !p.alive(), T);
            assertTrue(q.execute("migrate-set-parameters", Map.of("mode", "cpr-transfer")).containsKey("return"));
            assertTrue(q.execute("migrate", Map.of("channels", CprTransferIT.channels(sub))).containsKey("return"));
            Map<String, Object> m = QtestMigrationIT.awaitMigrationEnd(q);
            assertEquals("failed", m.get("status"), m.toString());
            assertEquals("running", q.returned("query-status").get("status"));
            assertTrue(!q.pendingEvents().contains("STOP"), "the guest never stopped: " + q.pendingEvents());
            return String.valueOf(m.get("error-desc"));
        }
    }

    private static Transferred transfer(Object from, Path dir, String name, Path launcher) throws Exception {
        Path qmp = from instanceof QtestVm v ? v.qmpSocket() : ((Transferred) from).qmp();
        Path sub = Files.createDirectories(dir.resolve(name));
        List<String> args = QtestVm.named(sub, name, "64M", "-incoming", "unix:" + sub.resolve("main.sock"),
                "-incoming", CprTransferIT.unixCpr(sub));
        QtestClient.Listener listener = new QtestClient.Listener(sub.resolve(name + "-qtest.sock"));
        MoltProcess p = MoltProcess.start(List.of(), launcher, args.toArray(String[]::new));
        try {
            GuestIT.waitFor(() -> Files.exists(sub.resolve("cpr.sock")) || !p.alive(), T);
            try (QmpClient q = QmpClient.unix(qmp, T).negotiated()) {
                assertTrue(q.execute("migrate-set-parameters", Map.of("mode", "cpr-transfer")).containsKey("return"));
                assertTrue(q.execute("migrate", Map.of("channels", CprTransferIT.channels(sub))).containsKey("return"));
                QtestMigrationIT.awaitMigration(q, "completed");
            }
            QtestClient c = listener.accept(T);
            return new Transferred(p, c, listener, sub.resolve(name + ".qmp"));
        } catch (Exception | AssertionError e) {
            p.close();
            listener.close();
            throw new AssertionError(e.getMessage() + "\n--- " + name + " stderr ---\n" + p.stderr(), e);
        }
    }
}
