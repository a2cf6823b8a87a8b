package dev.molt.migration.cpr;

import dev.molt.sys.Fd;
import dev.molt.sys.Posix;
import dev.molt.sys.Syscall;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The exec half of cpr-exec on this process's real fds, with programs that cannot replace it. */
class CprExecTest {
    private static boolean closeOnExec(Fd fd) {
        return (Syscall.call("fcntl F_GETFD", Syscall.FCNTL, fd.num(), Posix.F_GETFD) & Posix.FD_CLOEXEC) != 0;
    }

    @Test
    void aFailureBeforeExecveIsReportedAndTheFdsAreCloseOnExecAgain() {
        try (Fd ram = Posix.memfdCreate("guest-ram", Posix.MFD_CLOEXEC); Fd state = CprStateFile.create()) {
            // A console socket a reconnect closed while the update ran: its number no longer names an open fd.
            Fd gone = new Fd(0x7FFF0000, "chardev:serial0:client");
            String error = CprExec.exec(Path.of("/nonexistent/molt"), List.of("/nonexistent/molt"), List.of(ram, gone), state, Map.of());
            assertTrue(error.startsWith("cannot hand the fds to /nonexistent/molt: "), error);
            assertTrue(closeOnExec(ram) && closeOnExec(state), "no later child inherits guest RAM");
        }
    }

    @Test
    void aFailedExecveIsReportedAndTheFdsAreCloseOnExecAgain() {
        try (Fd ram = Posix.memfdCreate("guest-ram", Posix.MFD_CLOEXEC); Fd state = CprStateFile.create()) {
            String error = CprExec.exec(Path.of("/nonexistent/molt"), List.of("/nonexistent/molt"), List.of(ram), state, Map.of());
            assertEquals("execvp /nonexistent/molt failed: ENOENT (No such file or directory)", error);
            assertTrue(closeOnExec(ram) && closeOnExec(state));
        }
    }
}
