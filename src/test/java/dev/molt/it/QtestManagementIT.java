package dev.molt.it;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static dev.molt.it.QtestMigrationIT.awaitMigration;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The migration interface as libvirt drives it, between real molt processes under -accel qtest:
 * -S on the destination of a migration, a cpr-reboot and a cpr-transfer; one migrate-incoming per
 * process; a destination that says "setup" until its source connects and ignores migrate_cancel;
 * pause-before-switchover with migrate-continue; fd:N with inherited descriptors.
 */
@Tag("qtest")
class QtestManagementIT {
    private static final long BASE = 1L << 20;
    private static final int LEN = 4 << 20;

    private static void assertError(Map<String, Object> reply, String desc) {
        assertEquals(Map.of("class", "GenericError", "desc", desc), reply.get("error"), reply.toString());
    }

    /** QEMU's autostart=false: the guest loaded, paused, until the management tool's cont. */
    private static void assertHeldUntilCont(QmpClient d) throws Exception {
        Map<String, Object> status = d.returned("query-status");
        assertEquals("paused", status.get("status"), status.toString());
        assertEquals(false, status.get("running"));
        Thread.sleep(200);
        assertEquals("paused", d.returned("query-status").get("status"), "still paused: nothing but cont runs it");
        d.returned("cont");
        assertEquals("running", d.returned("query-status").get("status"));
    }

    /** molt started through {@code sh}, which opens {@code redirection} ("5<FILE", "6>FILE") for it. */
    private static QtestVm startWithFd(Path dir, String redirection, List<String> args) throws Exception {
        return QtestVm.start(dir, List.of("sh", "-c", "exec \"$0\" \"$@\" " + redirection), args);
    }

    @Test
    void aMigratedGuestWaitsUnderMinusSAndTheDestinationBehavesAsQemus(@TempDir Path dir) throws Exception {
        String uri = "unix:" + dir.resolve("mig.sock");
        try (QtestVm src = QtestVm.start(dir, QtestVm.named(dir, "src", "64M"));
             QtestVm dst = QtestVm.start(dir, QtestVm.named(dir, "dst", "64M", "-S", "-incoming", uri));
             QmpClient q = src.qmp(); QmpClient d = dst.qmp()) {
            src.writePattern(1, BASE, LEN);
            assertEquals("setup", d.returned("query-migrate").get("status"), "listening, no source yet");
            assertEquals(Map.of(), d.returned("migrate_cancel"), "QEMU: no outgoing migration here, nothing to cancel");
            assertEquals("setup", d.returned("query-migrate").get("status"));
            assertError(d.execute("migrate-continue", Map.of("state", "setup")), "Migration not in expected state: none");
            assertTrue(d.execute("migrate-set-capabilities", Map.of("capabilities",
                    List.of(Map.of("capability", "late-block-activate", "state", true)))).containsKey("return"), "libvirt sets it on destinations");
            assertTrue(q.execute("migrate", Map.of("uri", uri)).containsKey("return"));
            awaitMigration(q, "completed");
            awaitMigration(d, "completed");
            assertEquals(-1, dst.firstBadPage(1, BASE, LEN));
            assertHeldUntilCont(d);
            assertError(d.execute("migrate-incoming", Map.of("uri", "unix:" + dir.resolve("again.sock"))),
                    "The incoming migration has already been started");
            // -m RAM is listed as QEMU lists its default memory backend, by the machine's RAM name.
            assertEquals(List.of(Map.of("id", "microvm.ram", "size", 64L << 20, "merge", true, "dump", true, "prealloc", false,
                    "share", true, "reserve", true, "host-nodes", List.of(), "policy", "default")), d.execute("query-memdev").get("return"));
            assertEquals(-1, dst.firstBadPage(1, BASE, LEN), "nothing loaded over the running guest");
        }
    }

    @Test
    void aCprRebootRestoreWaitsUnderMinusS(@TempDir Path dir) throws Exception {
        Path state = dir.resolve("vm.state");
        try (QtestVm before = QtestVm.start(dir, QtestVm.named(dir, "before", "64M")); QmpClient q = before.qmp()) {
            before.writePattern(2, BASE, LEN);
            assertTrue(q.execute("migrate-set-parameters", Map.of("mode", "cpr-reboot")).containsKey("return"));
            assertTrue(q.execute("migrate", Map.of("uri", "file:" + state)).containsKey("return"));
            awaitMigration(q, "completed");
        }
        try (QtestVm after = QtestVm.start(dir, QtestVm.named(dir, "after", "64M", "-S", "-incoming", "defer"));
             QmpClient q = after.qmp()) {
            assertTrue(q.execute("migrate-set-parameters", Map.of("mode", "cpr-reboot")).containsKey("return"));
            assertTrue(q.execute("migrate-incoming", Map.of("uri", "file:" + state)).containsKey("return"));
            awaitMigration(q, "completed");
            assertHeldUntilCont(q);
            assertEquals(-1, after.firstBadPage(2, BASE, LEN));
            assertError(q.execute("migrate-incoming", Map.of("uri", "file:" + state)), "The incoming migration has already been started");
        }
    }

    @Test
    void aCprTransferGuestWaitsUnderMinusS(@TempDir Path dir) throws Exception {
        try (QtestVm old = QtestVm.start(dir, QtestVm.named(dir, "old", "64M"))) {
            old.writePattern(3, BASE, LEN);
            List<String> newArgs = QtestVm.named(dir, "new", "64M", "-S", "-incoming", "unix:" + dir.resolve("main.sock"),
                    "-incoming", CprTransferIT.unixCpr(dir));
            try (QtestClient.Listener newQtest = new QtestClient.Listener(dir.resolve("new-qtest.sock"));
                 MoltProcess neu = MoltProcess.start(newArgs.toArray(String[]::new));
                 QmpClient q = old.qmp()) {
                GuestIT.waitFor(() -> Files.exists(dir.resolve("cpr.sock")) || !neu.alive(), QtestVm.T);
                assertTrue(q.execute("migrate-set-parameters", Map.of("mode", "cpr-transfer")).containsKey("return"));
                assertTrue(q.execute("migrate", Map.of("channels", CprTransferIT.channels(dir))).containsKey("return"));
                Map<String, Object> done = awaitMigration(q, "completed");
                assertTrue(done.containsKey("ram"), "QEMU reports RAM counters in every mode: " + done);
                try (QtestClient n = newQtest.accept(QtestVm.T);
                     QmpClient d = QmpClient.unix(dir.resolve("new.qmp"), QtestVm.T).negotiated()) {
                    awaitMigration(d, "completed");
                    assertHeldUntilCont(d);
                    assertEquals(-1, RamPattern.firstBadPage(3, BASE, n.read(BASE, LEN)));
                }
            }
        }
    }

    @Test
    void pauseBeforeSwitchoverWaitsForMigrateContinue(@TempDir Path dir) throws Exception {
        String uri = "unix:" + dir.resolve("mig.sock");
        try (QtestVm src = QtestVm.start(dir, QtestVm.named(dir, "src", "64M"));
             QtestVm dst = QtestVm.start(dir, QtestVm.named(dir, "dst", "64M", "-incoming", uri));
             QmpClient q = src.qmp()) {
            src.writePattern(4, BASE, LEN);
            assertTrue(q.execute("migrate-set-capabilities", Map.of("capabilities", List.of(
                    Map.of("capability", "events", "state", true),
                    Map.of("capability", "pause-before-switchover", "state", true)))).containsKey("return"));
            assertTrue(q.execute("migrate", Map.of("uri", uri)).containsKey("return"));
            List<Object> statuses = new ArrayList<>();
            while (!statuses.contains("pre-switchover")) statuses.add(status(q.event("MIGRATION", QtestVm.T)));
            assertEquals(List.of("setup", "active", "pre-switchover"), statuses);
            Thread.sleep(200);
            assertEquals("pre-switchover", q.returned("query-migrate").get("status"), "it waits");
            assertEquals("finish-migrate", q.returned("query-status").get("status"), "with the guest stopped");
            assertError(q.execute("migrate-continue", Map.of("state", "active")), "Migration not in expected state: pre-switchover");
            // HMP's migrate_continue, as a user at the monitor would.
            assertEquals("", q.execute("human-monitor-command", Map.of("command-line", "migrate_continue pre-switchover")).get("return"));
            assertEquals("device", status(q.event("MIGRATION", QtestVm.T)));
            assertEquals("completed", status(q.event("MIGRATION", QtestVm.T)));
            assertEquals("postmigrate", q.returned("query-status").get("status"));
            try (QmpClient d = dst.qmp()) {
                awaitMigration(d, "completed");
                GuestIT.waitFor(() -> "running".equals(d.returned("query-status").get("status")), QtestVm.T);
            }
            assertEquals(-1, dst.firstBadPage(4, BASE, LEN));
        }
    }

    @SuppressWarnings("unchecked")
    private static Object status(Map<String, Object> event) {
        return ((Map<String, Object>) event.get("data")).get("status");
    }

    /** libvirt's save and restore: the state goes out through fd 6 and comes back in through fd 5, numbers the molts inherited. */
    @Test
    void fdNumbersNameInheritedDescriptors(@TempDir Path dir) throws Exception {
        Path state = dir.resolve("vm.state");
        try (QtestVm src = startWithFd(dir, "6>" + state, QtestVm.named(dir, "src", "64M")); QmpClient q = src.qmp()) {
            src.writePattern(5, BASE, LEN);
            assertTrue(q.execute("migrate", Map.of("uri", "fd:6")).containsKey("return"));
            awaitMigration(q, "completed");
        }
        assertTrue(Files.size(state) > LEN, "the RAM went into the file behind fd 6");
        try (QtestVm dst = startWithFd(dir, "5<" + state, QtestVm.named(dir, "dst", "64M", "-incoming", "defer"));
             QmpClient d = dst.qmp()) {
            assertError(d.execute("migrate-incoming", Map.of("uri", "fd:monitor-fd")), "File descriptor named 'monitor-fd' has not been found");
            assertTrue(d.execute("migrate-incoming", Map.of("uri", "fd:5")).containsKey("return"));
            awaitMigration(d, "completed");
            assertEquals("running", d.returned("query-status").get("status"));
            assertEquals(-1, dst.firstBadPage(5, BASE, LEN));
        }
    }
}
