package dev.molt.migration;

import dev.molt.machine.MachineControl;
import dev.molt.machine.RunState;

/**
 * The one lock that orders a migration's switch-over with the monitors' run-state commands (stop,
 * cont, system_reset, quit, migrate_cancel), as QEMU's big lock does: whether the guest ran is
 * sampled where the migration stops it, not when the migration starts (a stop in between was
 * lost, and the destination resumed a guest the user had stopped); a stop during the switch-over
 * applies to its outcome (a failed migration leaves the guest paused); and once the migration is
 * past its point of no return ({@link #commit}), nothing cancels it any more.
 *
 * <p>Every method holds the lock only briefly, never across I/O, so a monitor command never waits
 * for a slow channel. The engine also synchronizes on this object to decide a cancel.
 */
final class SwitchOver {
    private final MachineControl machine;
    /** The guest was stopped for the migration in progress, whose outcome is not decided yet. */
    private boolean active;
    /** Whether the guest ran when the migration stopped it. */
    private boolean wasRunning;
    /** A monitor's stop arrived during the switch-over. */
    private boolean keepPaused;
    /** Past the point of no return: cpr-exec about to exec, cpr-transfer's state on its way. */
    private boolean committed;

    SwitchOver(MachineControl machine) {
        this.machine = machine;
    }

    /**
     * Stops the guest for the final part of a migration and says whether it was running, both under
     * the lock: a monitor's stop lands before (the guest is then not running) or after (it counts
     * for the outcome), never in between.
     */
    synchronized boolean stopGuest() {
        wasRunning = machine.state() == RunState.RUNNING;
        keepPaused = false;
        committed = false;
        machine.pause();
        machine.setRunState(RunState.FINISH_MIGRATE);
        active = true;
        return wasRunning;
    }

    /** The migration can no longer be cancelled (the caller checked for a cancel under this lock). */
    synchronized void commit() {
        committed = true;
    }

    synchronized boolean committed() {
        return committed;
    }

    /** During a switch-over: the guest is stopped for a migration whose outcome is not decided. */
    synchronized boolean active() {
        return active;
    }

    /** The migration completed: the guest is the destination's. */
    synchronized void completed() {
        machine.setRunState(RunState.POSTMIGRATE);
        active = false;
        committed = false;
    }

    /** Whether a guest that the migration gives back should run: it ran, and no stop came since. */
    synchronized boolean shouldRun() {
        return wasRunning && !keepPaused;
    }

    /** The migration failed or was cancelled: the guest is this process's again, running if it should. */
    synchronized void giveBack() {
        giveBack(true);
    }

    /**
     * As {@link #giveBack()}; with {@code mayRun} false the guest stays paused whatever it was (its
     * disks could not be taken back: another process may be writing them).
     */
    synchronized void giveBack(boolean mayRun) {
        machine.setRunState(RunState.PAUSED);
        if (mayRun && shouldRun()) machine.resume();
        active = false;
        committed = false;
    }

    /**
     * QMP stop: pauses the guest, or during a switch-over (the guest already stopped) makes its outcome
     * leave it paused should it come back here. Either way the reply is true for this process; a guest
     * handed over runs on at the destination, as in QEMU (where stop waits for the switch-over to end).
     */
    synchronized void stop() {
        if (active) keepPaused = true;
        else machine.pause();
    }

    /** Runs a run-state command (cont, system_reset) with no switch-over starting or ending meanwhile. */
    synchronized void command(Runnable command) {
        command.run();
    }
}
