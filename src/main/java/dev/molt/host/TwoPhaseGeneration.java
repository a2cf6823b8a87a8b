package dev.molt.host;

import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * An implementation that builds itself while the guest still runs under the previous one, so that
 * the guest's pause holds only the device state's capture and load. Optional within interface
 * version 1: a host without this type (molt 0.6) never loads it, and an implementation that
 * does not offer it ({@value #MANIFEST_ATTRIBUTE} absent from its jar) is run by {@link #run}
 * alone, the guest stopped first. Both ways of a reload between releases keep working so.
 *
 * <p>The sequence, old implementation (O) and new (N):
 * <ol>
 * <li>O hands over duplicates of every live fd and the CPR state without the stop's times
 *     ({@link Handover#clients()} empty), and runs N's {@link #runTwoPhase} on a new main thread;</li>
 * <li>N claims the fds and builds its machine, devices, consoles and monitors, its readers held,
 *     then completes {@link Stop#built()} and waits;</li>
 * <li>O holds its readers, stops the guest, captures the device state in memory and completes
 *     {@link Stop#stopped()} with it and the monitor clients;</li>
 * <li>N loads the state, completes {@link Handover#tookOver()} and resumes the guest.</li>
 * </ol>
 * O completes {@link Stop#stopped()} exceptionally when it gives up before step 3 ends (N then
 * ends without touching anything); everything else about failure is as for {@link #run}.
 */
public interface TwoPhaseGeneration extends Generation {
    /** The jar manifest attribute naming the class that implements this interface (preferred over {@link Generation#MANIFEST_ATTRIBUTE}). */
    String MANIFEST_ATTRIBUTE = "Molt-Generation-Two-Phase";

    /**
     * Runs molt as {@link #run} does, but started while the guest still runs: builds everything
     * that needs no guest state, completes {@code stop.built()}, and loads the guest's state only
     * once {@code stop.stopped()} holds it.
     */
    int runTwoPhase(Handover handover, Stop stop);

    /**
     * @param built completed by the new implementation when it waits for nothing but the stop (exceptionally if it failed)
     * @param stopped completed by the old implementation once the guest stopped and its state is captured; the new
     *     implementation waits on it and attaches no dependent action (that would run on the old one's thread, in the pause)
     */
    record Stop(CompletableFuture<Void> built, CompletableFuture<Stopped> stopped) {}

    /**
     * What the old implementation hands over once the guest stopped.
     *
     * @param deviceState the device state, as molt's migration stream (no RAM pages)
     * @param clients monitor clients to go on serving, as {@link Handover#clients()}
     * @param stoppedAtWallNanos when the guest stopped (wall clock, ns since the epoch): the pause is measured from it
     * @param savedAtWallNanos when the state was captured
     */
    record Stopped(byte[] deviceState, List<HeldClient> clients, long stoppedAtWallNanos, long savedAtWallNanos) {
        public Stopped {
            deviceState = deviceState.clone();
            clients = List.copyOf(clients);
        }
    }
}
