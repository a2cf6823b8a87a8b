package dev.molt.migration.cpr;

import dev.molt.sys.Fd;
import dev.molt.sys.Posix;
import dev.molt.sys.Spawn;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The keeper as a real child process: it leaves on a word and goes back on end-of-file. */
class KeeperTest {
    private static final java.time.Duration NO_BOUND = java.time.Duration.ZERO;

    /** The old molt wrote its CPR state (the keeper goes back only to a saved guest). */
    private static Fd saved(Fd state) throws Exception {
        CprStateFile.writeInto(state, new CprState(List.of(), List.of("molt"), "file:/x", 1, 2, 3, true));
        return state;
    }
    /** A "previous molt" that records what it inherited: the rollback marker and the state fd's target. */
    private static List<String> recorder(Path out) {
        return List.of("/bin/sh", "-c", "echo \"$MOLT_CPR_ROLLBACK $(readlink /proc/self/fd/$MOLT_CPR_EXEC_STATE)"
                + " $(readlink /proc/self/fd/$0)\" > " + out, "HELD");
    }

    private static List<String> recorder(Path out, Fd held) {
        List<String> cmd = new java.util.ArrayList<>(recorder(out));
        cmd.set(3, String.valueOf(held.num()));
        return cmd;
    }

    @Test
    void aCancelledUpdateEndsTheKeeper(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("relaunched");
        try (Fd ram = Posix.memfdCreate("ram", Posix.MFD_CLOEXEC); Fd state = CprStateFile.create()) {
            Keeper k = Keeper.start(List.of(ram), state, recorder(out, ram), NO_BOUND);
            k.close(); // writes "cancel", reaps it
            assertFalse(ProcessHandle.of(k.pid()).isPresent(), "reaped");
            assertFalse(Files.exists(out), "nothing relaunched");
        }
    }

    @Test
    void aNewMoltThatResumedReleasesIt(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("relaunched");
        try (Fd ram = Posix.memfdCreate("ram", Posix.MFD_CLOEXEC); Fd state = CprStateFile.create()) {
            Keeper k = Keeper.start(List.of(ram), state, recorder(out, ram), NO_BOUND);
            Fd pipe = k.pipe();
            int n = dev.molt.sys.Exec.dup(pipe, "as the new molt would hold it").num();
            pipe.close();
            Keeper.release(n, 0); // as the new molt: "resumed"
            assertTrue(Spawn.waitFor(k.pid()) >= 0);
            assertFalse(Files.exists(out), "nothing relaunched");
        }
    }

    @Test
    void endOfFileWithoutAWordGoesBackWithTheHeldFds(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("relaunched");
        try (Fd ram = Posix.memfdCreate("guest-ram", Posix.MFD_CLOEXEC); Fd state = saved(CprStateFile.create())) {
            Keeper k = Keeper.start(List.of(ram), state, recorder(out, ram), NO_BOUND);
            k.pipe().close(); // the new molt died: the pipe's last write end is gone
            assertEquals(0, Spawn.waitFor(k.pid()), "the relaunched command ran to its end");
            String line = Files.readString(out).trim();
            assertTrue(line.startsWith(Keeper.RELAUNCH + " /memfd:MOLT_CPR_EXEC_STATE"), line);
            assertTrue(line.endsWith("/memfd:guest-ram (deleted)"), line);
        }
    }

    @Test
    void neitherTheKeeperNorTheMoltItRelaunchesHoldsFdsItWasNotGiven(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("fds");
        try (Fd ram = Posix.memfdCreate("guest-ram", Posix.MFD_CLOEXEC); Fd state = saved(CprStateFile.create());
             Fd stray = Posix.memfdCreate("stray-console-log", Posix.MFD_CLOEXEC)) {
            Posix.setCloexec(stray.num(), false); // as the JDK opens the jar or a file console
            Keeper k = Keeper.start(List.of(ram), state, List.of("/bin/sh", "-c", "for f in /proc/$$/fd/*; do readlink $f; done > " + out + "; true"), NO_BOUND);
            Posix.setCloexec(stray.num(), true);
            k.pipe().close(); // the new molt died: the keeper relaunches
            assertEquals(0, Spawn.waitFor(k.pid()));
            String fds = Files.readString(out);
            assertTrue(fds.contains("/memfd:guest-ram"), fds);
            assertTrue(fds.contains("/memfd:MOLT_CPR_EXEC_STATE"), fds);
            assertFalse(fds.contains("stray-console-log"), fds);
        }
    }

    /** The molt being updated died before it wrote the CPR state: no previous molt can resume anything. */
    @Test
    void anUpdateThatEndedBeforeTheStateWasSavedRelaunchesNothing(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("relaunched");
        try (Fd ram = Posix.memfdCreate("guest-ram", Posix.MFD_CLOEXEC); Fd state = CprStateFile.create()) {
            Keeper k = Keeper.start(List.of(ram), state, recorder(out, ram), NO_BOUND);
            k.pipe().close();
            assertEquals(1 << 8, Spawn.waitFor(k.pid()), "the keeper exits 1 (wait status), saying why, with nothing to resume");
            assertFalse(Files.exists(out), "nothing relaunched");
        }
    }

    /** read -t refuses a negative bound, which the keeper's script would take for the new molt's end. */
    @Test
    void aNegativeResumeBoundIsRefusedBeforeAnyKeeperStarts() throws Exception {
        try (Fd ram = Posix.memfdCreate("ram", Posix.MFD_CLOEXEC); Fd state = CprStateFile.create()) {
            assertThrows(IllegalArgumentException.class,
                    () -> Keeper.start(List.of(ram), state, List.of("/bin/true"), java.time.Duration.ofMillis(-1)));
        }
    }
}
