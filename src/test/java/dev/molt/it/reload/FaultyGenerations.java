package dev.molt.it.reload;

import dev.molt.ReloadEntry;
import dev.molt.TwoPhaseReloadEntry;
import dev.molt.host.Generation;
import dev.molt.host.Handover;
import dev.molt.host.TwoPhaseGeneration;

import java.util.concurrent.CompletableFuture;

import java.util.ArrayList;
import java.util.List;

/**
 * Implementations of molt that fail an x-cpr-reload in the ways a new version could: each is the
 * real molt ({@link ReloadEntry}, or {@link TwoPhaseReloadEntry} for those built while the guest
 * runs) with one thing wrong. {@code QtestReloadIT} packs one into a copy of molt's jar (named in
 * its manifest) and reloads the running molt into it.
 */
public final class FaultyGenerations {
    private FaultyGenerations() {}

    /**
     * The real molt, each method overridable: a faulty one changes one thing. (The real one is the
     * two-phase entry, whose one-phase {@code run} is {@link ReloadEntry}'s.)
     */
    private abstract static class Faulty implements Generation {
        final TwoPhaseReloadEntry real = new TwoPhaseReloadEntry();

        @Override public int interfaceVersion() { return real.interfaceVersion(); }
        @Override public String version() { return real.version(); }
        @Override public void prepare(List<String> args) { real.prepare(args); }
        @Override public int run(Handover h) { return real.run(h); }
    }

    /** Takes the guest over from a command line it refuses (an option it does not know). */
    public static final class RefusesItsCommandLine extends Faulty {
        @Override
        public int run(Handover h) {
            List<String> args = new ArrayList<>(h.args());
            args.add("-no-such-option");
            return real.run(new Handover(args, h.cprStateFd(), h.clients(), h.tookOver(), h.abort()));
        }
    }

    /** Refuses the command line it is prepared with (before the guest stops): an option it does not know. */
    public static final class RefusesItsCommandLineEarly extends Faulty {
        @Override
        public void prepare(List<String> args) {
            List<String> more = new ArrayList<>(args);
            more.add("-no-such-option");
            real.prepare(more);
        }
    }

    /** Throws before it does anything (a bug in the new version's first line). */
    public static final class Throws extends Faulty {
        @Override
        public int run(Handover h) {
            throw new IllegalStateException("a bug in the new molt");
        }
    }

    /** Takes too long: starts only after the old molt's x-cpr-reload-timeout has passed. */
    public static final class TooSlow extends Faulty {
        @Override
        public int run(Handover h) {
            try {
                Thread.sleep(3000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return real.run(h);
        }
    }

    /** Refuses in prepare: cannot take over in this process (checked before the guest stops). */
    public static final class NotReady extends Faulty {
        @Override
        public void prepare(List<String> args) {
            throw new IllegalStateException("needs a newer JDK");
        }
    }

    /** Speaks another version of the reload interface. */
    public static final class OtherInterface extends Faulty {
        @Override
        public int interfaceVersion() {
            return real.interfaceVersion() + 1;
        }
    }

    /** The real two-phase molt, each method overridable. */
    private abstract static class FaultyTwoPhase extends Faulty implements TwoPhaseGeneration {
        @Override public int runTwoPhase(Handover h, Stop stop) { return real.runTwoPhase(h, stop); }

        /** Runs the real one with {@code change} applied to the state the old molt hands over at the stop. */
        int runWithTheStop(Handover h, Stop stop, java.util.function.UnaryOperator<Stopped> change) {
            // Async: a stage completed by the old molt runs its plain dependents on the old molt's thread.
            CompletableFuture<Stopped> seen = stop.stopped().thenApplyAsync(change);
            return real.runTwoPhase(h, new Stop(stop.built(), seen));
        }
    }

    /** Refuses its command line while it is built (the guest still runs under the old molt). */
    public static final class TwoPhaseRefusesItsCommandLine extends FaultyTwoPhase {
        @Override
        public int runTwoPhase(Handover h, Stop stop) {
            List<String> args = new ArrayList<>(h.args());
            args.add("-no-such-option");
            return real.runTwoPhase(new Handover(args, h.cprStateFd(), h.clients(), h.tookOver(), h.abort()), stop);
        }
    }

    /** Takes longer to build than the old molt's x-cpr-reload-timeout: the guest never stops. */
    public static final class TwoPhaseTooSlowToBuild extends FaultyTwoPhase {
        @Override
        public int runTwoPhase(Handover h, Stop stop) {
            sleep(3000);
            return real.runTwoPhase(h, stop);
        }
    }

    /** Takes a second and a half to build (well within x-cpr-reload-timeout): a window for what changes meanwhile. */
    public static final class TwoPhaseSlowToBuild extends FaultyTwoPhase {
        @Override
        public int runTwoPhase(Handover h, Stop stop) {
            sleep(1500);
            return real.runTwoPhase(h, stop);
        }
    }

    /** Finds the device state it gets at the stop damaged (cut short): refuses it once the guest stopped. */
    public static final class TwoPhaseRefusesTheState extends FaultyTwoPhase {
        @Override
        public int runTwoPhase(Handover h, Stop stop) {
            return runWithTheStop(h, stop, s -> new Stopped(java.util.Arrays.copyOf(s.deviceState(), s.deviceState().length / 2),
                    s.clients(), s.stoppedAtWallNanos(), s.savedAtWallNanos()));
        }
    }

    /** Stalls once the guest stopped, longer than x-cpr-reload-timeout. */
    public static final class TwoPhaseTooSlowAfterTheStop extends FaultyTwoPhase {
        @Override
        public int runTwoPhase(Handover h, Stop stop) {
            return runWithTheStop(h, stop, s -> {
                sleep(3000);
                return s;
            });
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
