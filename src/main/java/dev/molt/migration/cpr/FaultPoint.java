package dev.molt.migration.cpr;

import dev.molt.sys.Posix;

import java.util.Arrays;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * The named steps of a live update at which a fault-injection test can stop molt, to kill it (or
 * its keeper, or the other process of a cpr-transfer) exactly there. A step listed in
 * {@value #ENV} (comma-separated names) prints one line on stderr and stops the whole process with
 * SIGSTOP; the test then sends SIGKILL, or SIGCONT to let it go on. Unset (always, outside such
 * tests), a step costs one set lookup. A molt that is going back to the previous one after a
 * failed update ({@link CprState#ROLLBACK_ENV}) stops nowhere: the test is about the first failure.
 *
 * <p>The steps are real ones, not simulations: what the test kills is the process as it is at
 * that moment of the update. See docs/live-update.md, "Faults, step by step".
 */
public enum FaultPoint {
    /** cpr-exec, old molt: the keeper runs, the guest still runs. */
    CPR_EXEC_KEEPER_STARTED("cpr-exec:keeper-started"),
    /** cpr-exec, old molt: the guest is stopped, nothing written yet. */
    CPR_EXEC_STOPPED("cpr-exec:stopped"),
    /** cpr-exec, old molt: part of the device state is in the file, its end is not. */
    CPR_EXEC_STATE_WRITING("cpr-exec:state-writing"),
    /** cpr-exec, old molt: the device state and the CPR state are written, the exec is next. */
    CPR_EXEC_BEFORE_EXEC("cpr-exec:before-exec"),
    /** cpr-exec, new molt: the CPR state is read and checked, the device state not yet loaded. */
    CPR_EXEC_RESTORING("cpr-exec:restoring"),
    /** cpr-exec, new molt: the keeper has been told, the guest runs here. */
    CPR_EXEC_RESUMED("cpr-exec:resumed"),
    /** cpr-transfer, old molt: the CPR state and the fds are sent, the guest still runs. */
    CPR_TRANSFER_SENT("cpr-transfer:sent"),
    /** cpr-transfer, old molt: the guest is stopped, its device state not sent yet. */
    CPR_TRANSFER_STOPPED("cpr-transfer:stopped"),
    /** cpr-transfer, new molt: RAM is mapped from the received fds, the cpr channel not hung up yet. */
    CPR_TRANSFER_RECEIVED("cpr-transfer:received"),
    /** cpr-transfer, new molt: the device state is loaded, the reply to the old molt not sent yet. */
    CPR_TRANSFER_LOADED("cpr-transfer:loaded"),
    /** cpr-transfer, new molt: it replied (the guest is its own), the guest has not run here yet. */
    CPR_TRANSFER_REPLIED("cpr-transfer:replied");

    public static final String ENV = "MOLT_FAULT_POINTS";

    private static final Set<String> ARMED = fromEnvironment();

    public final String step;

    FaultPoint(String step) {
        this.step = step;
    }

    private static Set<String> fromEnvironment() {
        String list = System.getenv(ENV);
        if (list == null || list.isBlank() || System.getenv(CprState.ROLLBACK_ENV) != null) return Set.of();
        Set<String> names = Arrays.stream(list.split(",")).map(String::trim).collect(Collectors.toUnmodifiableSet());
        Set<String> known = Arrays.stream(values()).map(p -> p.step).collect(Collectors.toUnmodifiableSet());
        for (String n : names) {
            if (!known.contains(n)) System.err.println("molt: " + ENV + ": no step named '" + n + "' (known: " + known + ")");
        }
        return names;
    }

    public boolean armed() {
        return ARMED.contains(step);
    }

    /** Stops this process here if the step is armed; returns when it is continued (SIGCONT). */
    public void reached() {
        if (!armed()) return;
        System.err.println("molt: fault point " + step + " reached in PID " + Posix.getpid() + ": stopping (SIGSTOP)");
        System.err.flush();
        Posix.tgkill(Posix.getpid(), Posix.gettid(), Posix.SIGSTOP);
    }
}
