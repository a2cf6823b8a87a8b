package dev.molt.host;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * Runs each implementation that took over by reload on a main thread of its own. The first
 * implementation runs on the JVM's main thread; when it hands over, that thread ends and the JVM
 * lives on in the new one's (these threads are not daemons). Whichever implementation ends molt
 * for good (the guest shut down, quit) ends the process with its status.
 */
public final class Generations {
    private static final AtomicInteger NUMBER = new AtomicInteger();

    private Generations() {}

    /**
     * A new main thread (not started) for {@code next}. The old implementation waits on
     * {@link Handover#tookOver()}, and, when the new one failed, for this thread's end.
     */
    public static Thread thread(Generation next, Handover handover) {
        return thread(() -> next.run(handover), handover);
    }

    /**
     * As {@link #thread(Generation, Handover)}, for a two-phase start: the new implementation runs
     * while the guest still runs under the old one (see {@link TwoPhaseGeneration}).
     */
    public static Thread thread(TwoPhaseGeneration next, Handover handover, TwoPhaseGeneration.Stop stop) {
        return thread(() -> next.runTwoPhase(handover, stop), handover);
    }

    private static Thread thread(java.util.function.IntSupplier run, Handover handover) {
        return Thread.ofPlatform().name("main-" + NUMBER.incrementAndGet()).daemon(false).unstarted(() -> {
            int status;
            try {
                status = run.getAsInt();
            } catch (Throwable t) {
                if (handover.tookOver().completeExceptionally(t)) return; // the old implementation goes on with the guest
                System.err.println("molt: " + t);
                status = 1;
            }
            if (status == Generation.HANDED_OVER) return;
            // Gave up before the guest ran here (and said why): the old implementation resumes it.
            if (handover.tookOver().isCompletedExceptionally()) return;
            if (!handover.tookOver().isDone()) {
                // Ended before taking the guest over, without saying why: the old implementation keeps it.
                handover.tookOver().completeExceptionally(new IllegalStateException("the new molt ended with status " + status
                        + " before it resumed the guest"));
                return;
            }
            System.out.flush();
            System.exit(status);
        });
    }
}
