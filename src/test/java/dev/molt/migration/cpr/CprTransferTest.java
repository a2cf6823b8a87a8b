package dev.molt.migration.cpr;

import dev.molt.migration.channel.MigrationStream;
import dev.molt.sys.Fd;
import dev.molt.sys.Posix;
import dev.molt.sys.Syscall;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The cpr channel's protocol over a real unix socket pair, with real fds passed by SCM_RIGHTS. */
class CprTransferTest {
    private static MigrationStream[] pair() throws IOException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment fds = a.allocate(JAVA_INT, 2);
            Syscall.call("socketpair", Syscall.SOCKETPAIR, 1, 1 | 02000000, 0, fds.address(), 0, 0);
            return new MigrationStream[] {
                    MigrationStream.ofFd(new Fd(fds.getAtIndex(JAVA_INT, 0), "old"), "unix:old"),
                    MigrationStream.ofFd(new Fd(fds.getAtIndex(JAVA_INT, 1), "new"), "unix:new")};
        }
    }

    private static CprState state(List<CprState.PreservedFd> fds) {
        return new CprState(fds, List.of("/usr/bin/molt", "-m", "1G"), "", 0, 0, 0, true);
    }

    @Test
    void stateAndFdsArriveAndTheFdsAreTheSameFiles() throws Exception {
        MigrationStream[] p = pair();
        try (Fd ram = Posix.memfdCreate("guest-ram", Posix.MFD_CLOEXEC); Fd other = Posix.memfdCreate("other", Posix.MFD_CLOEXEC)) {
            Posix.ftruncate(ram, 1 << 20);
            CprState sent = state(List.of(new CprState.PreservedFd("ram0", ram.num(), 1 << 20),
                    new CprState.PreservedFd("other", other.num(), 0)));
            Thread sender = Thread.ofPlatform().start(() -> {
                try {
                    CprTransfer.send(p[0], sent, List.of(ram, other));
                    CprTransfer.awaitHangup(p[0]);
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            CprState got = CprTransfer.receive(p[1]);
            p[1].close(); // the hang-up the sender waits for
            sender.join(10_000);
            assertEquals(sent.previousCommand(), got.previousCommand());
            assertEquals(2, got.fds().size());
            CprState.PreservedFd r = got.fd("ram0");
            assertNotEquals(ram.num(), r.fd(), "a new fd in this process");
            // Same memfd: /proc shows the same inode.
            assertEquals(Files.readSymbolicLink(Path.of("/proc/self/fd/" + ram.num())),
                    Files.readSymbolicLink(Path.of("/proc/self/fd/" + r.fd())));
            assertEquals(1 << 20, Posix.fileSize(new Fd(r.fd(), "received")));
            for (CprState.PreservedFd f : got.fds()) new Fd(f.fd(), f.name()).close();
        } finally {
            p[0].close();
        }
    }

    @Test
    void anOldMoltThatHangsUpEarlyIsAnErrorNotAHang() throws Exception {
        MigrationStream[] p = pair();
        p[0].output().write(new byte[] {0, 0, 0, 40, 1, 2, 3});
        p[0].close();
        IOException e = assertThrows(IOException.class, () -> CprTransfer.receive(p[1]));
        assertTrue(e.getMessage().contains("in the middle of the CPR state"), e.getMessage());
        p[1].close();
    }

    @Test
    void aHostileLengthIsRefused() throws Exception {
        MigrationStream[] p = pair();
        p[0].output().write(new byte[] {0x7f, (byte) 0xff, (byte) 0xff, (byte) 0xff});
        IOException e = assertThrows(IOException.class, () -> CprTransfer.receive(p[1]));
        assertTrue(e.getMessage().contains("claims"), e.getMessage());
        p[0].close();
        p[1].close();
    }

    @Test
    void aStateWithoutItsFdsIsRefused() throws Exception {
        MigrationStream[] p = pair();
        byte[] encoded = CprStateFile.encode(state(List.of(new CprState.PreservedFd("ram0", 5, 4096))));
        java.io.DataOutputStream out = new java.io.DataOutputStream(p[0].output());
        out.writeInt(encoded.length);
        out.write(encoded);
        out.write(' '); // a byte where an fd should ride along
        out.flush();
        IOException e = assertThrows(IOException.class, () -> CprTransfer.receive(p[1]));
        assertTrue(e.getMessage().contains("no fd came with 'ram0'"), e.getMessage());
        p[0].close();
        p[1].close();
    }
}
