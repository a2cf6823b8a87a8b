package dev.molt.it;

import dev.molt.migration.cpr.FaultPoint;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static dev.molt.it.CprExecIT.awaitCompleted;
import static dev.molt.it.CprExecIT.update;
import static dev.molt.it.QtestVm.T;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.params.provider.Arguments.arguments;

/**
 * SIGKILL at every step of a live update, of every process taking part, under -accel qtest: molt
 * stops itself at the named step ({@link FaultPoint}, armed through its environment), the test kills
 * one process and lets the others go on, and then checks where the guest ended up, its RAM byte
 * for byte. Where no process can still hold the guest (the molt that ran it killed before its
 * state was saved), the test says so and what was left on disk.
 */
@Tag("qtest")
class QtestFaultInjectionIT {
    private static final long BASE = 1L << 20;
    private static final int LEN = 8 << 20;
    /** Not a molt step: the new image stops before any molt code runs (a wrapper that stops itself, then execs molt). */
    private static final String NEW_BINARY_START = "new-binary-start";

    enum Victim { MOLT, KEEPER }

    enum Outcome {
        /** The update completes: the guest runs in the new molt, same PID. */
        UPDATED,
        /** The keeper relaunches the previous molt (in the keeper's PID), which resumes the guest. */
        RELAUNCHED,
        /** The molt being updated died before its state was saved: no process can resume the guest. */
        LOST_UNSAVED,
        /** The new molt ran the guest, then died, as any VMM killed: no process can resume it. */
        LOST_AFTER_RESUME
    }

    static Stream<Arguments> cprExecFaults() {
        return Stream.of(
                arguments("cpr-exec:keeper-started", Victim.MOLT, Outcome.LOST_UNSAVED),
                arguments("cpr-exec:keeper-started", Victim.KEEPER, Outcome.UPDATED),
                arguments("cpr-exec:stopped", Victim.MOLT, Outcome.LOST_UNSAVED),
                arguments("cpr-exec:stopped", Victim.KEEPER, Outcome.UPDATED),
                arguments("cpr-exec:state-writing", Victim.MOLT, Outcome.LOST_UNSAVED),
                arguments("cpr-exec:state-writing", Victim.KEEPER, Outcome.UPDATED),
                arguments("cpr-exec:before-exec", Victim.MOLT, Outcome.RELAUNCHED),
                arguments("cpr-exec:before-exec", Victim.KEEPER, Outcome.UPDATED),
                arguments(NEW_BINARY_START, Victim.MOLT, Outcome.RELAUNCHED),
                arguments(NEW_BINARY_START, Victim.KEEPER, Outcome.UPDATED),
                arguments("cpr-exec:restoring", Victim.MOLT, Outcome.RELAUNCHED),
                arguments("cpr-exec:restoring", Victim.KEEPER, Outcome.UPDATED),
                arguments("cpr-exec:resumed", Victim.MOLT, Outcome.LOST_AFTER_RESUME));
    }

    private static List<String> faultAt(String step) {
        return List.of("env", FaultPoint.ENV + "=" + step);
    }

    /** {@code command} behind a shell that stops itself (SIGSTOP) before it execs it. */
    private static List<String> stoppingWrapper(List<String> command) {
        List<String> w = new ArrayList<>(List.of("/bin/sh", "-c", "kill -STOP $$; exec \"$@\"", "molt-wrapper"));
        w.addAll(command);
        return w;
    }

    private static long pidIn(Path pidfile) throws Exception {
        return Files.exists(pidfile) ? Long.parseLong(Files.readString(pidfile).trim()) : -1;
    }

    private static String onDisk(Path file) throws Exception {
        return Files.exists(file) ? file.getFileName() + " (" + Files.size(file) + " bytes)" : "no " + file.getFileName();
    }

    @ParameterizedTest(name = "cpr-exec, SIGKILL of the {1} at {0}: {2}")
    @MethodSource("cprExecFaults")
    void cprExecKilledAtEachStep(String step, Victim victim, Outcome expected, @TempDir Path dir) throws Exception {
        Path pidfile = dir.resolve("molt.pid");
        List<String> args = QtestVm.args(dir, "128M", "-pidfile", pidfile.toString());
        Path state = dir.resolve("vm.state");
        boolean wrapper = step.equals(NEW_BINARY_START);
        List<String> command = wrapper ? stoppingWrapper(CprExecIT.newMolt(args, state)) : CprExecIT.newMolt(args, state);
        long relaunched = -1;
        try (QtestVm vm = QtestVm.start(dir, wrapper ? List.of() : faultAt(step), args)) {
            vm.writePattern(11, BASE, LEN);
            long pid = vm.process.pid();
            assertTrue(update(dir, command, "file:" + state).containsKey("return"));
            Procs.awaitStopped(pid, T, vm.process::stderr);
            long keeper = Procs.keeperOf(pid);
            if (victim == Victim.MOLT) {
                Procs.signal(pid, "KILL");
            } else {
                assertTrue(keeper > 0, "a keeper runs at " + step);
                Procs.signal(keeper, "KILL");
                Procs.awaitEnded(keeper, T);
                Procs.signal(pid, "CONT");
            }
            String what;
            switch (expected) {
                case UPDATED -> {
                    awaitCompleted(dir);
                    vm.reconnect();
                    assertEquals(pid, vm.process.pid());
                    assertTrue(vm.process.alive());
                    assertEquals(-1, vm.firstBadPage(11, BASE, LEN), "RAM byte for byte");
                    what = "the update completed without its keeper, PID " + pid + " kept, RAM byte for byte";
                }
                case RELAUNCHED -> {
                    vm.process.awaitExit(T);
                    awaitCompleted(dir);
                    vm.reconnect();
                    relaunched = pidIn(pidfile);
                    assertNotEquals(pid, relaunched, "the previous molt runs in the keeper's PID");
                    assertTrue(ProcessHandle.of(relaunched).isPresent());
                    assertEquals(-1, vm.firstBadPage(11, BASE, LEN), "RAM byte for byte under the relaunched molt");
                    assertTrue(vm.process.stderr().contains("going back to the previous molt"), vm.process.stderr());
                    what = "the keeper relaunched the previous molt as PID " + relaunched + " (was " + pid + "), RAM byte for byte";
                }
                case LOST_UNSAVED -> {
                    vm.process.awaitExit(T);
                    if (keeper > 0) Procs.awaitEnded(keeper, T);
                    GuestIT.waitFor(() -> vm.process.stderr().contains("there is nothing to resume"), T);
                    assertTrue(pidIn(pidfile) == pid || pidIn(pidfile) == -1, "no molt relaunched");
                    what = "guest lost (its molt died before saving it; the keeper relaunched nothing); left on disk: " + onDisk(state);
                }
                case LOST_AFTER_RESUME -> {
                    vm.process.awaitExit(T);
                    if (keeper > 0) Procs.awaitEnded(keeper, T);
                    assertFalse(vm.process.stderr().contains("going back"), "nothing may go back once the guest ran in the new molt");
                    assertTrue(pidIn(pidfile) == pid || pidIn(pidfile) == -1, "no molt relaunched");
                    what = "guest lost with the molt that ran it, as with any VMM killed; left on disk: " + onDisk(state) + ", out of date";
                }
                default -> throw new IllegalStateException();
            }
            System.out.printf("[molt-it] fault: cpr-exec, SIGKILL of the %s at %s: %s%n", victim.name().toLowerCase(), step, what);
        } finally {
            if (relaunched > 0) ProcessHandle.of(relaunched).ifPresent(ProcessHandle::destroyForcibly);
        }
    }

    enum Side { OLD, NEW }

    enum TransferOutcome {
        /** The migration fails and the old molt runs the guest on. */
        OLD_RUNS,
        /** The old molt is in postmigrate and completed; cont resumes the guest there (it never ran elsewhere). */
        OLD_RUNS_AFTER_CONT,
        /** The new molt runs the guest. */
        NEW_RUNS,
        /** The molt that ran the guest died with it unsaved: no process can resume it. */
        LOST
    }

    static Stream<Arguments> cprTransferFaults() {
        return Stream.of(
                arguments("cpr-transfer:sent", Side.OLD, TransferOutcome.LOST),
                arguments("cpr-transfer:sent", Side.NEW, TransferOutcome.OLD_RUNS),
                arguments("cpr-transfer:received", Side.OLD, TransferOutcome.LOST),
                arguments("cpr-transfer:received", Side.NEW, TransferOutcome.OLD_RUNS),
                arguments("cpr-transfer:stopped", Side.OLD, TransferOutcome.LOST),
                arguments("cpr-transfer:stopped", Side.NEW, TransferOutcome.OLD_RUNS),
                arguments("cpr-transfer:loaded", Side.OLD, TransferOutcome.NEW_RUNS),
                arguments("cpr-transfer:loaded", Side.NEW, TransferOutcome.OLD_RUNS),
                arguments("cpr-transfer:replied", Side.OLD, TransferOutcome.NEW_RUNS),
                arguments("cpr-transfer:replied", Side.NEW, TransferOutcome.OLD_RUNS_AFTER_CONT));
    }

    @ParameterizedTest(name = "cpr-transfer, SIGKILL of the {1} molt at {0}: {2}")
    @MethodSource("cprTransferFaults")
    void cprTransferKilledAtEachStep(String step, Side victim, TransferOutcome expected, @TempDir Path dir) throws Exception {
        boolean atOld = step.equals("cpr-transfer:sent") || step.equals("cpr-transfer:stopped");
        List<String> newArgs = QtestVm.named(dir, "new", "128M", "-incoming", "unix:" + dir.resolve("main.sock"),
                "-incoming", CprTransferIT.unixCpr(dir));
        try (QtestVm old = QtestVm.start(dir, atOld ? faultAt(step) : List.of(), QtestVm.named(dir, "old", "128M"));
             QtestClient.Listener newQtest = new QtestClient.Listener(dir.resolve("new-qtest.sock"));
             MoltProcess neu = MoltProcess.start(atOld ? List.of() : faultAt(step), newArgs.toArray(String[]::new));
             QmpClient q = old.qmp()) {
            old.writePattern(12, BASE, LEN);
            GuestIT.waitFor(() -> Files.exists(dir.resolve("cpr.sock")) || !neu.alive(), T);
            assertTrue(q.execute("migrate-set-parameters", Map.of("mode", "cpr-transfer")).containsKey("return"));
            assertTrue(q.execute("migrate", Map.of("channels", CprTransferIT.channels(dir))).containsKey("return"));
            long stopped = atOld ? old.process.pid() : neu.pid();
            Procs.awaitStopped(stopped, T, () -> old.process.stderr() + "\n--- new ---\n" + neu.stderr());
            long killed = victim == Side.OLD ? old.process.pid() : neu.pid();
            Procs.signal(killed, "KILL");
            if (killed != stopped) Procs.signal(stopped, "CONT");
            String what;
            switch (expected) {
                case OLD_RUNS -> {
                    GuestIT.waitFor(() -> "failed".equals(q.returned("query-migrate").get("status")), T);
                    assertEquals("running", q.returned("query-status").get("status"));
                    assertEquals(-1, old.firstBadPage(12, BASE, LEN), "RAM byte for byte in the old molt");
                    what = "the old molt runs the guest on, RAM byte for byte";
                }
                case OLD_RUNS_AFTER_CONT -> {
                    QtestMigrationIT.awaitMigration(q, "completed");
                    assertEquals("postmigrate", q.returned("query-status").get("status"));
                    // Allowed once the old molt saw the new one end without the guest having run there.
                    GuestIT.waitFor(() -> q.execute("cont").containsKey("return"), T);
                    assertEquals("running", q.returned("query-status").get("status"));
                    assertEquals(-1, old.firstBadPage(12, BASE, LEN), "RAM byte for byte in the old molt");
                    what = "the old molt, in postmigrate, took the guest back at cont, RAM byte for byte";
                }
                case NEW_RUNS -> {
                    try (QtestClient n = newQtest.accept(T); QmpClient nq = QmpClient.unix(dir.resolve("new.qmp"), T).negotiated()) {
                        GuestIT.waitFor(() -> "running".equals(nq.returned("query-status").get("status")), T);
                        assertEquals(-1, RamPattern.firstBadPage(12, BASE, n.read(BASE, LEN)), "RAM byte for byte in the new molt");
                    }
                    what = "the new molt runs the guest, RAM byte for byte";
                }
                case LOST -> {
                    old.process.awaitExit(T);
                    GuestIT.waitFor(() -> !neu.alive() || !"running".equals(newStatus(dir)), T);
                    assertNotEquals("running", newStatus(dir), "the new molt cannot have a guest whose state it never got");
                    what = "guest lost with the old molt (its device state was never sent); the new molt "
                            + (neu.alive() ? "waits in " + newStatus(dir) : "exited: " + lastLine(neu.stderr()));
                }
                default -> throw new IllegalStateException();
            }
            System.out.printf("[molt-it] fault: cpr-transfer, SIGKILL of the %s molt at %s: %s%n", victim.name().toLowerCase(), step, what);
        }
    }

    private static String newStatus(Path dir) {
        try (QmpClient nq = QmpClient.unix(dir.resolve("new.qmp"), java.time.Duration.ofSeconds(5)).negotiated()) {
            return String.valueOf(nq.returned("query-status").get("status"));
        } catch (Exception | AssertionError e) {
            return "(no answer)";
        }
    }

    private static String lastLine(String text) {
        String[] lines = text.strip().split("\n");
        return lines[lines.length - 1];
    }

    /**
     * The state file's disk fills up halfway through the device state (a 4 KiB tmpfs, the state
     * written from 3900 bytes in, in a mount namespace of molt's own): the old molt resumes the
     * guest, says why, and a later update to a good path completes.
     */
    @org.junit.jupiter.api.Test
    void aFullDiskFailsTheUpdateAndTheGuestRunsOn(@TempDir Path dir) throws Exception {
        Path full = Files.createDirectories(dir.resolve("full"));
        List<String> inOwnMountNamespace = List.of("unshare", "-rm", "sh", "-c",
                "mount -t tmpfs -o size=4k molt-full '" + full + "' && exec \"$@\"", "molt-in-namespace");
        org.junit.jupiter.api.Assumptions.assumeTrue(new ProcessBuilder("unshare", "-rm", "true").start().waitFor() == 0,
                "this host lets no process have a mount namespace of its own (unshare -rm): no small filesystem to fill");
        List<String> args = QtestVm.args(dir, "128M");
        try (QtestVm vm = QtestVm.start(dir, inOwnMountNamespace, args); QmpClient q = vm.qmp()) {
            vm.writePattern(13, BASE, LEN);
            long pid = vm.process.pid();
            Path state = dir.resolve("vm.state");
            Map<String, Object> r = update(dir, CprExecIT.newMolt(args, state), "file:" + full.resolve("vm.state") + ",offset=3900");
            assertTrue(r.containsKey("return"), r.toString());
            q.event("STOP", T);
            q.event("RESUME", T);
            GuestIT.waitFor(() -> "failed".equals(q.returned("query-migrate").get("status")), T);
            String why = String.valueOf(q.returned("query-migrate").get("error-desc"));
            assertTrue(why.contains("No space left on device"), why);
            assertEquals("running", q.returned("query-status").get("status"));
            assertEquals(pid, vm.process.pid());
            assertEquals(-1, vm.firstBadPage(13, BASE, LEN), "RAM byte for byte");
            assertTrue(update(dir, CprExecIT.newMolt(args, state), "file:" + state).containsKey("return"));
            awaitCompleted(dir);
            vm.reconnect();
            assertEquals(pid, vm.process.pid());
            assertEquals(-1, vm.firstBadPage(13, BASE, LEN), "RAM byte for byte after the next update");
            System.out.println("[molt-it] fault: cpr-exec, disk full during the state write (" + why + "): the guest ran on; the next update completed");
        }
    }

    private static long openFds(long pid) throws Exception {
        try (Stream<Path> fds = Files.list(Path.of("/proc/" + pid + "/fd"))) {
            return fds.count();
        }
    }

    /**
     * molt at its limit of open files (RLIMIT_NOFILE lowered to what it has open, then one more
     * each attempt): every update that cannot get an fd fails with the guest running and its RAM
     * intact, until one has enough and completes.
     */
    @org.junit.jupiter.api.Test
    void updatesAtTheOpenFileLimitFailCleanlyUntilOneFits(@TempDir Path dir) throws Exception {
        List<String> args = QtestVm.args(dir, "128M");
        Path state = dir.resolve("vm.state");
        try (QtestVm vm = QtestVm.start(dir, args)) {
            vm.writePattern(14, BASE, LEN);
            long pid = vm.process.pid();
            List<String> failures = new ArrayList<>();
            for (int more = 0; ; more++) {
                assertTrue(more < 64, "no update completed with up to 64 more fds: " + failures);
                try (QmpClient q = vm.qmp()) { // connected first: its fd counts
                    assertTrue(q.execute("migrate-set-parameters", Map.of("mode", "cpr-exec",
                            "cpr-exec-command", CprExecIT.newMolt(args, state))).containsKey("return"));
                    long limit = openFds(pid) + more;
                    Process p = new ProcessBuilder("prlimit", "--pid", String.valueOf(pid), "--nofile=" + limit + ":").redirectErrorStream(true).start();
                    assertEquals(0, p.waitFor(), new String(p.getInputStream().readAllBytes()));
                    Map<String, Object> r = q.execute("migrate", Map.of("uri", "file:" + state));
                    if (r.containsKey("error")) {
                        failures.add(more + ": refused: " + r.get("error"));
                    } else {
                        Map<String, Object> m;
                        try {
                            m = QtestMigrationIT.awaitMigrationEnd(q);
                        } catch (Exception | AssertionError execed) {
                            break; // the exec closed this connection: the update went through
                        }
                        if ("completed".equals(m.get("status"))) break;
                        failures.add(more + ": failed: " + m.get("error-desc"));
                    }
                    assertEquals("running", q.returned("query-status").get("status"), "after " + failures.getLast());
                }
                assertEquals(-1, vm.firstBadPage(14, BASE, LEN), "RAM byte for byte after " + failures.getLast());
            }
            awaitCompleted(dir);
            vm.reconnect();
            assertEquals(pid, vm.process.pid());
            assertEquals(-1, vm.firstBadPage(14, BASE, LEN), "RAM byte for byte after the update");
            assertFalse(failures.isEmpty(), "the first attempts, with no fd to spare, must have failed");
            System.out.println("[molt-it] fault: cpr-exec at the open-file limit: " + failures.size()
                    + " attempts failed with the guest running (" + String.join("; ", failures) + "), then one completed");
        }
    }

    /**
     * A new binary that hangs (never resumes the guest, never exits) is stopped and killed once
     * x-cpr-exec-resume-timeout has passed, and the keeper relaunches the previous molt, which
     * resumes the guest. The PID cannot be kept: the hung process had it.
     */
    @org.junit.jupiter.api.Test
    void aNewBinaryThatHangsIsReplacedAfterTheBound(@TempDir Path dir) throws Exception {
        Path pidfile = dir.resolve("molt.pid");
        List<String> args = QtestVm.args(dir, "128M", "-pidfile", pidfile.toString());
        Path hangs = dir.resolve("hanging-molt");
        Files.writeString(hangs, "#!/bin/sh\nexec sleep 600\n");
        hangs.toFile().setExecutable(true);
        long relaunched = -1;
        try (QtestVm vm = QtestVm.start(dir, args)) {
            vm.writePattern(15, BASE, LEN);
            long pid = vm.process.pid();
            try (QmpClient q = vm.qmp()) {
                assertTrue(q.execute("migrate-set-parameters", Map.of("x-cpr-exec-resume-timeout", 2000)).containsKey("return"));
            }
            long started = System.nanoTime();
            assertTrue(update(dir, List.of(hangs.toString()), "file:" + dir.resolve("vm.state")).containsKey("return"));
            vm.process.awaitExit(T);
            awaitCompleted(dir);
            vm.reconnect();
            long tookMs = (System.nanoTime() - started) / 1_000_000;
            relaunched = pidIn(pidfile);
            assertNotEquals(pid, relaunched);
            assertEquals(-1, vm.firstBadPage(15, BASE, LEN), "RAM byte for byte under the relaunched molt");
            assertTrue(vm.process.stderr().contains("did not resume the guest within 2.000 s"), vm.process.stderr());
            assertTrue(tookMs >= 2000, "not before the bound: " + tookMs);
            System.out.printf("[molt-it] fault: cpr-exec, a new binary that hangs: stopped and killed after the 2 s bound, the previous"
                    + " molt resumed the guest in PID %d (the hung process had PID %d), %d ms from migrate%n", relaunched, pid, tookMs);
        } finally {
            if (relaunched > 0) ProcessHandle.of(relaunched).ifPresent(ProcessHandle::destroyForcibly);
        }
    }
}
