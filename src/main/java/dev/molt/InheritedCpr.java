package dev.molt;

import dev.molt.machine.MachineConfig;
import dev.molt.machine.MachineException;
import dev.molt.memory.GuestRam;
import dev.molt.memory.RamBlock;
import dev.molt.migration.cpr.CprExec;
import dev.molt.migration.cpr.CprState;
import dev.molt.migration.cpr.CprStateFile;
import dev.molt.sys.Fd;
import dev.molt.sys.Posix;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The new process's side of a cpr-exec live update: the state the old molt handed over, and the
 * way back. molt holding inherited guest RAM never boots a fresh guest: if it cannot resume the
 * one it was given, it re-executes the previous command on the same state, so the guest resumes
 * under the old version.
 */
final class InheritedCpr {
    private final CprState state;
    private final Fd stateFd;
    private final List<Fd> preserved = new ArrayList<>();

    private InheritedCpr(CprState state, Fd stateFd) {
        this.state = state;
        this.stateFd = stateFd;
        for (CprState.PreservedFd f : state.fds()) preserved.add(new Fd(f.fd(), "cpr:" + f.name()));
    }

    /** Null unless this process was started by a live update. */
    static InheritedCpr fromEnvironment() {
        String env = System.getenv(CprState.ENV);
        if (env == null) return null;
        int fd;
        try {
            fd = Integer.parseInt(env.trim());
        } catch (NumberFormatException e) {
            System.err.println("molt: " + CprState.ENV + "='" + env + "' is not an fd number");
            System.exit(1);
            return null;
        }
        try {
            CprState s = CprStateFile.read(fd);
            InheritedCpr cpr = new InheritedCpr(s, new Fd(fd, "cpr-state"));
            // Preserved fds go back to close-on-exec: no later child inherits guest RAM by accident.
            Posix.setCloexec(fd, true);
            for (Fd f : cpr.preserved) Posix.setCloexec(f.num(), true);
            return cpr;
        } catch (Exception e) {
            System.err.println("molt: cannot read the live-update state from fd " + fd + ": " + e.getMessage());
            System.exit(1);
            return null;
        }
    }

    CprState state() {
        return state;
    }

    /** Maps the guest RAM the old process preserved; the command line must describe the same RAM. */
    GuestRam adoptRam(MachineConfig config) {
        String name = config.ramBackend() != null ? config.ramBackend().id() : GuestRam.IMPLICIT_BLOCK;
        CprState.PreservedFd f = state.fd(name);
        if (f == null) {
            throw new MachineException("the preserved guest RAM has no block '" + name + "' (it has "
                    + state.fds().stream().map(CprState.PreservedFd::name).toList() + "): the memory options differ");
        }
        if (f.size() != config.ramSize()) {
            throw new MachineException("the preserved guest RAM block '" + name + "' is " + f.size()
                    + " bytes but the command line asks for " + config.ramSize() + " (-m)");
        }
        Fd fd = preserved.get(state.fds().indexOf(f));
        return GuestRam.adopt(RamBlock.adopt(name, fd, f.size()));
    }

    /**
     * Goes back to the molt that handed the guest over: its own command line, resuming from the same
     * device state and RAM. Does not return (on a second failure molt exits rather than loop).
     */
    void rollback(String reason) {
        System.err.println("molt: live update failed in the new process: " + reason);
        if (System.getenv(CprState.ROLLBACK_ENV) != null) {
            System.err.println("molt: the previous molt could not resume the guest either; giving up");
            System.exit(1);
        }
        List<String> cmd = new ArrayList<>(state.previousCommand());
        cmd.add("-incoming");
        cmd.add(state.previousIncoming());
        System.err.println("molt: going back to the previous molt: " + String.join(" ", cmd));
        System.err.flush();
        dev.molt.sys.Terminal.restoreAll();
        String error = CprExec.exec(Path.of(cmd.getFirst()), cmd, preserved, stateFd, Map.of(CprState.ROLLBACK_ENV, "1"));
        System.err.println("molt: cannot go back to the previous molt: " + error);
        System.exit(1);
    }
}
