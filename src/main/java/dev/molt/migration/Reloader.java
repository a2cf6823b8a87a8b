package dev.molt.migration;

import dev.molt.host.Generation;
import dev.molt.host.HeldClient;

import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeoutException;

/**
 * What an {@code x-cpr-reload} needs from the molt around the migration engine: the parts of the
 * process that the engine does not own (monitors, consoles, the qtest channel, the command line).
 * Each step's undo is named beside it; the engine calls them in this order.
 */
public interface Reloader {
    /** Why this molt cannot hand its guest to new code in the process now; empty if it can. */
    Optional<String> blocker();

    /**
     * Loads the implementation in {@code jar} ("": the one running) and prepares it (classes linked
     * and initialised, native calls linked, its command line {@code args} parsed), while the guest
     * runs; throws {@link IllegalArgumentException} saying why not.
     */
    Generation load(String jar, List<String> args);

    /**
     * Whether {@code next} builds itself while the guest still runs
     * ({@link dev.molt.host.TwoPhaseGeneration}, which only a molt 0.7 host or later has).
     */
    boolean twoPhase(Generation next);

    /**
     * Stops accepting monitor clients and holds every reader of this implementation between two
     * reads (the guest still runs); undone by {@link #releaseReaders}.
     */
    void holdReaders(Duration bound) throws TimeoutException;

    /**
     * With the guest stopped and the readers held: writes out what the consoles and monitors still
     * queue, then lists the monitor clients to hand over (their connections duplicated: the new
     * code owns those fds).
     */
    List<HeldClient> heldClients();

    /**
     * With the readers held and the guest still running: runs {@link #heldClients}'s steps once and
     * undoes them (monitor output written out, connections duplicated and the copies closed), so
     * that their first run, several times slower, is not in the pause. Says nothing of a failure.
     */
    void rehearseHeldClients();

    /** The reload failed: readers and acceptors go on; this implementation keeps everything. */
    void releaseReaders();

    /**
     * The new implementation's command line: this one's, taking the device state from
     * {@code fileUri}. Made once per reload, before {@link #load}, which prepares the new code with it.
     */
    List<String> args(String fileUri);

    /**
     * The new implementation took the guest over: this one's monitor sessions write nothing more,
     * not even what they still queue (it would land among the new code's replies, out of order).
     * Called at once, before anything of this code reports the end of the migration.
     */
    void muteMonitors();

    /** The new implementation runs the guest: this one's threads end and its objects close without touching what was handed over. */
    void handedOver();
}
