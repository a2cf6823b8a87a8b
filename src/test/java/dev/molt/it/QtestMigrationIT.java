package dev.molt.it;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Live migration, cpr-transfer and cpr-reboot under -accel qtest, on any host, checked the way
 * QEMU's migration tests check: a pattern written into guest RAM through qtest, pages rewritten
 * while precopy runs, and the destination's RAM read back page by page.
 */
@Tag("qtest")
class QtestMigrationIT {
    private static final long BASE = 1L << 20;
    private static final int LEN = 32 << 20;
    private static final long REWRITTEN = 2L << 20;
    private static final int REWRITTEN_LEN = 4 << 20;

    /** The destination's RAM: the rewritten range has the second pattern, the rest the first. */
    private static void assertRamAfterRewrite(QtestVm vm) throws Exception {
        assertEquals(-1, vm.firstBadPage(1, BASE, (int) (REWRITTEN - BASE)), "pages before the rewritten range");
        assertEquals(-1, vm.firstBadPage(2, REWRITTEN, REWRITTEN_LEN), "pages rewritten during precopy");
        long after = REWRITTEN + REWRITTEN_LEN;
        assertEquals(-1, vm.firstBadPage(1, after, (int) (BASE + LEN - after)), "pages after the rewritten range");
    }

    @SuppressWarnings("unchecked")
    static long transferred(QmpClient q) throws Exception {
        Map<String, Object> ram = (Map<String, Object>) q.returned("query-migrate").get("ram");
        return ram == null ? 0 : ((Number) ram.get("transferred")).longValue();
    }

    static Map<String, Object> awaitMigration(QmpClient q, String... statuses) throws Exception {
        long deadline = System.nanoTime() + QtestVm.T.toNanos();
        while (true) {
            Map<String, Object> m = q.returned("query-migrate");
            if (List.of(statuses).contains(String.valueOf(m.get("status")))) return m;
            if ("failed".equals(m.get("status"))) throw new AssertionError("migration failed: " + m);
            if (System.nanoTime() > deadline) throw new AssertionError("migration still " + m);
            Thread.sleep(20);
        }
    }

    /** Waits for the migration to end, whichever way: completed, failed or cancelled. */
    static Map<String, Object> awaitMigrationEnd(QmpClient q) throws Exception {
        long deadline = System.nanoTime() + QtestVm.T.toNanos();
        while (true) {
            Map<String, Object> m = q.returned("query-migrate");
            if (List.of("completed", "failed", "cancelled").contains(String.valueOf(m.get("status")))) return m;
            if (System.nanoTime() > deadline) throw new AssertionError("migration still " + m);
            Thread.sleep(20);
        }
    }

    @ParameterizedTest(name = "over {0}")
    @ValueSource(strings = {"unix", "tcp"})
    void precopyCarriesPagesRewrittenWhileItRuns(String transport, @TempDir Path dir) throws Exception {
        String uri;
        if (transport.equals("unix")) {
            uri = "unix:" + dir.resolve("mig.sock");
        } else {
            try (ServerSocket free = new ServerSocket(0)) {
                uri = "tcp:127.0.0.1:" + free.getLocalPort();
            }
        }
        try (QtestVm src = QtestVm.start(dir, QtestVm.named(dir, "src", "64M"));
             QtestVm dst = QtestVm.start(dir, QtestVm.named(dir, "dst", "64M", "-incoming", uri));
             QmpClient q = src.qmp()) {
            src.writePattern(1, BASE, LEN);
            // Slow enough that the first pass over 32 MiB takes seconds, so the rewrite lands during precopy.
            assertTrue(q.execute("migrate-set-parameters", Map.of("max-bandwidth", 8 << 20)).containsKey("return"));
            assertTrue(q.execute("migrate", Map.of("uri", uri)).containsKey("return"));
            awaitMigration(q, "active");
            // Rewrite pages the first pass has already sent: only the dirty log can bring them over again.
            long sentPast = REWRITTEN + REWRITTEN_LEN + (4 << 20);
            GuestIT.waitFor(() -> transferred(q) > sentPast, QtestVm.T);
            src.writePattern(2, REWRITTEN, REWRITTEN_LEN);
            assertEquals("active", q.returned("query-migrate").get("status"), "the rewrite must land during precopy");
            Map<String, Object> done = awaitMigration(q, "completed");
            assertEquals("postmigrate", q.returned("query-status").get("status"));
            try (QmpClient d = dst.qmp()) {
                // The source completes once it has sent everything; the destination may still be loading.
                GuestIT.waitFor(() -> "running".equals(d.returned("query-status").get("status")), QtestVm.T);
            }
            assertRamAfterRewrite(dst);
            @SuppressWarnings("unchecked")
            Map<String, Object> ram = (Map<String, Object>) done.get("ram");
            System.out.printf("[molt-it] qtest: live migration over %s: %s dirty-sync passes, downtime %s ms, destination RAM read back page by page%n",
                    transport, ram == null ? "?" : ram.get("dirty-sync-count"), done.get("downtime"));
        }
    }

    /**
     * downtime-limit decides the switch-over: while a writer keeps rewriting 4 MiB through qtest and
     * the link gives 4 MiB/s, what each pass leaves dirty cannot be sent within 100 ms, so precopy keeps
     * iterating (and query-migrate's expected-downtime says why); raised during the migration, as
     * libvirt's migrate-setmaxdowntime does, the new limit applies to the next iteration and the
     * migration completes with the writer still running.
     */
    @Test
    void aTightDowntimeLimitKeepsPrecopyIteratingUntilItIsRaised(@TempDir Path dir) throws Exception {
        String uri = "unix:" + dir.resolve("mig.sock");
        try (QtestVm src = QtestVm.start(dir, QtestVm.named(dir, "src", "64M"));
             QtestVm dst = QtestVm.start(dir, QtestVm.named(dir, "dst", "64M", "-incoming", uri));
             QmpClient q = src.qmp()) {
            src.writePattern(1, BASE, (int) (REWRITTEN - BASE));
            assertTrue(q.execute("migrate-set-parameters", Map.of("downtime-limit", 100, "max-bandwidth", 4 << 20)).containsKey("return"));
            java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
            java.util.concurrent.atomic.AtomicReference<Exception> writerFailed = new java.util.concurrent.atomic.AtomicReference<>();
            Thread writer = Thread.ofPlatform().start(() -> {
                try {
                    for (long seed = 2; !stop.get(); seed++) src.writePattern(seed, REWRITTEN, REWRITTEN_LEN);
                } catch (Exception e) {
                    writerFailed.set(e);
                }
            });
            try {
                assertTrue(q.execute("migrate", Map.of("uri", uri)).containsKey("return"));
                GuestIT.waitFor(() -> syncs(q) >= 4, QtestVm.T);
                Map<String, Object> m = q.returned("query-migrate");
                assertEquals("active", m.get("status"), "a dirty set that cannot go in 100 ms keeps precopy iterating");
                assertTrue(((Number) m.get("expected-downtime")).longValue() > 100, "expected-downtime says why: " + m);
                assertTrue(q.execute("migrate-set-parameters", Map.of("downtime-limit", 60_000)).containsKey("return"));
                Map<String, Object> done = awaitMigration(q, "completed");
                System.out.printf("[molt-it] qtest: downtime-limit 100 ms held precopy for %s syncs; raised to 60 s it completed, downtime %s ms%n",
                        syncs(q), done.get("downtime"));
            } finally {
                stop.set(true);
                writer.join();
            }
            if (writerFailed.get() != null) throw writerFailed.get();
            try (QmpClient d = dst.qmp()) {
                GuestIT.waitFor(() -> "running".equals(d.returned("query-status").get("status")), QtestVm.T);
            }
            assertEquals(-1, dst.firstBadPage(1, BASE, (int) (REWRITTEN - BASE)), "pages before the rewritten range");
        }
    }

    @SuppressWarnings("unchecked")
    private static long syncs(QmpClient q) throws Exception {
        Map<String, Object> ram = (Map<String, Object>) q.returned("query-migrate").get("ram");
        return ram == null ? 0 : ((Number) ram.get("dirty-sync-count")).longValue();
    }

    @Test
    void cprTransferHandsRamOverByFd(@TempDir Path dir) throws Exception {
        String cpr = CprTransferIT.unixCpr(dir);
        List<Map<String, Object>> channels = CprTransferIT.channels(dir);
        try (QtestVm old = QtestVm.start(dir, QtestVm.named(dir, "old", "128M"))) {
            old.writePattern(1, BASE, LEN);
            old.qtest.ok("clock_step 777");
            // The new molt blocks on the cpr channel before it builds anything, so it connects to qtest only once it runs the guest.
            QtestClient.Listener newQtest = new QtestClient.Listener(dir.resolve("new-qtest.sock"));
            List<String> newArgs = QtestVm.named(dir, "new", "128M", "-incoming", "unix:" + dir.resolve("main.sock"), "-incoming", cpr);
            try (MoltProcess neu = MoltProcess.start(newArgs.toArray(String[]::new))) {
                GuestIT.waitFor(() -> Files.exists(dir.resolve("cpr.sock")) || !neu.alive(), QtestVm.T);
                // A management tool's client on the new molt's QMP socket, connected before the migration (the
                // socket is bound already): served once the guest runs there, it must still hear RESUME.
                java.nio.channels.SocketChannel early = java.nio.channels.SocketChannel.open(java.net.StandardProtocolFamily.UNIX);
                early.connect(java.net.UnixDomainSocketAddress.of(dir.resolve("new.qmp")));
                try (QmpClient q = old.qmp()) {
                    assertTrue(q.execute("migrate-set-parameters", Map.of("mode", "cpr-transfer")).containsKey("return"));
                    assertTrue(q.execute("migrate", Map.of("channels", channels)).containsKey("return"));
                    Map<String, Object> done = awaitMigration(q, "completed");
                    assertEquals("postmigrate", q.returned("query-status").get("status"));
                    try (QtestClient n = newQtest.accept(QtestVm.T)) {
                        assertEquals(-1, RamPattern.firstBadPage(1, BASE, n.read(BASE, LEN)), "the new molt maps the same RAM");
                        assertEquals("778", n.ok("clock_step 1"), "the virtual clock carried over");
                        // The old molt's RAM is the very same memory: a write through the new molt shows in the old one.
                        n.ok("writeq 0x100000 0x5555aaaa5555aaaa");
                        assertEquals("0x5555aaaa5555aaaa", old.qtest.ok("readq 0x100000"));
                    }
                    assertTrue(CprExecIT.fds(neu.pid()).values().stream().anyMatch(f -> f.startsWith("/memfd:microvm.ram")));
                    try (QmpClient waited = QmpClient.over(early)) {
                        assertTrue(waited.execute("qmp_capabilities").containsKey("return"));
                        waited.event("RESUME", QtestVm.T);
                        Map<String, Object> there = waited.returned("query-migrate");
                        assertEquals("completed", there.get("status"), there.toString());
                        assertFalse(there.containsKey("downtime") || there.containsKey("setup-time"),
                                "a destination knows neither, as QEMU's: " + there);
                    }
                    System.out.printf("[molt-it] qtest: cpr-transfer old pid %d -> new pid %d, downtime %s ms, RAM shared by fd%n",
                            old.process.pid(), neu.pid(), done.get("downtime"));
                }
            } finally {
                newQtest.close();
            }
        }
    }

    @Test
    void cprTransferToAMoltThatCannotTakeTheGuestLeavesItWithTheOld(@TempDir Path dir) throws Exception {
        String cpr = CprTransferIT.unixCpr(dir);
        List<Map<String, Object>> channels = CprTransferIT.channels(dir);
        try (QtestVm old = QtestVm.start(dir, QtestVm.named(dir, "old", "128M", "-smp", "1"))) {
            old.writePattern(1, BASE, LEN);
            // A different -smp is found only once the device state arrives, after the guest stopped.
            List<String> newArgs = QtestVm.named(dir, "new", "128M", "-smp", "2", "-incoming", "unix:" + dir.resolve("main.sock"), "-incoming", cpr);
            try (QtestClient.Listener newQtest = new QtestClient.Listener(dir.resolve("new-qtest.sock"));
                 MoltProcess neu = MoltProcess.start(newArgs.toArray(String[]::new));
                 QmpClient q = old.qmp()) {
                GuestIT.waitFor(() -> Files.exists(dir.resolve("cpr.sock")) || !neu.alive(), QtestVm.T);
                assertTrue(q.execute("migrate-set-parameters", Map.of("mode", "cpr-transfer")).containsKey("return"));
                assertTrue(q.execute("migrate", Map.of("channels", channels)).containsKey("return"));
                GuestIT.waitFor(() -> "failed".equals(q.returned("query-migrate").get("status")), QtestVm.T);
                assertEquals("running", q.returned("query-status").get("status"), "the old molt runs the guest again");
                assertEquals(-1, old.firstBadPage(1, BASE, LEN));
                assertEquals(1, neu.awaitExit(QtestVm.T));
                assertTrue(neu.stderr().contains("-smp"), neu.stderr());
            }
        }
    }

    @Test
    void cprRebootSavesToAFileAndALaterMoltResumes(@TempDir Path dir) throws Exception {
        Path state = dir.resolve("vm.state");
        try (QtestVm before = QtestVm.start(dir, QtestVm.named(dir, "before", "64M"))) {
            before.writePattern(1, BASE, LEN);
            before.qtest.ok("clock_step 1000");
            try (QmpClient q = before.qmp()) {
                assertTrue(q.execute("migrate-set-parameters", Map.of("mode", "cpr-reboot")).containsKey("return"));
                assertTrue(q.execute("migrate", Map.of("uri", "file:" + state)).containsKey("return"));
                awaitMigration(q, "completed");
                assertEquals("postmigrate", q.returned("query-status").get("status"));
                q.execute("quit");
            }
            before.process.awaitExit(QtestVm.T);
        }
        try (QtestVm after = QtestVm.start(dir, QtestVm.named(dir, "after", "64M", "-incoming", "defer"));
             QmpClient q = after.qmp()) {
            assertTrue(q.execute("migrate-set-parameters", Map.of("mode", "cpr-reboot")).containsKey("return"));
            assertTrue(q.execute("migrate-incoming", Map.of("uri", "file:" + state)).containsKey("return"));
            awaitMigration(q, "completed");
            assertEquals("running", q.returned("query-status").get("status"));
            assertEquals(-1, after.firstBadPage(1, BASE, LEN), "RAM from the file, page by page");
            assertEquals("1001", after.qtest.ok("clock_step 1"));
        }
    }

    /** A KVM molt refuses a state saved under qtest by name, before building a guest from it. */
    @Test
    void aStateSavedUnderQtestNamesItsAccelerator(@TempDir Path dir) throws Exception {
        Path state = dir.resolve("vm.state");
        try (QtestVm vm = QtestVm.start(dir, QtestVm.named(dir, "vm", "64M")); QmpClient q = vm.qmp()) {
            assertTrue(q.execute("migrate", Map.of("uri", "file:" + state)).containsKey("return"));
            awaitMigration(q, "completed");
        }
        assertTrue(Files.readAllBytes(state).length > 0);
        List<String> kvm = new ArrayList<>(List.of("-m", "64M", "-display", "none", "-incoming", "file:" + state));
        kvm.addAll(List.of("-kernel", Project.testGuest().toString()));
        // Where KVM works this molt stops at the state; where it does not, at /dev/kvm, saying why. One clear line.
        String expected = dev.molt.testsupport.KvmAvailability.whyUnusable().orElse("saved by a molt running -accel qtest");
        try (MoltProcess molt = MoltProcess.start(kvm.toArray(String[]::new))) {
            assertEquals(1, molt.awaitExit(QtestVm.T));
            ErrorsIT.assertOneLineError(molt.stderr(), expected);
        }
    }
}
