package dev.molt.it;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Stream;

import static dev.molt.it.CprExecIT.awaitCompleted;
import static dev.molt.it.CprExecIT.fds;
import static dev.molt.it.CprExecIT.newMolt;
import static dev.molt.it.CprExecIT.update;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The live-update sequences that could corrupt or lose a guest (issue 11), each run end to end
 * with the real molt under -accel qtest: guest RAM checked byte for byte through qtest, the run
 * state through QMP. Where a step of the update must be caught in the act (a quit before or after
 * the point of no return), the update is held at a system call by {@link SyscallHold}.
 */
@Tag("qtest")
class QtestUpdateSafetyIT {
    private static final long BASE = 1L << 20;
    private static final int LEN = 8 << 20;
    /** COM1's scratch register: device state that only the state file carries (RAM is shared, this is not). */
    private static final String SCRATCH = "0x3ff";

    // ---- 1. a stale -incoming file ----

    /**
     * The new molt's -incoming names the state file an earlier update left at another path: it must
     * not restore that past device state over today's RAM, but go back to the previous molt (same
     * PID), which resumes from the file it just wrote. The virtual clock and the UART's scratch
     * register tell the two files apart.
     */
    @Test
    void aStaleIncomingFileFromAnEarlierUpdateSendsTheGuestBackToTheOldMolt(@TempDir Path dir) throws Exception {
        List<String> args = QtestVm.args(dir, "128M");
        Path earlier = dir.resolve("earlier.state");
        Path state = dir.resolve("vm.state");
        try (QtestVm vm = QtestVm.start(dir, args)) {
            long pid = vm.process.pid();
            vm.writePattern(1, BASE, LEN);
            vm.qtest.ok("outb " + SCRATCH + " 0x11");
            assertEquals("1000", vm.qtest.ok("clock_step 1000"));
            assertTrue(update(dir, newMolt(args, earlier), "file:" + earlier).containsKey("return"));
            awaitCompleted(dir);
            vm.reconnect();
            // Today's guest: other RAM, another clock, another register value than in earlier.state.
            vm.writePattern(2, BASE, LEN);
            vm.qtest.ok("outb " + SCRATCH + " 0x22");
            assertEquals("2000", vm.qtest.ok("clock_step 1000"));

            assertTrue(update(dir, newMolt(args, earlier), "file:" + state).containsKey("return"), "an update whose new molt is given the stale file");
            awaitCompleted(dir);
            vm.reconnect();
            assertEquals(pid, vm.process.pid(), "the same process");
            assertEquals(-1, vm.firstBadPage(2, BASE, LEN), "today's RAM, byte for byte");
            assertEquals("0x0022", vm.qtest.ok("inb " + SCRATCH), "the UART state the old molt wrote, not earlier.state's");
            assertEquals("2001", vm.qtest.ok("clock_step 1"), "the clock the old molt saved, not earlier.state's (1000)");
            try (QmpClient q = vm.qmp()) {
                assertEquals("running", q.returned("query-status").get("status"));
            }
            assertTrue(vm.process.stderr().contains("is not the one the old molt saved for this update"), vm.process.stderr());
            assertTrue(vm.process.stderr().contains("going back to the previous molt"), vm.process.stderr());
        }
    }

    // ---- 2. quit and SIGTERM during a cpr-exec ----

    /**
     * quit (QMP or HMP) or SIGTERM while a cpr-exec is held just before its point of no return (the
     * guest stopped, the device state and the CPR state written, held as the CPR state's pwrite64
     * returns): the update is cancelled, molt exits, and its keeper, told "cancel", relaunches
     * nothing. Afterwards no process holds the guest's RAM, the pidfile is gone and the QMP socket
     * is not served again. (A molt that quit at once left the keeper to relaunch the previous molt
     * from the complete CPR state, undoing the quit under a new PID.)
     */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"QMP quit", "HMP quit", "SIGTERM"})
    void quittingBeforeThePointOfNoReturnCancelsTheUpdateAndNothingComesBack(String how, @TempDir Path dir) throws Exception {
        Path pidfile = dir.resolve("molt.pid");
        Path hmpSocket = dir.resolve("vm.hmp");
        List<String> args = QtestVm.args(dir, "128M", "-pidfile", pidfile.toString(), "-monitor", "unix:" + hmpSocket + ",server=on,wait=off");
        Path state = dir.resolve("vm.state");
        try (QtestVm vm = QtestVm.start(dir, args); QmpClient watcher = vm.qmp(); QmpClient quitter = vm.qmp();
             HmpClient hmp = new HmpClient(CprExecIT.connect(hmpSocket))) {
            hmp.await("(qemu) ", QtestVm.T);
            long pid = vm.process.pid();
            long ram = ramInode(pid);
            assertTrue(watcher.execute("migrate-set-capabilities", Map.of("capabilities",
                    List.of(Map.of("capability", "events", "state", true)))).containsKey("return"));
            long keeper;
            try (SyscallHold held = SyscallHold.attach(pid, "pwrite64", SyscallHold.At.RETURN, null, dir.resolve("strace.log"))) {
                assertTrue(update(dir, newMolt(args, state), "file:" + state).containsKey("return"));
                GuestIT.waitFor(() -> cprStateBytes(pid) > 0, QtestVm.T); // the guest stopped, both states written: held there
                keeper = Procs.keeperOf(pid);
                assertTrue(keeper > 0, "the update's keeper runs");
                Map<String, Object> reset = watcher.execute("system_reset");
                assertTrue(String.valueOf(reset.get("error")).contains("There's a migration process in progress"), reset.toString());
                switch (how) {
                    case "QMP quit" -> quitter.sendRaw("{\"execute\": \"quit\"}\n");
                    case "HMP quit" -> hmp.send("quit");
                    case "SIGTERM" -> Procs.signal(pid, "TERM");
                    default -> throw new IllegalArgumentException(how);
                }
                // quit waits for the update to end, having announced the cancel (a molt that quits at once,
                // closing its monitors, is caught below).
                boolean[] cancelling = new boolean[1];
                GuestIT.waitFor(() -> {
                    Map<String, Object> e = watcher.nextEvent(java.time.Duration.ofMillis(100));
                    if (e != null && "MIGRATION".equals(e.get("event"))) cancelling[0] |= "cancelling".equals(((Map<?, ?>) e.get("data")).get("status"));
                    return cancelling[0] || watcher.awaitClosed(java.time.Duration.ZERO);
                }, QtestVm.T);
            }
            int status = vm.process.awaitExit(QtestVm.T);
            try {
                // Had the keeper relaunched the previous molt, that molt would run on in the keeper's PID.
                Procs.awaitEnded(keeper, QtestVm.T);
            } catch (AssertionError e) {
                ProcessHandle.of(keeper).ifPresent(ProcessHandle::destroyForcibly);
                throw new AssertionError("the keeper relaunched a molt after the quit: " + vm.process.stderr(), e);
            }
            assertFalse(vm.process.stderr().contains("going back to the previous molt"), vm.process.stderr());
            assertEquals(List.of(), holdersOf(ram), "processes holding the guest's RAM after molt quit");
            assertFalse(Files.exists(pidfile), "no molt wrote the pidfile again");
            assertThrows(IOException.class, () -> QmpClient.connect(java.net.UnixDomainSocketAddress.of(dir.resolve("vm.qmp")),
                    java.net.StandardProtocolFamily.UNIX), "nothing serves the QMP socket any more");
            assertEquals(0, status, vm.process.stderr());
            if (how.equals("QMP quit")) assertTrue(quitter.reply(QtestVm.T).containsKey("return"), "quit answered once molt ended the update");
        }
    }

    /**
     * Past the point of no return (held at the exec itself) quit is refused, on QMP and HMP, and
     * SIGTERM is ignored, saying why: the new molt would undo either. Released, the update goes on
     * and the new molt runs the guest in the same process, RAM intact.
     */
    @Test
    void pastThePointOfNoReturnQuitIsRefusedAndTheUpdateCompletes(@TempDir Path dir) throws Exception {
        Path hmpSocket = dir.resolve("vm.hmp");
        List<String> args = QtestVm.args(dir, "128M", "-monitor", "unix:" + hmpSocket + ",server=on,wait=off");
        Path state = dir.resolve("vm.state");
        String refused = "can no longer be cancelled";
        try (QtestVm vm = QtestVm.start(dir, args); QmpClient q = vm.qmp(); HmpClient hmp = new HmpClient(CprExecIT.connect(hmpSocket))) {
            hmp.await("(qemu) ", QtestVm.T);
            vm.writePattern(3, BASE, LEN);
            long pid = vm.process.pid();
            // The exec is the JVM's that the launcher names when asked (docs/live-update.md, the launch plan).
            String jvm = dev.molt.migration.cpr.LaunchPlan.ask(Project.launcher(), List.of(Project.launcher().toString()),
                    dev.molt.migration.cpr.CprExec.environment("-1", Map.of()), QtestVm.T).orElseThrow().program().toString();
            try (SyscallHold held = SyscallHold.attach(pid, "execve", SyscallHold.At.ENTRY, jvm, dir.resolve("strace.log"))) {
                assertTrue(update(dir, newMolt(args, state), "file:" + state).containsKey("return"));
                GuestIT.waitFor(() -> "completed".equals(q.returned("query-migrate").get("status")), QtestVm.T);
                Map<String, Object> quit = q.execute("quit");
                assertTrue(String.valueOf(quit.get("error")).contains(refused), quit.toString());
                String hmpQuit = hmp.command("quit", QtestVm.T);
                assertTrue(hmpQuit.contains(refused), hmpQuit);
                Procs.signal(pid, "TERM");
                GuestIT.waitFor(() -> vm.process.stderr().contains("molt: ignoring signal 15: "), QtestVm.T);
                assertTrue(vm.process.stderr().contains(refused), vm.process.stderr());
                assertEquals("postmigrate", q.returned("query-status").get("status"));
            }
            awaitCompleted(dir);
            vm.reconnect();
            assertEquals(pid, vm.process.pid());
            assertTrue(vm.process.alive());
            assertEquals(-1, vm.firstBadPage(3, BASE, LEN));
        }
    }

    // ---- 3. cpr-transfer: the new molt dies between 'P' and 'G' ----

    /**
     * A cpr-transfer of a paused guest: the new molt loads it, replies 'RP' and waits for cont.
     * Killed then (SIGKILL), it never ran the guest, so cont in the old molt's postmigrate resumes
     * it there, RAM intact. Once the new molt has said 'G' (a cont there), the old one refuses.
     */
    @ParameterizedTest(name = "new molt killed {0}")
    @ValueSource(strings = {"before it ran the guest", "after it ran the guest"})
    void contOnTheOldMoltAfterANewMoltKilledAfterItsReply(String when, @TempDir Path dir) throws Exception {
        boolean ranThere = when.startsWith("after");
        try (QtestVm old = QtestVm.start(dir, QtestVm.named(dir, "old", "128M"));
             QtestClient.Listener newQtest = new QtestClient.Listener(dir.resolve("new-qtest.sock"));
             QmpClient q = old.qmp()) {
            old.writePattern(4, BASE, LEN);
            long oldPid = old.process.pid();
            Set<String> socketsBefore = sockets(oldPid);
            assertTrue(q.execute("stop").containsKey("return"));
            try (MoltProcess neu = startTransferTarget(dir, "-incoming", "unix:" + dir.resolve("main.sock"))) {
                assertTrue(q.execute("migrate-set-parameters", Map.of("mode", "cpr-transfer")).containsKey("return"));
                assertTrue(q.execute("migrate", Map.of("channels", CprTransferIT.channels(dir))).containsKey("return"));
                QtestMigrationIT.awaitMigration(q, "completed");
                assertEquals("postmigrate", q.returned("query-status").get("status"));
                try (QmpClient n = QmpClient.unix(dir.resolve("new.qmp"), QtestVm.T).negotiated()) {
                    assertEquals("paused", n.returned("query-status").get("status"), "the new molt holds the guest paused");
                    if (ranThere) assertTrue(n.execute("cont").containsKey("return"));
                }
                ProcessHandle.of(neu.pid()).orElseThrow().destroyForcibly();
                neu.awaitExit(QtestVm.T);
            }
            // The old molt has read all the new molt said (and its end) once it closed its side of the main channel.
            try {
                GuestIT.waitFor(() -> socketsBefore.containsAll(sockets(oldPid)), QtestVm.T);
            } catch (AssertionError e) {
                throw new AssertionError("old molt's sockets: before " + socketsBefore + ", now " + fds(oldPid) + "\n" + old.process.stderr(), e);
            }
            Map<String, Object> cont = q.execute("cont");
            if (ranThere) {
                assertTrue(String.valueOf(cont.get("error")).contains("The guest was handed to another molt (cpr-transfer)"), cont.toString());
                assertEquals("postmigrate", q.returned("query-status").get("status"));
            } else {
                assertTrue(cont.containsKey("return"), cont.toString());
                assertEquals("running", q.returned("query-status").get("status"));
                assertEquals(-1, old.firstBadPage(4, BASE, LEN), "the guest's RAM in the old molt, byte for byte");
                old.writePattern(5, BASE, 1 << 20);
                assertEquals(-1, old.firstBadPage(5, BASE, 1 << 20), "the old molt runs the guest again");
            }
        }
    }

    /** A cpr-transfer target on dir/cpr.sock (QMP at dir/new.qmp), waited for until it listens there. */
    private static MoltProcess startTransferTarget(Path dir, String... incoming) throws Exception {
        List<String> a = new ArrayList<>(List.of(incoming));
        a.addAll(List.of("-incoming", CprTransferIT.unixCpr(dir)));
        MoltProcess neu = MoltProcess.start(QtestVm.named(dir, "new", "128M", a.toArray(String[]::new)).toArray(String[]::new));
        GuestIT.waitFor(() -> Files.exists(dir.resolve("cpr.sock")) || !neu.alive(), QtestVm.T);
        assertTrue(neu.alive(), neu.stderr());
        return neu;
    }

    // ---- 4. system_reset refusals around a cpr-transfer ----

    /**
     * system_reset writes the kernel into RAM: refused on the cpr-transfer destination still
     * incoming, on the source while the transfer is under way and once it is in postmigrate, on QMP
     * and HMP, with QEMU's texts. The source has a kernel, so a reset it wrongly accepted would show
     * in the RAM the destination reads back.
     */
    @Test
    void systemResetIsRefusedWhereTheGuestsRamIsAnotherProcesss(@TempDir Path dir) throws Exception {
        List<String> oldArgs = QtestVm.named(dir, "old", "128M", "-kernel", Project.testGuest().toString(),
                "-monitor", "unix:" + dir.resolve("old.hmp") + ",server=on,wait=off");
        try (QtestVm old = QtestVm.start(dir, oldArgs);
             QtestClient.Listener newQtest = new QtestClient.Listener(dir.resolve("new-qtest.sock"));
             QmpClient q = old.qmp();
             HmpClient oldHmp = new HmpClient(CprExecIT.connect(dir.resolve("old.hmp")));
             MoltProcess neu = startTransferTarget(dir, "-incoming", "defer", "-monitor", "unix:" + dir.resolve("new.hmp") + ",server=on,wait=off")) {
            oldHmp.await("(qemu) ", QtestVm.T);
            old.writePattern(6, BASE, LEN);
            assertTrue(q.execute("migrate-set-parameters", Map.of("mode", "cpr-transfer")).containsKey("return"));
            assertTrue(q.execute("migrate", Map.of("channels", CprTransferIT.channels(dir))).containsKey("return"));
            // The new molt serves its monitors once it has the CPR state (the RAM fds); then it waits for
            // migrate-incoming, and the old one waits for it.
            try (QmpClient n = QmpClient.unix(dir.resolve("new.qmp"), QtestVm.T).negotiated();
                 HmpClient newHmp = new HmpClient(CprExecIT.connect(dir.resolve("new.hmp")))) {
                newHmp.await("(qemu) ", QtestVm.T);
                GuestIT.waitFor(() -> "setup".equals(q.returned("query-migrate").get("status"))
                        && "inmigrate".equals(n.returned("query-status").get("status")), QtestVm.T);
                assertResetRefused(n, newHmp, "Guest is waiting for an incoming migration");
                assertResetRefused(q, oldHmp, "There's a migration process in progress");
                assertEquals("running", q.returned("query-status").get("status"));
                assertTrue(n.execute("migrate-incoming", Map.of("uri", "unix:" + dir.resolve("main.sock"))).containsKey("return"));
                QtestMigrationIT.awaitMigration(q, "completed");
                assertResetRefused(q, oldHmp, "Cannot reset a VM in state 'postmigrate'");
                GuestIT.waitFor(() -> "running".equals(n.returned("query-status").get("status")), QtestVm.T);
            }
            try (QtestClient nq = newQtest.accept(QtestVm.T)) {
                assertEquals(-1, RamPattern.firstBadPage(6, BASE, nq.read(BASE, LEN)), "no reset wrote the kernel over the guest's RAM");
            }
        }
    }

    private static void assertResetRefused(QmpClient qmp, HmpClient hmp, String error) throws Exception {
        Map<String, Object> r = qmp.execute("system_reset");
        assertTrue(String.valueOf(r.get("error")).contains(error), "QMP system_reset: " + r);
        String out = hmp.command("system_reset", QtestVm.T);
        assertTrue(out.contains(error), "HMP system_reset: " + out);
    }

    // ---- 5. a reset under a new molt started without -kernel ----

    /**
     * After a cpr-exec whose new command line has no -kernel, a guest reset boots the kernel the CPR
     * state recorded: the kernel's PT_LOAD segments are back in RAM at their addresses. Nothing
     * rolls back to the update's state: the same process, the same qtest connection (no exec
     * happened), the clock as the new molt left it, RAM elsewhere untouched.
     */
    @Test
    void aResetUnderANewMoltWithoutKernelBootsTheRecordedKernel(@TempDir Path dir) throws Exception {
        Path kernel = Project.testGuest();
        List<String> args = QtestVm.args(dir, "128M");
        List<String> withKernel = new ArrayList<>(args);
        withKernel.addAll(List.of("-kernel", kernel.toString()));
        List<Segment> segments = loadSegments(kernel);
        long elsewhere = 32L << 20;
        Path state = dir.resolve("vm.state");
        try (QtestVm vm = QtestVm.start(dir, withKernel); QmpClient watcher = vm.qmp()) {
            long pid = vm.process.pid();
            for (Segment s : segments) assertTrue(s.inRam(vm.qtest), "the kernel is loaded at start: " + s);
            for (Segment s : segments) vm.qtest.ok("memset 0x" + Long.toHexString(s.paddr()) + " " + s.bytes().length + " 0xa5");
            vm.writePattern(7, elsewhere, LEN);
            assertTrue(update(dir, newMolt(args, state), "file:" + state).containsKey("return"), "the new molt has no -kernel");
            awaitCompleted(dir);
            QtestClient qtest = vm.reconnect();
            for (Segment s : segments) assertFalse(s.inRam(qtest), "the update itself loads no kernel: " + s);
            assertEquals("1000", qtest.ok("clock_step 1000"));
            try (QmpClient q = vm.qmp()) {
                assertTrue(q.execute("system_reset").containsKey("return"));
                q.event("RESET", QtestVm.T);
                for (Segment s : segments) {
                    GuestIT.waitFor(() -> s.inRam(qtest), QtestVm.T);
                }
                assertEquals("running", q.returned("query-status").get("status"));
            }
            assertEquals("1001", qtest.ok("clock_step 1"), "the same qtest connection, the clock as the new molt had it: no rollback");
            assertEquals(-1, vm.firstBadPage(7, elsewhere, LEN), "RAM outside the kernel untouched");
            assertEquals(pid, vm.process.pid());
            assertTrue(vm.process.alive());
            assertFalse(vm.process.stderr().contains("going back"), vm.process.stderr());
        }
    }

    /** A PT_LOAD segment of an ELF64 kernel: its file bytes land at {@code paddr}. */
    private record Segment(long paddr, byte[] bytes) {
        boolean inRam(QtestClient qtest) throws IOException {
            return java.util.Arrays.equals(bytes, qtest.read(paddr, bytes.length));
        }
    }

    private static List<Segment> loadSegments(Path elf) throws IOException {
        byte[] image = Files.readAllBytes(elf);
        ByteBuffer b = ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN);
        long phoff = b.getLong(0x20);
        int phentsize = Short.toUnsignedInt(b.getShort(0x36));
        int phnum = Short.toUnsignedInt(b.getShort(0x38));
        List<Segment> out = new ArrayList<>();
        for (int i = 0; i < phnum; i++) {
            int ph = (int) (phoff + (long) i * phentsize);
            if (b.getInt(ph) != 1 || b.getLong(ph + 0x20) == 0) continue; // PT_LOAD with file bytes
            int offset = (int) b.getLong(ph + 0x08);
            out.add(new Segment(b.getLong(ph + 0x18), java.util.Arrays.copyOfRange(image, offset, offset + (int) b.getLong(ph + 0x20))));
        }
        assertFalse(out.isEmpty(), "no PT_LOAD in " + elf);
        return out;
    }

    // ---- 6. the fds of a molt the keeper relaunched ----

    /**
     * The keeper's relaunch of the previous molt (the new binary died at start) holds no fd a fresh
     * molt of the same command line does not: not the jar twice, not the file console twice, not
     * the keeper's pipe. Only the CPR state it resumed from is extra.
     */
    @Test
    void aMoltTheKeeperRelaunchedHoldsNoFdAFreshMoltDoesNot(@TempDir Path dir) throws Exception {
        Path pidfile = dir.resolve("molt.pid");
        List<String> args = QtestVm.args(dir, "128M", "-pidfile", pidfile.toString());
        Path state = dir.resolve("vm.state");
        Path broken = dir.resolve("broken-molt");
        Files.writeString(broken, "#!/bin/sh\nexit 3\n");
        assertTrue(broken.toFile().setExecutable(true));
        long relaunched = -1;
        try (QtestVm vm = QtestVm.start(dir, args)) {
            vm.writePattern(8, BASE, LEN);
            try (QmpClient q = vm.qmp()) { // a QMP session come and gone, as after the relaunch
                assertEquals("running", q.returned("query-status").get("status"));
            }
            Map<String, Integer> fresh = fdKinds(vm.process.pid(), dir);
            assertTrue(update(dir, List.of(broken.toString()), "file:" + state).containsKey("return"));
            vm.process.awaitExit(QtestVm.T);
            awaitCompleted(dir);
            vm.reconnect();
            relaunched = Long.parseLong(Files.readString(pidfile).trim());
            assertTrue(relaunched != vm.process.pid(), "relaunched by the keeper in its own PID");
            assertEquals(-1, vm.firstBadPage(8, BASE, LEN));
            // Sessions that just ended close their sockets on threads of their own: wait a little for them.
            long deadline = System.nanoTime() + java.time.Duration.ofSeconds(10).toNanos();
            Map<String, Integer> extra = beyond(fdKinds(relaunched, dir), fresh);
            while (!extra.isEmpty() && System.nanoTime() < deadline) {
                Thread.sleep(100);
                extra = beyond(fdKinds(relaunched, dir), fresh);
            }
            assertEquals(Map.of(), extra, "fds of the relaunched molt beyond a fresh one's (" + fresh + "): " + fds(relaunched));
        } finally {
            if (relaunched > 0) ProcessHandle.of(relaunched).ifPresent(ProcessHandle::destroyForcibly);
        }
    }

    /** What {@code fds} holds beyond {@code fresh}, kind by kind; the CPR state a relaunch resumed from is expected. */
    private static Map<String, Integer> beyond(Map<String, Integer> fds, Map<String, Integer> fresh) {
        Map<String, Integer> extra = new TreeMap<>();
        fds.forEach((kind, n) -> {
            int more = n - fresh.getOrDefault(kind, 0);
            if (more > 0 && !kind.startsWith("/memfd:MOLT_CPR_EXEC_STATE")) extra.put(kind, more);
        });
        return extra;
    }

    /** {@code pid}'s fds by kind: files by path (dir as "DIR"), sockets, pipes and anonymous inodes by type. */
    private static Map<String, Integer> fdKinds(long pid, Path dir) throws Exception {
        Map<String, Integer> kinds = new TreeMap<>();
        fds(pid).forEach((n, target) -> {
            String kind = target.replaceAll(":\\[\\d+]$", "").replace(dir.toString(), "DIR");
            kinds.merge(n <= 2 ? "stdio " + kind : kind, 1, Integer::sum);
        });
        return kinds;
    }

    // ---- 7. exec: migration children after a live update ----

    /**
     * molt runs after a cpr-exec with MOLT_CPR_EXEC_STATE in its environment, and after going back
     * with MOLT_CPR_ROLLBACK too; neither reaches the command of an exec: migration, which would
     * take the fd number for a state of its own.
     */
    @Test
    void execMigrationChildrenDoNotSeeTheLiveUpdatesVariables(@TempDir Path dir) throws Exception {
        List<String> args = QtestVm.args(dir, "128M");
        Path state = dir.resolve("vm.state");
        Path env = dir.resolve("child.env");
        try (QtestVm vm = QtestVm.start(dir, args)) {
            long pid = vm.process.pid();
            List<String> noIncoming = new ArrayList<>(List.of(Project.launcher().toString()));
            noIncoming.addAll(args); // goes back: the previous molt runs with MOLT_CPR_ROLLBACK set
            assertTrue(update(dir, noIncoming, "file:" + state).containsKey("return"));
            awaitCompleted(dir);
            vm.reconnect();
            String own = Files.readString(Path.of("/proc/" + pid + "/environ")).replace('\0', '\n');
            assertTrue(own.contains("MOLT_CPR_EXEC_STATE=") && own.contains("MOLT_CPR_ROLLBACK="), "molt's own environment: " + own);
            try (QmpClient q = vm.qmp()) {
                Map<String, Object> r = q.execute("migrate", Map.of("uri", "exec:env > " + env + "; cat > /dev/null"));
                assertTrue(r.containsKey("return"), r.toString());
                QtestMigrationIT.awaitMigration(q, "completed");
            }
            String child = Files.readString(env);
            assertTrue(child.contains("PATH="), "the child's environment was dumped: " + child);
            assertFalse(child.contains("MOLT_CPR_EXEC_STATE"), child);
            assertFalse(child.contains("MOLT_CPR_ROLLBACK"), child);
        }
    }

    // ---- helpers ----

    /** The size of the CPR state memfd {@code pid} holds (0 until the update has written it). */
    private static long cprStateBytes(long pid) throws Exception {
        for (Map.Entry<Integer, String> fd : fds(pid).entrySet()) {
            if (fd.getValue().startsWith("/memfd:MOLT_CPR_EXEC_STATE")) return Files.size(Path.of("/proc/" + pid + "/fd/" + fd.getKey()));
        }
        return 0;
    }

    /** The inode of the guest RAM memfd that {@code pid} holds. */
    private static long ramInode(long pid) throws Exception {
        for (Map.Entry<Integer, String> fd : fds(pid).entrySet()) {
            if (fd.getValue().startsWith("/memfd:microvm.ram")) {
                return (Long) Files.getAttribute(Path.of("/proc/" + pid + "/fd/" + fd.getKey()), "unix:ino");
            }
        }
        throw new AssertionError("no RAM memfd in " + fds(pid));
    }

    /** Every process holding an fd of the memfd {@code inode}. */
    private static List<Long> holdersOf(long inode) throws Exception {
        List<Long> holders = new ArrayList<>();
        try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
            for (Path p : procs.filter(x -> x.getFileName().toString().matches("\\d+")).toList()) {
                long pid = Long.parseLong(p.getFileName().toString());
                try {
                    for (Map.Entry<Integer, String> fd : fds(pid).entrySet()) {
                        if (fd.getValue().startsWith("/memfd:microvm.ram")
                                && inode == (Long) Files.getAttribute(p.resolve("fd/" + fd.getKey()), "unix:ino")) {
                            holders.add(pid);
                        }
                    }
                } catch (Exception ignored) {
                    // Gone meanwhile, or not ours to read.
                }
            }
        }
        return holders;
    }

    /** The sockets {@code pid} holds ("socket:[inode]"). */
    private static Set<String> sockets(long pid) throws Exception {
        Set<String> out = new HashSet<>(fds(pid).values());
        out.removeIf(f -> !f.startsWith("socket:"));
        return out;
    }
}
