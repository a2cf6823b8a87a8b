package dev.molt.migration;

import dev.molt.machine.MachineConfig;
import dev.molt.machine.RunState;
import dev.molt.migration.cpr.CprState;
import dev.molt.monitor.CommandError;
import dev.molt.monitor.MigrationCommands;
import dev.molt.testsupport.FakeMachine;
import dev.molt.testsupport.FakeTransport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;

import static dev.molt.testsupport.Migrations.await;
import static dev.molt.testsupport.Migrations.migrateTo;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The migration interface as a management tool (libvirt, a control plane) drives it, against
 * QEMU 10.2's behaviour and texts: one migrate-incoming per process, -S holding an arriving guest,
 * pause-before-switchover with migrate-continue, migrate_cancel on a destination, query-migrate's
 * states, MIGRATION_PASS numbering and blocked-reasons.
 */
class ManagementInterfaceTest {
    private final List<FakeMachine> machines = new ArrayList<>();
    private final List<String> events = Collections.synchronizedList(new ArrayList<>());

    @AfterEach
    void close() {
        machines.forEach(FakeMachine::close);
    }

    private FakeMachine machine(RunState state) {
        FakeMachine m = new FakeMachine(FakeMachine.config("", "", ""), state);
        machines.add(m);
        return m;
    }

    /** An engine whose events are recorded as "EVENT data". */
    private MigrationEngine engine(FakeMachine m, FakeTransport t) {
        return new MigrationEngine(m, (event, data) -> events.add(event + " " + data), t);
    }

    private static MigrationCommands.IncomingRequest incoming(String uri) {
        return new MigrationCommands.IncomingRequest(Optional.of(uri), Optional.empty(), false);
    }

    /** A whole normal-mode stream (RAM and device state) from a source whose guest runs. */
    private byte[] streamOfARunningGuest() throws Exception {
        FakeTransport t = new FakeTransport();
        MigrationEngine source = engine(machine(RunState.RUNNING), t);
        source.migrate(migrateTo("unix:/run/mig.sock"));
        await(source, MigrationStatus.COMPLETED);
        return t.sent.toByteArray();
    }

    /** A destination (under -S or not) whose incoming migration of a running guest over {@code t} started; t's stream is set. */
    private MigrationEngine destination(FakeMachine dst, FakeTransport t, boolean startPaused) throws Exception {
        if (t.incoming.length == 0) t.incoming = streamOfARunningGuest();
        MigrationEngine engine = engine(dst, t);
        engine.allowIncoming(startPaused, () -> fail(engine.lastError()));
        engine.migrateIncoming(incoming("unix:/run/mig.sock"));
        return engine;
    }

    private static String message(Runnable r) {
        return assertThrows(CommandError.class, r::run).getMessage();
    }

    @Test
    void aSecondMigrateIncomingIsRefusedOnceOneStartedWhateverBecameOfIt() throws Exception {
        FakeMachine dst = machine(RunState.PRELAUNCH);
        MigrationEngine engine = destination(dst, new FakeTransport(), false);
        engine.awaitIncoming();
        assertEquals(MigrationStatus.COMPLETED, engine.status(), engine.lastError());
        // QEMU's text; a second load would write pages into the guest now running.
        assertEquals("The incoming migration has already been started", message(() -> engine.migrateIncoming(incoming("unix:/run/b.sock"))));
        assertEquals(1, dst.loaded.size());
        // The guest it received can go on, once: a migration's source ends in postmigrate.
        engine.migrate(migrateTo("unix:/run/next.sock"));
        await(engine, MigrationStatus.COMPLETED);
        assertEquals("Can't migrate the vm that was paused due to previous migration",
                message(() -> engine.migrate(migrateTo("unix:/run/next.sock"))));
    }

    @Test
    void aFailedIncomingMigrationIsNotStartedAgainEither() throws Exception {
        FakeTransport t = new FakeTransport();
        t.incoming = new byte[] {1, 2, 3}; // not a migration stream
        MigrationEngine engine = engine(machine(RunState.PRELAUNCH), t);
        engine.allowIncoming(false, () -> { });
        engine.migrateIncoming(incoming("unix:/run/mig.sock"));
        engine.awaitIncoming();
        assertEquals(MigrationStatus.FAILED, engine.status());
        assertEquals("The incoming migration has already been started", message(() -> engine.migrateIncoming(incoming("unix:/run/mig.sock"))));
    }

    @Test
    void withoutIncomingTheCommandSaysSoInQemusWords() {
        MigrationEngine engine = engine(machine(RunState.RUNNING), new FakeTransport());
        assertEquals("'-incoming' was not specified on the command line", message(() -> engine.migrateIncoming(incoming("unix:/x"))));
    }

    @Test
    void underMinusSAGuestThatArrivesRunningWaitsForCont() throws Exception {
        FakeMachine dst = machine(RunState.PRELAUNCH);
        MigrationEngine engine = destination(dst, new FakeTransport(), true);
        engine.awaitIncoming();
        assertEquals(MigrationStatus.COMPLETED, engine.status(), engine.lastError());
        assertEquals(RunState.PAUSED, dst.state(), "QEMU's autostart=false: paused, for the management tool to cont");
        assertFalse(dst.vcpusRunning());
    }

    @Test
    void withoutMinusSTheGuestRunsAsItDidAtTheSource() throws Exception {
        FakeMachine dst = machine(RunState.PRELAUNCH);
        destination(dst, new FakeTransport(), false).awaitIncoming();
        assertTrue(dst.vcpusRunning());
    }

    @Test
    void underMinusSACprTransferGuestStaysPausedAndTheOldMoltKnowsIt() throws Exception {
        FakeMachine dst = machine(RunState.PRELAUNCH);
        FakeTransport t = new FakeTransport();
        t.incoming = LiveUpdateEngineTest.deviceState(dst, true);
        MigrationEngine engine = engine(dst, t);
        engine.allowIncoming(true, () -> fail(engine.lastError()));
        CprState state = new CprState(List.of(), List.of("/usr/bin/molt"), "", 0, 0, 0, true);
        engine.startIncoming(incoming("unix:/run/mig.sock"), true, new MigrationEngine.CprInPlace(state, 0, true, () -> { }, () -> { }));
        engine.awaitIncoming();
        assertEquals(MigrationStatus.COMPLETED, engine.status(), engine.lastError());
        assertFalse(dst.vcpusRunning());
        // Taken over, paused here: the old molt must not resume it, and has not been told it runs here.
        assertArrayEquals(new byte[] {HandOver.RESUMING, HandOver.PAUSED_HERE}, t.returned.toByteArray());
    }

    @Test
    void aCprExecNewMoltResumesTheGuestWhateverItsCommandLineSays() throws Exception {
        FakeMachine dst = machine(RunState.PRELAUNCH);
        FakeTransport t = new FakeTransport();
        t.incoming = LiveUpdateEngineTest.deviceState(dst, true);
        MigrationEngine engine = engine(dst, t);
        engine.allowIncoming(true, () -> fail(engine.lastError()));
        CprState state = new CprState(List.of(), List.of("/usr/bin/molt"), "file:/run/vm.state", 0, 0, 0, true);
        engine.startIncoming(incoming("file:/run/vm.state"), true, MigrationEngine.CprInPlace.exec(state, 0, () -> { }));
        engine.awaitIncoming();
        assertEquals(MigrationStatus.COMPLETED, engine.status(), engine.lastError());
        assertTrue(dst.vcpusRunning(), "cpr-exec-command's -S does not pause a guest updated in place");
    }

    @Test
    void theDestinationSaysSetupUntilTheSourceConnectsAndIgnoresMigrateCancel() throws Exception {
        FakeTransport t = new FakeTransport();
        t.incoming = streamOfARunningGuest();
        t.sourceConnects = new CountDownLatch(1);
        MigrationEngine engine = engine(machine(RunState.PRELAUNCH), t);
        engine.allowIncoming(false, () -> fail(engine.lastError()));
        engine.setCapabilities(List.of(new MigrationCommands.CapabilityState("events", true)));
        engine.migrateIncoming(incoming("unix:/run/mig.sock"));
        Thread.sleep(50);
        assertEquals("setup", engine.queryMigrate().get("status"), "listening, no source yet");
        engine.cancel(); // QEMU: migrate_cancel acts on the outgoing migration, of which a destination has none
        assertEquals("setup", engine.queryMigrate().get("status"));
        assertFalse(t.incomingClosed);
        assertEquals("Migration not in expected state: none", message(() -> engine.migrateContinue("setup")));
        assertEquals("Guest is waiting for an incoming migration", message(() -> engine.migrate(migrateTo("unix:/run/out.sock"))));
        t.sourceConnects.countDown();
        engine.awaitIncoming();
        assertEquals(MigrationStatus.COMPLETED, engine.status(), engine.lastError());
        assertEquals(List.of("MIGRATION {status=setup}", "MIGRATION {status=active}", "MIGRATION {status=completed}"), events);
    }

    @Test
    void pauseBeforeSwitchoverWaitsWithTheGuestStoppedUntilMigrateContinue() throws Exception {
        FakeMachine src = machine(RunState.RUNNING);
        FakeTransport t = new FakeTransport();
        MigrationEngine engine = engine(src, t);
        engine.setCapabilities(List.of(new MigrationCommands.CapabilityState("events", true),
                new MigrationCommands.CapabilityState("pause-before-switchover", true)));
        engine.migrate(migrateTo("unix:/run/mig.sock"));
        await(engine, MigrationStatus.PRE_SWITCHOVER);
        assertEquals(RunState.FINISH_MIGRATE, src.state());
        assertFalse(src.vcpusRunning());
        Thread.sleep(50);
        assertEquals("pre-switchover", engine.queryMigrate().get("status"), "it waits");
        assertEquals("Migration not in expected state: pre-switchover", message(() -> engine.migrateContinue("active")));
        engine.migrateContinue("pre-switchover");
        await(engine, MigrationStatus.COMPLETED);
        assertEquals(RunState.POSTMIGRATE, src.state());
        assertEquals("Migration not in expected state: completed", message(() -> engine.migrateContinue("pre-switchover")));
        List<String> statuses = events.stream().filter(e -> e.startsWith("MIGRATION ")).toList();
        assertEquals(List.of("MIGRATION {status=setup}", "MIGRATION {status=active}", "MIGRATION {status=pre-switchover}",
                "MIGRATION {status=device}", "MIGRATION {status=completed}"), statuses);
    }

    @Test
    void aCancelInPreSwitchoverGivesTheGuestBack() throws Exception {
        FakeMachine src = machine(RunState.RUNNING);
        MigrationEngine engine = engine(src, new FakeTransport());
        engine.setCapabilities(List.of(new MigrationCommands.CapabilityState("pause-before-switchover", true)));
        engine.migrate(migrateTo("unix:/run/mig.sock"));
        await(engine, MigrationStatus.PRE_SWITCHOVER);
        engine.cancel();
        await(engine, MigrationStatus.CANCELLED);
        assertEquals(RunState.RUNNING, src.state());
        assertTrue(src.vcpusRunning());
    }

    @Test
    void aCprExecRefusesPauseBeforeSwitchoverBeforeTheGuestStops() {
        FakeMachine src = machine(RunState.RUNNING);
        MigrationEngine engine = dev.molt.testsupport.Migrations.engine(src, new FakeTransport(), "cpr-exec",
                dev.molt.testsupport.Migrations.FAILING_EXEC);
        engine.setCapabilities(List.of(new MigrationCommands.CapabilityState("pause-before-switchover", true)));
        assertTrue(message(() -> engine.migrate(migrateTo("file:/run/vm.state"))).startsWith("pause-before-switchover is not supported with cpr-exec"));
        assertTrue(src.vcpusRunning());
        assertEquals(Map.of(), engine.queryMigrate());
    }

    @Test
    void lateBlockActivateIsAcceptedAndReported() {
        MigrationEngine engine = engine(machine(RunState.INMIGRATE), new FakeTransport());
        engine.setCapabilities(List.of(new MigrationCommands.CapabilityState("late-block-activate", true)));
        assertTrue(engine.queryCapabilities().contains(new MigrationCommands.CapabilityState("late-block-activate", true)));
    }

    @Test
    void resumeIsRefusedAsThereIsNeverAPausedMigration() {
        MigrationEngine engine = engine(machine(RunState.RUNNING), new FakeTransport());
        assertEquals("Cannot resume if there is no paused migration", message(() -> engine.migrate(
                new MigrationCommands.MigrateRequest(Optional.of("unix:/run/mig.sock"), Optional.empty(), true, true))));
        assertEquals(Map.of(), engine.queryMigrate(), "nothing started");
    }

    @Test
    void migrationPassCountsFromOne() throws Exception {
        MigrationEngine engine = engine(machine(RunState.RUNNING), new FakeTransport());
        engine.setCapabilities(List.of(new MigrationCommands.CapabilityState("events", true)));
        engine.migrate(migrateTo("unix:/run/mig.sock"));
        await(engine, MigrationStatus.COMPLETED);
        List<String> passes = events.stream().filter(e -> e.startsWith("MIGRATION_PASS")).toList();
        assertEquals("MIGRATION_PASS {pass=1}", passes.getFirst(), "QEMU's first sync, before the first pass, is pass 1");
        for (int i = 0; i < passes.size(); i++) assertEquals("MIGRATION_PASS {pass=" + (i + 1) + "}", passes.get(i));
        @SuppressWarnings("unchecked")
        Map<String, Object> ram = (Map<String, Object>) engine.queryMigrate().get("ram");
        assertEquals((long) passes.size(), ram.get("dirty-sync-count"), "one event per sync");
    }

    @Test
    void aCprRebootCopiesRamInActiveAndReportsItsRamCounters() throws Exception {
        FakeTransport t = new FakeTransport();
        FakeMachine src = machine(RunState.RUNNING);
        byte[] notZero = new byte[2 << 20];
        java.util.Arrays.fill(notZero, (byte) 0x5a);
        src.ram().memory().write(0, notZero); // zero pages go as a flag: these fill the stream's buffer
        MigrationEngine engine = dev.molt.testsupport.Migrations.engine(src, t, "cpr-reboot", dev.molt.testsupport.Migrations.FAILING_EXEC);
        List<MigrationStatus> whileWriting = Collections.synchronizedList(new ArrayList<>());
        t.onWrite = () -> whileWriting.add(engine.status());
        engine.migrate(migrateTo("file:/run/vm.state"));
        await(engine, MigrationStatus.COMPLETED);
        // 2 MiB of data through a 1 MiB buffer: its first write is part of the RAM copy, the last the device state's.
        assertEquals(MigrationStatus.ACTIVE, whileWriting.getFirst(), "QEMU: the guest stopped at the start, RAM goes in active");
        assertEquals(MigrationStatus.DEVICE, whileWriting.getLast());
        assertTrue(engine.queryMigrate().containsKey("ram"));
    }

    @Test
    void blockedReasonsSayBeforehandWhyALiveUpdateWouldBeRefused() {
        MachineConfig privateRam = new MachineConfig("fake", 1, 2 << 20, null, false, null, null, "", false, false, Map.of());
        FakeMachine m = new FakeMachine(privateRam, RunState.RUNNING);
        machines.add(m);
        MigrationEngine engine = engine(m, new FakeTransport());
        assertEquals(Map.of(), engine.queryMigrate(), "a normal migration is possible");
        engine.setParameters(Map.of("mode", "cpr-transfer"));
        String reason = "Memory region " + m.ram().block().name() + " is not compatible with CPR. share=on is required for"
                + " memory-backend objects, and aux-ram-share=on is required.";
        assertEquals(Map.of("blocked-reasons", List.of(reason)), engine.queryMigrate());
        assertEquals(reason, message(() -> engine.migrate(migrateTo("unix:/run/mig.sock"))), "the same words when it is tried");
    }
}
