package dev.molt.migration;

import dev.molt.machine.RunState;
import dev.molt.migration.cpr.CprState;
import dev.molt.migration.cpr.CprStateFile;
import dev.molt.monitor.EventSink;
import dev.molt.monitor.MigrationCommands;
import dev.molt.testsupport.FakeMachine;
import dev.molt.testsupport.FakeTransport;
import dev.molt.testsupport.Migrations;

import static dev.molt.testsupport.Migrations.await;
import static dev.molt.testsupport.Migrations.migrateTo;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The migration engine's live updates over a machine double: what the old molt hands over and how
 * the new one takes the guest. The exec is replaced by a recorder that fails, as an exec can.
 */
class LiveUpdateEngineTest {
    private FakeMachine machine;

    @AfterEach
    void close() {
        if (machine != null) machine.close();
    }

    /** A cpr-exec engine whose exec reads the CPR state it was given and fails. */
    static MigrationEngine cprExec(FakeMachine machine, FakeTransport transport, AtomicReference<CprState> handedOver) {
        return Migrations.engine(machine, transport, "cpr-exec", (program, command, keep, cprState, env) -> {
            try {
                handedOver.set(CprStateFile.read(cprState.num()).state());
            } catch (Exception e) {
                throw new AssertionError(e);
            }
            return "execvp /bin/true failed: simulated";
        });
    }

    @Test
    void theOldMoltHandsOverHowItBootsTheGuest() throws Exception {
        machine = new FakeMachine(FakeMachine.config("guest/vmlinux", "guest/initrd.img", "console=ttyS0"), RunState.RUNNING);
        AtomicReference<CprState> handedOver = new AtomicReference<>();
        MigrationEngine engine = cprExec(machine, new FakeTransport(), handedOver);
        engine.migrate(migrateTo("file:/run/vm.state"));
        await(engine, MigrationStatus.FAILED); // the exec failed
        CprState.BootSource boot = java.util.Objects.requireNonNull(handedOver.get(), engine.lastError()).boot();
        assertEquals(Path.of("guest/vmlinux").toAbsolutePath().toString(), boot.kernel(), "absolute: the next molt may run elsewhere");
        assertEquals(Path.of("guest/initrd.img").toAbsolutePath().toString(), boot.initrd());
        assertEquals("console=ttyS0", boot.append());
        assertEquals(RunState.RUNNING, machine.state(), "the exec failed: the guest runs on here");
    }

    @Test
    void aMoltWithoutKernelHandsOverNone() throws Exception {
        machine = new FakeMachine(FakeMachine.config("", "", ""), RunState.RUNNING);
        AtomicReference<CprState> handedOver = new AtomicReference<>();
        MigrationEngine engine = cprExec(machine, new FakeTransport(), handedOver);
        engine.migrate(migrateTo("file:/run/vm.state"));
        await(engine, MigrationStatus.FAILED);
        assertEquals(CprState.BootSource.NONE, handedOver.get().boot());
    }

    /** A device state as the old molt of a cpr-transfer sends it: no RAM page. */
    static byte[] deviceState(FakeMachine machine, boolean running) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        VmStreamCodec.Writer w = VmStreamCodec.writer(out, machine.ram());
        w.state(FakeMachine.zeroedState(1, running));
        w.finish();
        return out.toByteArray();
    }

    @Test
    void aCprTransferTakesTheGuestOverOnlyOnceTheOldMoltWasToldSo() throws Exception {
        machine = new FakeMachine(FakeMachine.config("", "", ""), RunState.PRELAUNCH);
        FakeTransport transport = new FakeTransport();
        transport.incoming = deviceState(machine, true);
        MigrationEngine engine = new MigrationEngine(machine, EventSink.NONE, transport);
        engine.allowIncoming(false, () -> fail("the incoming migration failed: " + engine.lastError()));
        AtomicReference<byte[]> repliedAtTakeOver = new AtomicReference<>();
        CprState state = new CprState(List.of(), List.of("/usr/bin/molt"), "", 0, 0, 0, true);
        engine.startIncoming(new MigrationCommands.IncomingRequest(Optional.of("unix:/run/mig.sock"), Optional.empty(), true), true,
                new MigrationEngine.CprInPlace(state, 0, true, () -> { }, () -> repliedAtTakeOver.set(transport.returned.toByteArray())));
        engine.awaitIncoming();
        assertEquals(MigrationStatus.COMPLETED, engine.status());
        assertArrayEquals(new byte[] {HandOver.RESUMING, HandOver.PAUSED_HERE}, repliedAtTakeOver.get(),
                "taken over (no way back) exactly when the old molt was told it may let go");
        assertArrayEquals(new byte[] {HandOver.RESUMING, HandOver.PAUSED_HERE, HandOver.RUNS_HERE}, transport.returned.toByteArray(),
                "then, before the guest ran, that it runs here");
        assertTrue(machine.vcpusRunning());
    }

    /** The new molt of a cpr-exec, over {@code machine}, loading {@code stream} for the update {@code state} describes. */
    private static MigrationEngine newMolt(FakeMachine machine, byte[] stream, CprState state, Runnable tookOver, Runnable onFailure) {
        FakeTransport transport = new FakeTransport();
        transport.incoming = stream;
        MigrationEngine engine = new MigrationEngine(machine, EventSink.NONE, transport);
        engine.allowIncoming(false, onFailure);
        engine.startIncoming(new MigrationCommands.IncomingRequest(Optional.of("file:/run/vm.state"), Optional.empty(), true), true,
                MigrationEngine.CprInPlace.exec(state, 0, tookOver));
        engine.awaitIncoming();
        return engine;
    }

    @Test
    void theNewMoltLoadsTheDeviceStateItsOldMoltWrote() throws Exception {
        machine = new FakeMachine(FakeMachine.config("", "", ""), RunState.RUNNING);
        FakeTransport transport = new FakeTransport();
        AtomicReference<CprState> handedOver = new AtomicReference<>();
        MigrationEngine old = cprExec(machine, transport, handedOver);
        old.migrate(migrateTo("file:/run/vm.state"));
        await(old, MigrationStatus.FAILED);
        assertEquals(transport.sent.size(), handedOver.get().deviceState().bytes(), "the identity is of the whole file");
        try (FakeMachine next = new FakeMachine(FakeMachine.config("", "", ""), RunState.PRELAUNCH)) {
            MigrationEngine engine = newMolt(next, transport.sent.toByteArray(), handedOver.get(), () -> { }, () -> fail("refused"));
            assertEquals(MigrationStatus.COMPLETED, engine.status(), String.valueOf(engine.lastError()));
            assertTrue(next.vcpusRunning());
        }
    }

    @Test
    void aDeviceStateLeftByAnEarlierUpdateIsRefusedBeforeAnythingIsRestored() throws Exception {
        machine = new FakeMachine(FakeMachine.config("", "", ""), RunState.PRELAUNCH);
        byte[] thisUpdates = deviceState(machine, true);
        byte[] stale = deviceState(machine, false); // what an earlier update left at the same path
        CprState.StreamId written = new CprState.StreamId(thisUpdates.length, crc32cOf(thisUpdates));
        CprState state = new CprState(List.of(), List.of("/usr/bin/molt"), "file:/run/vm.state", 0, 0, 0, true).withDeviceState(written);
        java.util.concurrent.atomic.AtomicBoolean tookOver = new java.util.concurrent.atomic.AtomicBoolean(), wentBack = new java.util.concurrent.atomic.AtomicBoolean();
        MigrationEngine engine = newMolt(machine, stale, state, () -> tookOver.set(true), () -> wentBack.set(true));
        assertEquals(MigrationStatus.FAILED, engine.status());
        assertTrue(engine.lastError().contains("is not the one the old molt saved for this update"), engine.lastError());
        assertTrue(machine.loaded.isEmpty(), "nothing restored");
        long deadline = System.nanoTime() + 10_000_000_000L; // the failure hook runs just after the status says failed
        while (!wentBack.get() && System.nanoTime() < deadline) Thread.sleep(5);
        assertTrue(!tookOver.get() && wentBack.get(), "the keeper was not released, and the new molt goes back to the old one");
        try (FakeMachine control = new FakeMachine(FakeMachine.config("", "", ""), RunState.PRELAUNCH)) {
            assertEquals(MigrationStatus.COMPLETED, newMolt(control, thisUpdates, state, () -> { }, () -> fail("refused")).status(),
                    "the update's own state loads");
        }
    }

    /** The checksum a finished stream ends with (little-endian u32, as the format writes it), checked against its content. */
    private static long crc32cOf(byte[] stream) {
        java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
        crc.update(stream, 0, stream.length - 4);
        return crc.getValue();
    }

    @Test
    void whatTheExecNeedsIsCheckedBeforeTheGuestStops() {
        machine = new FakeMachine(FakeMachine.config("", "", ""), RunState.RUNNING);
        MigrationEngine engine = Migrations.engine(machine, new FakeTransport(), "cpr-exec", new MigrationEngine.Executor() {
            @Override
            public String exec(Path program, List<String> command, List<dev.molt.sys.Fd> keep, dev.molt.sys.Fd state, java.util.Map<String, String> env) {
                return fail("never reached");
            }

            @Override
            public void check() {
                throw new IllegalArgumentException("cpr-exec: this kernel cannot mark every fd close-on-exec: ENOSYS");
            }
        });
        var e = org.junit.jupiter.api.Assertions.assertThrows(dev.molt.monitor.CommandError.class, () -> engine.migrate(migrateTo("file:/run/vm.state")));
        assertEquals("cpr-exec: this kernel cannot mark every fd close-on-exec: ENOSYS", e.getMessage());
        assertEquals(MigrationStatus.NONE, engine.status(), "no migration started");
        assertTrue(machine.captured.isEmpty() && machine.vcpusRunning(), "the guest never stopped");
    }

    @Test
    void aFailureOnTheWayToTheExecGivesBackTheGuestAndTheMonitors() throws Exception {
        machine = new FakeMachine(FakeMachine.config("", "", ""), RunState.RUNNING);
        MigrationEngine engine = Migrations.engine(machine, new FakeTransport(), "cpr-exec", (program, command, keep, state, env) -> {
            throw new dev.molt.sys.ErrnoException("fcntl F_GETFD", 9); // an fd closed in the window, say
        });
        java.util.concurrent.atomic.AtomicInteger accepting = new java.util.concurrent.atomic.AtomicInteger(1);
        engine.setExecHooks(accepting::decrementAndGet, accepting::incrementAndGet);
        engine.migrate(migrateTo("file:/run/vm.state"));
        await(engine, MigrationStatus.FAILED);
        assertEquals(1, accepting.get(), "the monitors accept again");
        assertTrue(machine.vcpusRunning(), "the guest runs on here");
    }

    @Test
    void aGuestThatArrivesPausedKeepsTheOldMoltInformedUntilItRunsHere() throws Exception {
        machine = new FakeMachine(FakeMachine.config("", "", ""), RunState.PRELAUNCH);
        FakeTransport transport = new FakeTransport();
        transport.incoming = deviceState(machine, false);
        MigrationEngine engine = new MigrationEngine(machine, EventSink.NONE, transport);
        engine.allowIncoming(false, () -> fail("the incoming migration failed: " + engine.lastError()));
        CprState state = new CprState(List.of(), List.of("/usr/bin/molt"), "", 0, 0, 0, false);
        engine.startIncoming(new MigrationCommands.IncomingRequest(Optional.of("unix:/run/mig.sock"), Optional.empty(), true), true,
                new MigrationEngine.CprInPlace(state, 0, true, () -> { }, () -> { }));
        engine.awaitIncoming();
        assertArrayEquals(new byte[] {HandOver.RESUMING, HandOver.PAUSED_HERE}, transport.returned.toByteArray());
        assertTrue(!transport.incomingClosed, "kept open: its end tells the old molt the guest never ran here");
        engine.guestChangesHere(); // cont, say
        assertArrayEquals(new byte[] {HandOver.RESUMING, HandOver.PAUSED_HERE, HandOver.RUNS_HERE}, transport.returned.toByteArray());
        assertTrue(transport.incomingClosed);
    }
}
