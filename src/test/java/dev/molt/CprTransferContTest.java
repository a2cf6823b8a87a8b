package dev.molt;

import dev.molt.machine.RunState;
import dev.molt.migration.MigrationEngine;
import dev.molt.migration.MigrationStatus;
import dev.molt.migration.channel.MigrationStream;
import dev.molt.migration.cpr.CprTransfer;
import dev.molt.monitor.CommandError;
import dev.molt.monitor.EventSink;
import dev.molt.sys.Fd;
import dev.molt.sys.Syscall;
import dev.molt.testsupport.FakeMachine;
import dev.molt.testsupport.FakeTransport;
import dev.molt.testsupport.Migrations;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.io.SequenceInputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.Channels;
import java.nio.channels.Pipe;
import java.nio.charset.StandardCharsets;

import static dev.molt.testsupport.Migrations.await;
import static dev.molt.testsupport.Migrations.migrateTo;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * cont on the old molt of a cpr-transfer, in postmigrate: allowed only for a guest that never ran
 * anywhere else since it left (the new molt said it arrived paused, then ended without running it).
 */
class CprTransferContTest {
    private static final String HANDED = "The guest was handed to another molt (cpr-transfer), which runs it or may: it cannot run here too";
    private FakeMachine machine;
    private MachineMonitorTarget target;

    @AfterEach
    void close() {
        if (machine != null) machine.close();
    }

    /** Hands the guest over to a "new molt" that takes the CPR state, hangs up, and then says {@code replies} on the main channel. */
    private void handOver(InputStream replies) throws Exception {
        machine = new FakeMachine(RunState.RUNNING);
        FakeTransport transport = new FakeTransport();
        MigrationStream[] cpr = socketPair();
        transport.cpr = cpr[0];
        transport.replies = replies;
        MigrationEngine engine = Migrations.engine(machine, transport, "cpr-transfer", Migrations.FAILING_EXEC);
        target = new MachineMonitorTarget(machine, null, EventSink.NONE, "test", engine);
        Thread newMolt = Thread.ofPlatform().start(() -> {
            try (MigrationStream s = cpr[1]) {
                CprTransfer.receive(s).fds().forEach(f -> new Fd(f.fd(), f.name()).close());
            } catch (Exception e) {
                throw new AssertionError(e);
            }
        });
        engine.migrate(migrateTo("unix:/run/mig.sock"));
        await(engine, MigrationStatus.COMPLETED);
        newMolt.join(10_000);
        assertEquals(RunState.POSTMIGRATE, machine.state());
    }

    private static MigrationStream[] socketPair() throws Exception {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment fds = a.allocate(JAVA_INT, 2);
            Syscall.call("socketpair", Syscall.SOCKETPAIR, 1, 1 | 02000000, 0, fds.address(), 0, 0);
            return new MigrationStream[] {MigrationStream.ofFd(new Fd(fds.getAtIndex(JAVA_INT, 0), "old"), "unix:old"),
                    MigrationStream.ofFd(new Fd(fds.getAtIndex(JAVA_INT, 1), "new"), "unix:new")};
        }
    }

    private static InputStream says(String words) {
        return new ByteArrayInputStream(words.getBytes(StandardCharsets.US_ASCII));
    }

    /** cont, retried while the watch on the channel has not seen the new molt's end yet. */
    private void contOnceTheNewMoltEnded() throws Exception {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (true) {
            try {
                target.cont();
                return;
            } catch (CommandError e) {
                if (System.nanoTime() > deadline) throw e;
                Thread.sleep(10);
            }
        }
    }

    @Test
    void aGuestThatStayedPausedInANewMoltThatEndedResumesHere() throws Exception {
        handOver(says("RP")); // then end-of-file: the new molt died before anything ran the guest
        contOnceTheNewMoltEnded();
        assertEquals(RunState.RUNNING, machine.state());
        assertTrue(machine.vcpusRunning());
    }

    @Test
    void aGuestThatRanThereNeverResumesHere() throws Exception {
        handOver(says("RG"));
        assertEquals(HANDED, assertThrows(CommandError.class, target::cont).getMessage());
        assertEquals(RunState.POSTMIGRATE, machine.state());
    }

    @Test
    void aGuestThatRanThereAfterArrivingPausedNeverResumesHere() throws Exception {
        handOver(says("RPG"));
        Thread.sleep(100); // whatever the watch has read by now, the answer is no
        assertEquals(HANDED, assertThrows(CommandError.class, target::cont).getMessage());
    }

    @Test
    void anOlderNewMoltThatOnlySaysItResumesIsTakenToRunTheGuest() throws Exception {
        handOver(says("R"));
        assertEquals(HANDED, assertThrows(CommandError.class, target::cont).getMessage());
    }

    @Test
    void aGuestPausedInANewMoltStillAliveDoesNotResumeHere() throws Exception {
        Pipe pipe = Pipe.open();
        Channels.newOutputStream(pipe.sink()).write("RP".getBytes(StandardCharsets.US_ASCII)); // and the new molt lives on
        handOver(new SequenceInputStream(InputStream.nullInputStream(), Channels.newInputStream(pipe.source())));
        assertEquals(HANDED, assertThrows(CommandError.class, target::cont).getMessage());
        pipe.sink().close(); // now it ends, never having run the guest
        contOnceTheNewMoltEnded();
        assertEquals(RunState.RUNNING, machine.state());
    }

    @Test
    void afterAnOrdinaryMigrationContInPostmigrateIsRefused() throws Exception {
        machine = new FakeMachine(RunState.RUNNING);
        MigrationEngine engine = Migrations.engine(machine, new FakeTransport(), "normal", Migrations.FAILING_EXEC);
        target = new MachineMonitorTarget(machine, null, EventSink.NONE, "test", engine);
        engine.migrate(migrateTo("unix:/run/mig.sock"));
        await(engine, MigrationStatus.COMPLETED);
        assertEquals("Cannot continue a VM in state 'postmigrate'", assertThrows(CommandError.class, target::cont).getMessage());
    }
}
