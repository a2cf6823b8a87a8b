package dev.molt;

import dev.molt.machine.LifecycleCause;
import dev.molt.machine.RunState;
import dev.molt.migration.MigrationEngine;
import dev.molt.migration.MigrationStatus;
import dev.molt.monitor.CommandError;
import dev.molt.monitor.Connection;
import dev.molt.monitor.EventBus;
import dev.molt.monitor.EventSink;
import dev.molt.monitor.Monitor;
import dev.molt.testsupport.FakeMachine;
import dev.molt.testsupport.FakeTransport;
import dev.molt.testsupport.Migrations;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.nio.channels.Channels;
import java.nio.channels.Pipe;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

import static dev.molt.testsupport.Migrations.await;
import static dev.molt.testsupport.Migrations.migrateTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** system_reset writes the kernel into RAM: refused where that RAM is not this process's alone to change. */
class SystemResetTest {
    private FakeMachine machine;

    @AfterEach
    void close() {
        if (machine != null) machine.close();
    }

    private MachineMonitorTarget target(RunState state) {
        machine = new FakeMachine(state);
        return new MachineMonitorTarget(machine, null, EventSink.NONE, "test",
                Migrations.engine(machine, new FakeTransport(), "normal", Migrations.FAILING_EXEC));
    }

    private String refusal(MachineMonitorTarget target) {
        String message = assertThrows(CommandError.class, target::systemReset).getMessage();
        assertTrue(machine.resets.isEmpty(), "nothing was reset");
        return message;
    }

    @Test
    void aRunningOrPausedGuestResets() {
        MachineMonitorTarget target = target(RunState.PAUSED);
        target.systemReset();
        assertEquals(List.of(LifecycleCause.HOST_QMP_SYSTEM_RESET), machine.resets);
    }

    @Test
    void anIncomingGuestIsNotResetTheCprTransferDestinationsRamIsStillTheOldMolts() {
        assertEquals("Guest is waiting for an incoming migration", refusal(target(RunState.INMIGRATE)));
    }

    @Test
    void aMigratedGuestIsNotResetItsRamMayRunElsewhere() {
        assertEquals("Cannot reset a VM in state 'postmigrate': the guest was migrated, and its RAM may be another process's",
                refusal(target(RunState.POSTMIGRATE)));
    }

    @Test
    void aGuestStoppedForASwitchOverIsNotReset() {
        assertEquals("Migration is not finalized yet", refusal(target(RunState.FINISH_MIGRATE)));
    }

    @Test
    void aCprExecUnderWayRefusesItWhileTheGuestStillRuns() throws Exception {
        machine = new FakeMachine(RunState.RUNNING);
        MigrationEngine engine = Migrations.engine(machine, new FakeTransport(), "cpr-exec", Migrations.FAILING_EXEC);
        MachineMonitorTarget target = new MachineMonitorTarget(machine, null, EventSink.NONE, "test", engine);
        AtomicReference<String> refusal = new AtomicReference<>();
        machine.beforeStop = () -> refusal.set(assertThrows(CommandError.class, target::systemReset).getMessage());
        engine.migrate(migrateTo("file:/run/vm.state"));
        await(engine, MigrationStatus.FAILED);
        assertEquals("There's a migration process in progress", refusal.get());
        assertTrue(machine.resets.isEmpty());
        target.systemReset(); // the update is over (its exec failed): the guest is this process's again
        assertEquals(List.of(LifecycleCause.HOST_QMP_SYSTEM_RESET), machine.resets);
    }

    @Test
    void hmpRefusesItToo() throws Exception {
        MachineMonitorTarget target = target(RunState.INMIGRATE);
        Pipe in = Pipe.open(), out = Pipe.open();
        Monitor monitor = new Monitor(target, new EventBus());
        monitor.startHmp(Connection.of(Channels.newInputStream(in.source()), Channels.newOutputStream(out.sink()), () -> {
            in.source().close();
            out.sink().close();
        }), false);
        InputStream replies = Channels.newInputStream(out.source());
        untilPrompt(replies);
        Channels.newOutputStream(in.sink()).write("system_reset\n".getBytes(StandardCharsets.US_ASCII));
        assertEquals("Error: Guest is waiting for an incoming migration\r\n", untilPrompt(replies));
        assertTrue(machine.resets.isEmpty());
        in.sink().close();
    }

    private static String untilPrompt(InputStream in) throws Exception {
        ByteArrayOutputStream got = new ByteArrayOutputStream();
        while (!got.toString(StandardCharsets.US_ASCII).endsWith("(qemu) ")) {
            int b = in.read();
            if (b < 0) throw new AssertionError("HMP ended: " + got);
            got.write(b);
        }
        String s = got.toString(StandardCharsets.US_ASCII);
        s = s.substring(0, s.length() - "(qemu) ".length());
        int banner = s.indexOf("more information\r\n");
        return banner >= 0 ? s.substring(banner + "more information\r\n".length()) : s;
    }
}
