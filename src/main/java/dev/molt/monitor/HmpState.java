package dev.molt.monitor;

import java.util.function.BooleanSupplier;

/**
 * What an HMP monitor remembers between commands: its current CPU (what {@code cpu N} sets and
 * {@code info cpus} marks with '*'), and whether it is interactive - a readline session can wait
 * for a migration to finish, {@code human-monitor-command} cannot.
 */
final class HmpState {
    private Integer currentCpu;
    private final boolean interactive;
    private final BooleanSupplier alive;

    HmpState(boolean interactive, BooleanSupplier alive) {
        this.interactive = interactive;
        this.alive = alive;
    }

    /** The chosen CPU, or null for the default (the first one). */
    Integer currentCpu() {
        return currentCpu;
    }

    void currentCpu(int index) {
        currentCpu = index;
    }

    boolean interactive() {
        return interactive;
    }

    /** False once the client is gone, so that a wait on its behalf can stop. */
    boolean alive() {
        return alive.getAsBoolean();
    }
}
