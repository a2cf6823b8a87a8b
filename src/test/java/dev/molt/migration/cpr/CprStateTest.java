package dev.molt.migration.cpr;

import dev.molt.migration.vmstate.StateStreamWriter;
import dev.molt.migration.vmstate.VmStateDescription;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The CPR state's encoding, and the states older molts wrote, which a newer molt must still take over. */
class CprStateTest {
    private record Arg(String value) {}

    private static final VmStateDescription<Arg> ARG = VmStateDescription.of("cpr-arg", 1, b -> b
            .string("value", Arg::value, 1 << 16)
            .construct(v -> new Arg(v.string("value"))));

    /** cpr-state as molt wrote it before the keeper existed (version 1): no keeper-fd, no keeper-pid. */
    private static final VmStateDescription<CprState> V1 = VmStateDescription.of("cpr-state", 1, b -> b
            .list("fds", CprState::fds, CprState.FD, 256)
            .list("previous-command", s -> s.previousCommand().stream().map(Arg::new).toList(), ARG, 4096)
            .string("previous-incoming", CprState::previousIncoming, 1 << 16)
            .u64("stopped-at", CprState::stoppedAtNanos)
            .u64("saved-at", CprState::savedAtNanos)
            .u64("exec-at", CprState::execAtNanos)
            .bool("was-running", CprState::wasRunning)
            .construct(v -> { throw new UnsupportedOperationException("only written here"); }));

    private static byte[] encode(VmStateDescription<CprState> description, CprState state) throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        StateStreamWriter w = new StateStreamWriter(bytes);
        w.section(description, 0, state);
        w.finish();
        return bytes.toByteArray();
    }

    private static CprState sample() {
        return new CprState(List.of(new CprState.PreservedFd("microvm.ram", 7, 1 << 20),
                new CprState.PreservedFd("monitor:unix:/run/vm.qmp", 8, 0)),
                List.of("/usr/bin/molt", "-m", "1M"), "file:/run/vm.state", 11, 22, 33, true);
    }

    @Test
    void aVersionOneStateFromAMoltBeforeTheKeeperLoadsWithoutAKeeper() throws Exception {
        CprState loaded = CprStateFile.decode(new ByteArrayInputStream(encode(V1, sample())));
        assertEquals(sample().fds(), loaded.fds());
        assertEquals(sample().previousCommand(), loaded.previousCommand());
        assertEquals("file:/run/vm.state", loaded.previousIncoming());
        assertEquals(33, loaded.execAtNanos());
        assertEquals(-1, loaded.keeperFd(), "no keeper pipe to write to");
        assertEquals(0, loaded.keeperPid(), "no keeper to reap");
    }

    @Test
    void theCurrentStateRoundTrips() throws Exception {
        CprState state = sample().withKeeper(9, 4242).withBoot(new CprState.BootSource("/boot/vmlinuz", "", "quiet"))
                .withDeviceState(new CprState.StreamId(123_456, 0xCAFEF00DL));
        assertEquals(state, CprStateFile.decode(new ByteArrayInputStream(CprStateFile.encode(state))));
    }
}
