package dev.molt.migration;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;

/**
 * What the two molts of a cpr-transfer tell each other on the main channel once the device state
 * went over, and what the old one may do with the guest afterwards. The new molt replies
 * {@link #RESUMING} and {@link #PAUSED_HERE} once the state is loaded, the guest still paused (the
 * old molt must not resume it any more), then {@link #RUNS_HERE} just before the guest first runs,
 * is reset or migrates on there: at once for a guest that ran when it left, later (if ever) for
 * one that was paused. The new molt keeps the channel open until then.
 *
 * <p>So the old molt knows when the guest it handed over never ran anywhere else: the new molt said
 * {@link #PAUSED_HERE} and then ended (end-of-file) without {@link #RUNS_HERE}, be it in the
 * moment between the two or while the guest waited for a {@code cont} there. Only then may
 * {@code cont} resume it in the old molt's {@code postmigrate} (QEMU allows {@code cont} there in
 * any case): its RAM and device state are still the ones the old molt stopped. A molt that replies
 * with {@link #RESUMING} alone (an older one) is taken to run the guest.
 */
final class HandOver {
    static final int RESUMING = 'R', RUNS_HERE = 'G', PAUSED_HERE = 'P';

    /** Old side: what became of the guest handed over. */
    enum Fate { NOT_HANDED_OVER, RUNS_THERE, PAUSED_THERE, NEVER_RAN_THERE }

    private volatile Fate fate = Fate.NOT_HANDED_OVER;
    /** New side: the way to tell the old molt the guest runs here, while it arrived paused and has not yet. */
    private OutputStream toOldMolt;
    private AutoCloseable channelToOldMolt;

    // ---- old side ----

    /** A new migration starts: nothing is known of where the guest goes. */
    void reset() {
        fate = Fate.NOT_HANDED_OVER;
    }

    /**
     * Old side, after {@link #RESUMING}: reads what the new molt does with the guest. When it says the
     * guest stays paused there, a daemon thread watches the channel (and closes it) until the guest
     * runs there or the new molt ends; otherwise the channel is closed here.
     */
    void afterResuming(InputStream fromNewMolt, AutoCloseable channel) {
        int word;
        try {
            word = fromNewMolt.read();
        } catch (IOException e) {
            word = -1; // unknown: the guest may run there
        }
        if (word != PAUSED_HERE) {
            fate = Fate.RUNS_THERE; // RUNS_HERE, or an older molt that says nothing more
            close(channel);
            return;
        }
        fate = Fate.PAUSED_THERE;
        Thread.ofPlatform().name("cpr-transfer-watch").daemon(true).start(() -> {
            try {
                fate = fromNewMolt.read() == RUNS_HERE ? Fate.RUNS_THERE : Fate.NEVER_RAN_THERE;
            } catch (IOException e) {
                fate = Fate.NEVER_RAN_THERE; // the channel broke: the new molt is gone, and never said it ran the guest
            } finally {
                close(channel);
            }
        });
    }

    Fate fate() {
        return fate;
    }

    // ---- new side ----

    /**
     * New side, once the state is loaded and before the guest runs: tells the old molt to let go.
     * The channel is kept (the caller must not close it) until {@link #guestChangesHere}.
     */
    synchronized void taken(OutputStream toOld, AutoCloseable channel) throws IOException {
        toOld.write(new byte[] {RESUMING, PAUSED_HERE});
        toOld.flush();
        toOldMolt = toOld;
        channelToOldMolt = channel;
    }

    /**
     * New side: the guest that arrived paused is about to run, be reset or leave: the old molt must
     * never resume it any more. A no-op otherwise. An old molt that is gone needs no telling.
     */
    synchronized void guestChangesHere() {
        if (toOldMolt == null) return;
        try {
            toOldMolt.write(RUNS_HERE);
            toOldMolt.flush();
        } catch (IOException e) {
            // The old molt is gone: nobody can resume the guest there.
        }
        toOldMolt = null;
        close(channelToOldMolt);
        channelToOldMolt = null;
    }

    private static void close(AutoCloseable c) {
        try {
            c.close();
        } catch (Exception ignored) {
            // Closing a channel we are done with.
        }
    }
}
