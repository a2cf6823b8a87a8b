package dev.molt;

import dev.molt.machine.RunState;
import dev.molt.migration.MigrationEngine;
import dev.molt.migration.MigrationStatus;
import dev.molt.monitor.CommandError;
import dev.molt.monitor.EventSink;
import dev.molt.testsupport.FakeMachine;
import dev.molt.testsupport.FakeTransport;
import dev.molt.testsupport.Migrations;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.UncheckedIOException;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

import static dev.molt.testsupport.Migrations.await;
import static dev.molt.testsupport.Migrations.migrateTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * stop, cont, quit and migrate_cancel in order with a migration's switch-over: the monitor target
 * and the migration engine as molt wires them, over a machine double.
 */
class UpdateOrderingTest {
    private FakeMachine machine;

    @AfterEach
    void close() {
        if (machine != null) machine.close();
    }

    private MachineMonitorTarget target(MigrationEngine engine) {
        return new MachineMonitorTarget(machine, null, EventSink.NONE, "test", engine);
    }

    private static final UncheckedIOException CHANNEL_BROKE = new UncheckedIOException(new java.io.IOException("Broken pipe"));

    @Test
    void aStopJustBeforeTheMigrationStopsTheGuestIsNotLost() throws Exception {
        machine = new FakeMachine(RunState.RUNNING);
        FakeTransport transport = new FakeTransport();
        MigrationEngine engine = Migrations.engine(machine, transport, "cpr-reboot", Migrations.FAILING_EXEC);
        MachineMonitorTarget target = target(engine);
        machine.beforeStop = target::stop; // the user's stop lands between migrate and the migration's stop
        transport.onConfirm = () -> { throw CHANNEL_BROKE; };
        engine.migrate(migrateTo("file:/run/vm.state"));
        await(engine, MigrationStatus.FAILED);
        assertEquals(List.of(false), machine.captured, "the state says: not running (the destination must not resume it)");
        assertEquals(RunState.PAUSED, machine.state(), "the failed migration gives back a guest the user had stopped");
    }

    @Test
    void aStopDuringTheSwitchOverKeepsTheGuestPausedIfTheMigrationFails() throws Exception {
        machine = new FakeMachine(RunState.RUNNING);
        FakeTransport transport = new FakeTransport();
        MigrationEngine engine = Migrations.engine(machine, transport, "cpr-reboot", Migrations.FAILING_EXEC);
        MachineMonitorTarget target = target(engine);
        transport.onConfirm = () -> {
            target.stop(); // the guest is already stopped for the switch-over
            throw CHANNEL_BROKE;
        };
        engine.migrate(migrateTo("file:/run/vm.state"));
        await(engine, MigrationStatus.FAILED);
        assertEquals(RunState.PAUSED, machine.state());
        assertFalse(machine.vcpusRunning());
    }

    @Test
    void contDuringTheSwitchOverIsRefusedInQemusWords() throws Exception {
        machine = new FakeMachine(RunState.RUNNING);
        FakeTransport transport = new FakeTransport();
        MigrationEngine engine = Migrations.engine(machine, transport, "cpr-reboot", Migrations.FAILING_EXEC);
        MachineMonitorTarget target = target(engine);
        AtomicReference<String> refusal = new AtomicReference<>();
        transport.onConfirm = () -> refusal.set(assertThrows(CommandError.class, target::cont).getMessage());
        engine.migrate(migrateTo("file:/run/vm.state"));
        await(engine, MigrationStatus.COMPLETED);
        assertEquals("Migration is not finalized yet", refusal.get());
        assertEquals(RunState.POSTMIGRATE, machine.state());
    }

    @Test
    void aCancelBeforeTheExecIsACancelNotACompletedUpdate() throws Exception {
        machine = new FakeMachine(RunState.RUNNING);
        FakeTransport transport = new FakeTransport();
        AtomicBoolean execed = new AtomicBoolean();
        MigrationEngine engine = Migrations.engine(machine, transport, "cpr-exec", (program, command, keep, state, env) -> {
            execed.set(true);
            return "simulated";
        });
        transport.onConfirm = engine::cancel; // the device state is written; the exec has not happened
        engine.migrate(migrateTo("file:/run/vm.state"));
        await(engine, MigrationStatus.CANCELLED);
        assertFalse(execed.get(), "a cancelled update must not exec");
        assertEquals(RunState.RUNNING, machine.state(), "the guest runs on here");
    }

    @Test
    void aCancelPastThePointOfNoReturnChangesNothing() throws Exception {
        machine = new FakeMachine(RunState.RUNNING);
        AtomicReference<MigrationStatus> atExec = new AtomicReference<>();
        MigrationEngine[] engine = new MigrationEngine[1];
        engine[0] = Migrations.engine(machine, new FakeTransport(), "cpr-exec", (program, command, keep, state, env) -> {
            engine[0].cancel(); // arrives as the exec starts
            atExec.set(engine[0].status());
            return "simulated";
        });
        engine[0].migrate(migrateTo("file:/run/vm.state"));
        await(engine[0], MigrationStatus.FAILED);
        assertEquals(MigrationStatus.COMPLETED, atExec.get(), "not 'cancelling' while the exec goes ahead");
    }

    @Test
    void quitDuringAnUpdateCancelsItBeforeMoltEnds() throws Exception {
        machine = new FakeMachine(RunState.RUNNING);
        AtomicBoolean execed = new AtomicBoolean();
        MigrationEngine engine = Migrations.engine(machine, new FakeTransport(), "cpr-exec", (program, command, keep, state, env) -> {
            execed.set(true);
            return "simulated";
        });
        MachineMonitorTarget target = target(engine);
        machine.beforeStop = target::prepareQuit; // quit arrives while the update starts
        engine.migrate(migrateTo("file:/run/vm.state"));
        await(engine, MigrationStatus.CANCELLED);
        assertFalse(execed.get(), "no new molt to undo the quit");
        assertEquals("molt is quitting", assertThrows(CommandError.class, () -> engine.migrate(migrateTo("file:/run/vm.state"))).getMessage());
    }

    @Test
    void quitPastAnUpdatesPointOfNoReturnIsRefusedRatherThanUndone() throws Exception {
        machine = new FakeMachine(RunState.RUNNING);
        AtomicReference<String> refusal = new AtomicReference<>();
        MachineMonitorTarget[] target = new MachineMonitorTarget[1];
        MigrationEngine engine = Migrations.engine(machine, new FakeTransport(), "cpr-exec", (program, command, keep, state, env) -> {
            refusal.set(assertThrows(CommandError.class, target[0]::prepareQuit).getMessage());
            return "simulated";
        });
        target[0] = target(engine);
        engine.migrate(migrateTo("file:/run/vm.state"));
        await(engine, MigrationStatus.FAILED);
        assertTrue(refusal.get().startsWith("A live update (cpr-exec) is handing the guest to a new molt"), refusal.get());
        assertTrue(machine.shutdowns.isEmpty());
        target[0].prepareQuit(); // the exec failed: quitting is fine again
    }

    @Test
    void quitWaitsForTheMigrationThreadBeforeMoltUnmapsRam() throws Exception {
        machine = new FakeMachine(RunState.RUNNING);
        FakeTransport transport = new FakeTransport();
        CountDownLatch inConfirm = new CountDownLatch(1), release = new CountDownLatch(1);
        transport.onConfirm = () -> {
            inConfirm.countDown();
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        };
        MigrationEngine engine = Migrations.engine(machine, transport, "cpr-reboot", Migrations.FAILING_EXEC);
        engine.migrate(migrateTo("file:/run/vm.state"));
        assertTrue(inConfirm.await(20, TimeUnit.SECONDS));
        Thread quit = Thread.ofPlatform().start(engine::shutdown);
        quit.join(300);
        assertTrue(quit.isAlive(), "molt must not close the machine while the migration thread still works on it");
        release.countDown();
        quit.join(20_000);
        assertFalse(quit.isAlive());
        assertFalse(engine.status().inProgress());
    }
}
