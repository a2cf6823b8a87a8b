package dev.molt.migration;

import dev.molt.machine.MachineControl;
import dev.molt.machine.RunState;
import dev.molt.machine.VmState;
import dev.molt.monitor.CommandError;
import dev.molt.monitor.EventSink;
import dev.molt.monitor.Events;
import dev.molt.migration.cpr.CprExec;
import dev.molt.migration.cpr.LaunchPlan;
import dev.molt.migration.cpr.CprState;
import dev.molt.migration.cpr.CprStateFile;
import dev.molt.migration.cpr.CprTransfer;
import dev.molt.migration.cpr.FaultPoint;
import dev.molt.migration.cpr.Keeper;
import dev.molt.sys.PreservedFds;
import dev.molt.monitor.MigrationCommands;

import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The migration state machine behind QMP's migrate, migrate-incoming, migrate_cancel and
 * query-migrate. One migration at a time; its work runs on its own thread. Whatever fails, the
 * source guest keeps (or gets back) its run state: nothing is lost.
 */
public final class MigrationEngine implements MigrationCommands {
    private final MachineControl machine;
    private final EventSink events;
    private final MigrationSettings settings = new MigrationSettings();
    private final Transport transport;

    private volatile MigrationStatus status = MigrationStatus.NONE;
    private volatile String errorDesc;
    private volatile boolean cancelRequested;
    private volatile MigrationStats stats = new MigrationStats();
    private volatile long startNanos, setupNanos, totalMillis = -1, downtimeMillis = -1, expectedDowntimeMillis = -1, setupMillis = -1;
    private volatile AutoCloseable activeChannel;
    private volatile boolean incomingAllowed;
    private volatile int cpuThrottle;
    private volatile Runnable beforeExec = () -> { };
    private volatile Runnable afterExecFailure = () -> { };
    private volatile InputHold inputHold = InputHold.NONE;
    private volatile PreservedFds preservedFds = PreservedFds.fresh();
    private volatile Map<String, Object> cprBreakdown;
    private volatile Runnable onIncomingFailure = () -> { };
    /** Orders switch-overs with the monitors' run-state commands; the engine decides cancels under it too. */
    private final SwitchOver switchOver;
    /** The mode of the migration in progress (the parameter may change meanwhile). */
    private volatile MigrationMode activeMode = MigrationMode.NORMAL;
    /** molt is quitting: no migration starts or commits any more. Set under {@link #switchOver}. */
    private volatile boolean shuttingDown;
    /** The thread of the outgoing migration in progress, which quitting waits for. */
    private volatile Thread worker;
    /** cpr-transfer: what the two molts know of the guest handed over (either side). */
    private final HandOver handOver = new HandOver();
    /** pause-before-switchover's wait for migrate-continue. */
    private final SwitchoverGate switchoverGate = new SwitchoverGate();
    /**
     * The migration in {@link #status} is this molt's incoming one. QEMU keeps the two directions
     * apart: migrate_cancel and migrate-continue act on the outgoing migration only, so on a
     * destination they find none.
     */
    private volatile boolean incomingSide;
    /**
     * migrate-incoming (or -incoming URI) started listening once: QEMU accepts it once per
     * process, whatever became of that migration, as a second one would load pages into a guest
     * that may already run.
     */
    private volatile boolean incomingStarted;
    /** -S: a guest that arrives running waits, paused, for cont (QEMU's autostart). */
    private volatile boolean startPaused;

    /** The exec of a cpr-exec update, as {@link CprExec#exec}: returns only if it failed, with the reason. */
    public interface Executor {
        String exec(java.nio.file.Path program, List<String> command, List<dev.molt.sys.Fd> keep, dev.molt.sys.Fd cprState,
                    Map<String, String> extraEnv);

        /** What must hold for the exec to work, checked before the guest stops (as {@link CprExec#checkCanExec}). */
        default void check() {
        }
    }

    /**
     * How long a launcher may take to say what it would exec (it reads a file and prints), on the
     * monitor's thread; past it, the command is exec'd as given.
     */
    private static final java.time.Duration LAUNCH_PLAN_BOUND = java.time.Duration.ofSeconds(5);

    private volatile Executor executor = new Executor() {
        @Override
        public String exec(java.nio.file.Path program, List<String> command, List<dev.molt.sys.Fd> keep, dev.molt.sys.Fd cprState,
                           Map<String, String> extraEnv) {
            return CprExec.exec(program, command, keep, cprState, extraEnv);
        }

        @Override
        public void check() {
            CprExec.checkCanExec();
        }
    };

    /** Replaces the exec: tests see what would be exec'd while their own process stays. */
    public void setExecutor(Executor executor) {
        this.executor = executor;
    }

    /** Opens channels from QMP's uri/channels arguments (the channel layer, kept out of the engine). */
    public interface Transport {
        OutgoingChannel connect(MigrateRequest request) throws IOException;

        IncomingChannel listen(IncomingRequest request) throws IOException;

        /**
         * Checks the request's channels against the mode, in QEMU's words where QEMU has them
         * (cpr-exec and cpr-reboot need a file, cpr-transfer a stream plus a unix cpr channel);
         * returns the main channel's URI.
         */
        String checkChannels(MigrateRequest request, MigrationMode mode) throws IOException;

        /** cpr-transfer: connects the request's cpr channel (a unix socket the new molt listens on). */
        dev.molt.migration.channel.MigrationStream connectCpr(MigrateRequest request) throws IOException;
    }

    /** A connected outgoing stream. */
    public interface OutgoingChannel extends AutoCloseable {
        java.io.OutputStream output();

        /** Bytes back from the destination (sockets and fd: only); cpr-transfer reads the new molt's reply here. */
        java.io.InputStream input();

        /** What the destination has not read yet of what was written (see {@code MigrationStream.unreadBytes}). */
        default long unreadBytes() {
            return 0;
        }

        /** Checks, after everything was written, that the far end took it (an exec command's exit status). */
        default void confirm() throws IOException { }

        @Override
        void close();
    }

    /** A listening incoming endpoint; {@link #accept()} blocks for the source. */
    public interface IncomingChannel extends AutoCloseable {
        java.io.InputStream accept() throws IOException;

        String describe();

        /** Bytes back to the source (sockets and fd: only), once {@link #accept()} returned. */
        java.io.OutputStream returnPath();

        @Override
        void close();
    }

    public MigrationEngine(MachineControl machine, EventSink events, Transport transport) {
        this.machine = machine;
        this.events = events;
        this.transport = transport;
        this.switchOver = new SwitchOver(machine);
    }

    public MigrationSettings settings() {
        return settings;
    }

    // ---- QMP commands ----

    @Override
    public void setParameters(Map<String, Object> parameters) {
        settings.setParameters(parameters);
    }

    @Override
    public Map<String, Object> queryParameters() {
        return settings.parameters();
    }

    @Override
    public void setCapabilities(List<CapabilityState> capabilities) {
        // As QEMU's migration_is_running(): an outgoing migration only. A destination's tool sets
        // capabilities (late-block-activate, say) while it waits for the source.
        if (!incomingSide && status.inProgress()) throw CommandError.generic("There's a migration process in progress");
        settings.setCapabilities(capabilities);
    }

    @Override
    public List<CapabilityState> queryCapabilities() {
        return settings.capabilities();
    }

    @Override
    public synchronized void migrate(MigrateRequest request) {
        // molt has no postcopy, so there is never a paused migration to resume (QEMU's migrate_prepare).
        MigrationMode mode = settings.mode();
        String mainUri;
        try {
            mainUri = transport.checkChannels(request, mode); // QEMU checks the transport before anything else
        } catch (IOException e) {
            throw CommandError.generic(e.getMessage());
        }
        // QEMU's texts, in migrate_prepare's order. An incoming migration that is still finishing counts
        // as waiting for it, whatever the run state already is.
        if (request.resume()) throw CommandError.generic("Cannot resume if there is no paused migration");
        if (status.inProgress() && !incomingSide) throw CommandError.generic("There's a migration process in progress");
        RunState rs = machine.state();
        if (rs == RunState.INMIGRATE || status.inProgress()) throw CommandError.generic("Guest is waiting for an incoming migration");
        if (shuttingDown) throw CommandError.generic("molt is quitting");
        if (rs == RunState.POSTMIGRATE) throw CommandError.generic("Can't migrate the vm that was paused due to previous migration");
        // Not in QEMU, which lets such a migration start: there is no guest to run at the destination.
        if (rs == RunState.SHUTDOWN || rs == RunState.INTERNAL_ERROR) {
            throw CommandError.generic("Cannot migrate a VM in state '" + rs.qapiName + "'");
        }
        java.nio.file.Path program = null;
        LaunchPlan plan = null;
        String stateUri = mainUri; // where a live update's new molt, or the one going back, reads the state
        // Everything that can be checked is checked while the guest still runs (qemu-cpr.md §3, §7).
        try {
            if (mode == MigrationMode.CPR_EXEC && settings.capability("pause-before-switchover")) {
                // The keeper's resume bound runs from before the stop: a wait for migrate-continue would
                // count against it, and the keeper would take the guest back from a molt that waits.
                throw new IllegalArgumentException("pause-before-switchover is not supported with cpr-exec in molt: the new molt"
                        + " must resume the guest within x-cpr-exec-resume-timeout of the stop");
            }
            if (mode == MigrationMode.CPR_EXEC) {
                program = CprExec.resolveProgram(settings.cprExecCommand());
                executor.check();
                // A molt launcher tells now what it would exec, so that the pause execs the JVM straight away;
                // one that fails when asked (no JDK, no jar) would fail after the stop: refused here instead.
                plan = LaunchPlan.ask(program, settings.cprExecCommand(), CprExec.environment("-1", Map.of()), LAUNCH_PLAN_BOUND)
                        .orElse(null);
                if (mainUri.startsWith("exec:")) stateUri = CprExec.stateUriForExec(settings.cprExecCommand());
            }
            if (mode == MigrationMode.CPR_EXEC || mode == MigrationMode.CPR_TRANSFER || mode == MigrationMode.X_CPR_RELOAD) {
                CprExec.requirePreservable(machine.ram().block());
            }
            if (mode == MigrationMode.X_CPR_RELOAD) {
                if (reloader == null) throw new IllegalArgumentException("x-cpr-reload is not available in this molt");
                reloader.blocker().ifPresent(b -> { throw new IllegalArgumentException(b); });
                if (settings.capability("pause-before-switchover")) {
                    throw new IllegalArgumentException("pause-before-switchover is not supported with x-cpr-reload");
                }
            }
        } catch (IllegalArgumentException e) {
            throw CommandError.generic(e.getMessage());
        }
        // The new code is loaded and made ready while the guest runs: a jar that cannot take over is
        // refused here, before anything stops.
        dev.molt.host.Generation next = null;
        List<String> nextArgs = List.of(); // the new code's command line: prepared with it, then run with it
        if (mode == MigrationMode.X_CPR_RELOAD) {
            try {
                nextArgs = reloader.args(mainUri);
                next = reloader.load(settings.string("x-cpr-reload-jar"), nextArgs);
            } catch (IllegalArgumentException e) {
                throw CommandError.generic(e.getMessage());
            }
        }
        handOver.guestChangesHere(); // a guest that came paused by cpr-transfer leaves: its old molt must not resume it
        if (mode == MigrationMode.CPR_TRANSFER) {
            // As QEMU, the cpr channel is connected and the fds sent before migrate returns; the new
            // molt's reply and the switch-over follow on the migration thread.
            dev.molt.migration.channel.MigrationStream cpr;
            try {
                cpr = transport.connectCpr(request);
            } catch (IOException e) {
                begin(false);
                fail(e.getMessage());
                throw CommandError.generic(e.getMessage());
            }
            begin(false);
            activeMode = mode;
            activeChannel = cpr::abort; // wakes the thread waiting for the new molt to hang up
            worker = startWorker("migration-cpr-transfer", () -> runCprTransfer(request, cpr));
            return;
        }
        OutgoingChannel channel;
        try {
            channel = transport.connect(request);
        } catch (IOException e) {
            throw CommandError.generic(e.getMessage());
        }
        begin(false);
        activeMode = mode;
        activeChannel = channel;
        if (mode == MigrationMode.CPR_EXEC) {
            java.nio.file.Path prog = program;
            String readBack = stateUri;
            LaunchPlan launch = plan;
            worker = startWorker("migration-cpr-exec", () -> runCprExec(channel, prog, launch, readBack));
        } else if (mode == MigrationMode.X_CPR_RELOAD) {
            dev.molt.host.Generation loaded = next;
            List<String> args = nextArgs;
            worker = startWorker("migration-cpr-reload", () -> runCprReload(channel, loaded, args, mainUri));
        } else {
            boolean stopFirst = mode == MigrationMode.CPR_REBOOT;
            worker = startWorker("migration-out", () -> runOutgoing(channel, stopFirst));
        }
    }

    /**
     * A migration's thread. Each run method ends every failure it expects in {@link #fail} (with the
     * guest given back); anything else that escapes (an Error, a bug) must still not leave
     * query-migrate saying "setup" or "active" forever with nobody working on it.
     */
    private Thread startWorker(String name, Runnable body) {
        return Thread.ofPlatform().name(name).daemon(true).start(() -> {
            try {
                body.run();
            } catch (Throwable t) {
                if (status.inProgress()) fail("internal error: " + t);
                throw t;
            }
        });
    }

    /**
     * {@code before} runs right before the exec of a live update (flush consoles, stop accepting
     * monitor clients so that no socket is accepted after the fds were marked close-on-exec, give
     * the terminal back); {@code afterFailure} undoes it when the exec fails and this molt goes on.
     */
    public void setExecHooks(Runnable before, Runnable afterFailure) {
        this.beforeExec = before;
        this.afterExecFailure = afterFailure;
    }

    /** What a cpr-exec holds before the guest stops (the consoles' readers): see {@link InputHold}. */
    public void setInputHold(InputHold hold) {
        this.inputHold = hold;
    }

    /**
     * The registry of the host fds a live update hands to the new molt, by the name it finds them
     * under (RAM, disk images, monitor and console sockets: see {@link PreservedFds}). They stay
     * their owners': if the update fails, this molt goes on using them.
     */
    public void setPreservedFds(PreservedFds fds) {
        this.preservedFds = fds;
    }

    /** What x-cpr-reload needs from the rest of molt; without one, that mode is refused. */
    private volatile Reloader reloader;

    public void setReloader(Reloader reloader) {
        this.reloader = reloader;
    }

    /**
     * cpr-exec, old side: stop the guest, write the device state (no RAM pages: RAM stays in its
     * memfd), hand the RAM fds and the CPR state to the new molt through exec. If the exec fails,
     * the guest runs on here.
     */
    private void runCprExec(OutgoingChannel channel, java.nio.file.Path program, LaunchPlan plan, String stateUri) {
        boolean stopped = false, released = false, stoppedAccepting = false, inputHeld = false;
        VmState captured = null;
        CprState.StreamId written = null;
        List<PreservedFds.Entry> handed;
        List<dev.molt.sys.Fd> keep;
        List<String> previous;
        try {
            // RAM, images, the monitors' and consoles' sockets: the keeper holds them too, for a previous molt it relaunches.
            handed = preservedFds.forExec();
            keep = handed.stream().map(PreservedFds.Entry::fd).toList();
            previous = CprExec.ownCommandLine(); // reads /proc: fails like the rest when no fd is left
        } catch (RuntimeException e) {
            channel.close();
            fail(message(e));
            return;
        }
        try (dev.molt.sys.Fd cprFd = CprStateFile.create();
             // Started while the guest runs: guards the update against a new binary that dies before molt's code runs.
             Keeper keeper = Keeper.start(keep, cprFd, CprExec.goBackCommand(previous, stateUri),
                     java.time.Duration.ofMillis(settings.number("x-cpr-exec-resume-timeout")))) {
            setupMillis = (System.nanoTime() - startNanos) / 1_000_000;
            setStatus(MigrationStatus.ACTIVE);
            FaultPoint.CPR_EXEC_KEEPER_STARTED.reached();
            rehearseHandOver(); // the capture and writer, run once while the guest runs: their first run is slow
            inputHold.hold(java.time.Duration.ofSeconds(1)); // a reader delivers in microseconds: only a fault takes this long
            inputHeld = true;
            machine.prepareCapture();
            long stoppedAt = wallNanos();
            long stopNanos = System.nanoTime();
            boolean wasRunning = stopForSwitchOver();
            stopped = true;
            switchOverStarts();
            FaultPoint.CPR_EXEC_STOPPED.reached();
            SavedState saved = saveDeviceState(channel, wasRunning, FaultPoint.CPR_EXEC_STATE_WRITING);
            captured = saved.state();
            written = saved.id();
            long savedAt = wallNanos();
            List<String> command = settings.cprExecCommand();
            List<CprState.PreservedFd> preserved = described(handed);
            CprState state = new CprState(preserved, previous, stateUri, stoppedAt, savedAt, wallNanos(), wasRunning)
                    .withKeeper(keeper.pipe().num(), keeper.pid()).withBoot(bootSource(machine.config())).withDeviceState(written);
            CprStateFile.writeInto(cprFd, state);
            // The point of no return: a cancel or quit that came first wins; any later one is refused, and
            // "completed" is true from here (unless the exec itself fails, which then reports "failed").
            synchronized (switchOver) {
                if (cancelRequested || shuttingDown) throw new IOException("cancelled");
                switchOver.commit();
                activeChannel = null;
                downtimeMillis = (System.nanoTime() - stopNanos) / 1_000_000;
                machine.setRunState(RunState.POSTMIGRATE);
                finish(MigrationStatus.COMPLETED, null);
            }
            stoppedAccepting = true; // set first: a hook that fails halfway must be undone too
            beforeExec.run();
            // KVM's VM and vCPUs go before the exec: the exec's own teardown of them took about 25 ms on
            // kvm_pvm, closing them first about 10 ms in most runs (measured from execve to the launcher's first line).
            machine.releaseVm();
            released = true;
            List<dev.molt.sys.Fd> crossing = new java.util.ArrayList<>(keep);
            crossing.add(keeper.pipe());
            FaultPoint.CPR_EXEC_BEFORE_EXEC.reached();
            String error = plan == null ? executor.exec(program, command, crossing, cprFd, Map.of())
                    : executor.exec(plan.program(), plan.argv(), crossing, cprFd, plan.envChanges());
            // Still here: the exec failed. Nothing is lost; the guest runs on in this process.
            throw new IOException(error);
        } catch (Exception e) {
            // Whatever failed between the stop and the exec, this one path gives back the guest and the monitors.
            if (stoppedAccepting) afterExecFailure.run();
            boolean cancelled = cancelRequested;
            // The VM is rebuilt from the state just saved (paused: whether it runs again is the switch-over's call).
            if (released) machine.loadState(paused(captured), () -> { });
            if (stopped) switchOver.giveBack();
            if (inputHeld) inputHold.release();
            if (cancelled) finish(MigrationStatus.CANCELLED, null);
            else fail(message(e));
        }
    }

    /**
     * x-cpr-reload, old side: hold this code's readers, stop the guest, hand the device state and
     * duplicates of every live fd (and the monitor clients) to {@code next} running on a thread of
     * its own, and wait until it says it resumes the guest. Until then nothing here is torn down: if
     * it fails, throws, or takes longer than x-cpr-reload-timeout, the guest runs on here.
     *
     * <p>A two-phase {@code next} ({@link Reloader#twoPhase}) gets the fds and runs before the stop,
     * building itself while the guest runs; the pause then holds only the device state's capture,
     * in memory, and its load. Any other gets everything once the guest stopped, the state through
     * the {@code file:} it reads as a cpr-exec's new molt does.
     */
    private void runCprReload(OutgoingChannel channel, dev.molt.host.Generation next, List<String> args, String fileUri) {
        Reloader r = reloader;
        boolean twoPhase = r.twoPhase(next);
        boolean held = false, stopped = false;
        List<dev.molt.sys.Fd> duplicates = new java.util.ArrayList<>();
        dev.molt.host.Handover handover = null;
        dev.molt.host.TwoPhaseGeneration.Stop stop = null;
        Thread newMain = null;
        try {
            setupMillis = (System.nanoTime() - startNanos) / 1_000_000;
            setStatus(MigrationStatus.ACTIVE);
            long bound = settings.number("x-cpr-reload-timeout");
            List<PreservedFds.Entry> handed = List.of();
            if (twoPhase) {
                handed = preservedFds.forReload();
                CprState early = new CprState(duplicated(handed, duplicates), args, fileUri, 0, 0, 0, true)
                        .withBoot(bootSource(machine.config()));
                stop = new dev.molt.host.TwoPhaseGeneration.Stop(new java.util.concurrent.CompletableFuture<>(),
                        new java.util.concurrent.CompletableFuture<>());
                handover = handover(args, early, List.of(), duplicates);
                newMain = dev.molt.host.Generations.thread((dev.molt.host.TwoPhaseGeneration) next, handover, stop);
                newMain.start();
                duplicates.clear(); // the new code's now, whatever happens to it
                awaitBuilt(stop, handover, bound);
            }
            // This code's capture and stream writer, run once while the guest runs: their first run is slow.
            rehearseHandOver();
            held = true; // set first: readers half held are released too
            r.holdReaders(java.time.Duration.ofSeconds(2));
            if (twoPhase) r.rehearseHeldClients(); // its first run in the pause cost a millisecond
            // What the new code was built on must still be all there is: a console or monitor connection
            // that came or went meanwhile would be lost to it (or kept twice).
            if (twoPhase && !handed.equals(preservedFds.forReload())) {
                throw new IOException("this molt's live fds changed while the new molt was built (a console or monitor"
                        + " connection came or went); the guest runs on here: try again");
            }
            synchronized (switchOver) {
                if (cancelRequested || shuttingDown) throw new IOException("cancelled");
            }
            machine.prepareCapture();
            long stoppedAt = wallNanos();
            long stopNanos = System.nanoTime();
            boolean wasRunning = stopForSwitchOver();
            stopped = true;
            switchOverStarts();
            if (twoPhase) {
                byte[] state = captureDeviceState(wasRunning);
                long savedAt = wallNanos();
                List<dev.molt.host.HeldClient> clients = r.heldClients();
                for (dev.molt.host.HeldClient c : clients) duplicates.add(new dev.molt.sys.Fd(c.fd(), "held monitor client"));
                stop.stopped().complete(new dev.molt.host.TwoPhaseGeneration.Stopped(state, clients, stoppedAt, savedAt));
                duplicates.clear();
                // The file the migrate command named gets the state too, while the new code loads it; the new
                // code needs it not, so a failure here is said and changes nothing.
                try {
                    writeDeviceState(channel, state);
                } catch (IOException e) {
                    System.err.println("molt: x-cpr-reload: cannot write the device state to " + fileUri + ": " + e.getMessage()
                            + " (the new molt has it in memory: the reload goes on)");
                }
            } else {
                CprState.StreamId written = saveDeviceState(channel, wasRunning, null).id();
                long savedAt = wallNanos();
                // Duplicates: the new code owns them from its start, this code keeps its own until it is sure.
                List<CprState.PreservedFd> fds = duplicated(preservedFds.forReload(), duplicates);
                List<dev.molt.host.HeldClient> clients = r.heldClients();
                for (dev.molt.host.HeldClient c : clients) duplicates.add(new dev.molt.sys.Fd(c.fd(), "held monitor client"));
                CprState state = new CprState(fds, args, fileUri, stoppedAt, savedAt, wallNanos(), wasRunning)
                        .withBoot(bootSource(machine.config())).withDeviceState(written);
                synchronized (switchOver) {
                    if (cancelRequested || shuttingDown) throw new IOException("cancelled");
                }
                handover = handover(args, state, clients, duplicates);
                newMain = dev.molt.host.Generations.thread(next, handover);
                newMain.start();
                duplicates.clear(); // the new code's now, whatever happens to it
            }
            try {
                handover.tookOver().get(bound, java.util.concurrent.TimeUnit.MILLISECONDS);
            } catch (java.util.concurrent.TimeoutException e) {
                // Too late for the new code: completing first makes its own completion fail, so it gives up.
                if (handover.tookOver().completeExceptionally(new IOException("gave up waiting"))) {
                    throw new IOException("the new molt did not resume the guest within x-cpr-reload-timeout (" + bound + " ms)");
                }
                handover.tookOver().get(); // it won the race: the guest is the new code's
            } catch (java.util.concurrent.ExecutionException e) {
                throw new IOException("the new molt failed: " + message(e.getCause()));
            }
            // The guest runs under the new code: this code lets go, without closing what it handed over.
            r.muteMonitors();
            synchronized (switchOver) {
                switchOver.commit();
                activeChannel = null;
                downtimeMillis = (System.nanoTime() - stopNanos) / 1_000_000;
                machine.setRunState(RunState.POSTMIGRATE);
                finish(MigrationStatus.COMPLETED, null);
            }
            r.handedOver();
        } catch (Exception e) {
            // A two-phase new code still waiting for the stop gives up (it has then taken nothing).
            if (stop != null) stop.stopped().completeExceptionally(new IOException(message(e)));
            if (newMain != null) {
                Runnable abort = handover.abort().get();
                if (abort != null) abort.run(); // its readers end: none may read beside this code's once they go on
                try {
                    newMain.join(java.time.Duration.ofSeconds(5));
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                }
                if (newMain.isAlive()) System.err.println("molt: x-cpr-reload: the new molt's thread has not ended; going on without it");
            }
            for (dev.molt.sys.Fd f : duplicates) f.close();
            if (held) r.releaseReaders();
            boolean cancelled = cancelRequested;
            if (stopped) switchOver.giveBack();
            if (cancelled) finish(MigrationStatus.CANCELLED, null);
            else fail(message(e));
        }
    }

    /** Duplicates of {@code handed} (added to {@code duplicates}), as the CPR state lists them for the new code. */
    private static List<CprState.PreservedFd> duplicated(List<PreservedFds.Entry> handed, List<dev.molt.sys.Fd> duplicates) {
        List<CprState.PreservedFd> fds = new java.util.ArrayList<>();
        for (PreservedFds.Entry e : handed) {
            dev.molt.sys.Fd copy = dev.molt.sys.Posix.dup(e.fd());
            duplicates.add(copy);
            fds.add(new CprState.PreservedFd(e.name(), copy.num(), e.size()));
        }
        return fds;
    }

    /** The hand-over to a reload's new code: {@code state} in a memfd of its own (added to {@code duplicates}). */
    private static dev.molt.host.Handover handover(List<String> args, CprState state, List<dev.molt.host.HeldClient> clients,
                                                   List<dev.molt.sys.Fd> duplicates) throws IOException {
        dev.molt.sys.Fd stateFd = CprStateFile.create();
        duplicates.add(stateFd);
        CprStateFile.writeInto(stateFd, state);
        return new dev.molt.host.Handover(args, stateFd.num(), clients, new java.util.concurrent.CompletableFuture<>(),
                new java.util.concurrent.atomic.AtomicReference<>());
    }

    /**
     * Two-phase reload: waits (at most {@code bound} ms) until the new code is built and waits for
     * the stop; throws if it failed instead, or took longer.
     */
    private static void awaitBuilt(dev.molt.host.TwoPhaseGeneration.Stop stop, dev.molt.host.Handover handover, long bound)
            throws IOException, InterruptedException {
        try {
            // A new code that fails says so on tookOver (and on built, unless it failed before it could).
            java.util.concurrent.CompletableFuture.anyOf(stop.built(), handover.tookOver()).get(bound, java.util.concurrent.TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.TimeoutException e) {
            throw new IOException("the new molt was not ready to take the guest over within x-cpr-reload-timeout (" + bound + " ms)");
        } catch (java.util.concurrent.ExecutionException e) {
            throw new IOException("the new molt failed: " + message(e.getCause()));
        }
    }

    /** The device state a live update saved (kept to rebuild the VM if the update fails) and its stream's identity. */
    private record SavedState(VmState state, CprState.StreamId id) {}

    /**
     * cpr-exec and x-cpr-reload, with the guest stopped: captures the device state and writes it
     * (no RAM pages: RAM stays in its memfd) to {@code channel}, which is closed after. With
     * {@code midway} armed, what is written so far reaches the channel and molt stops there (the
     * fault tests kill a molt with half a state on disk).
     */
    private SavedState saveDeviceState(OutgoingChannel channel, boolean wasRunning, FaultPoint midway) throws IOException {
        try (channel; java.io.OutputStream out = new java.io.BufferedOutputStream(channel.output(), 1 << 16)) {
            VmStreamCodec.Writer writer = VmStreamCodec.writer(out, machine.ram());
            VmState captured = machine.captureState(wasRunning);
            writer.state(captured);
            if (midway != null && midway.armed()) {
                out.flush();
                midway.reached();
            }
            writer.finish();
            out.flush();
            channel.confirm();
            return new SavedState(captured, writer.id());
        }
    }

    /** A two-phase reload, with the guest stopped: the device state as a stream (no RAM pages), in memory. */
    private byte[] captureDeviceState(boolean wasRunning) throws IOException {
        return encoded(machine.captureState(wasRunning));
    }

    /** {@code state} as a device-state stream (no RAM pages), in memory: what a two-phase reload hands over. */
    private byte[] encoded(VmState state) throws IOException {
        java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream(1 << 16);
        VmStreamCodec.Writer writer = VmStreamCodec.writer(bytes, machine.ram());
        writer.state(state);
        writer.finish();
        return bytes.toByteArray();
    }

    /** The device state in {@code stream} ({@link #encoded}'s form), checked against this machine. */
    private VmState decoded(byte[] stream, MigrationStats into) {
        return VmStreamCodec.read(new java.io.ByteArrayInputStream(stream), machine.ram(), into, false, machine.deviceSections()).state();
    }

    /** Writes a captured device state to {@code channel}, which is closed after. */
    private static void writeDeviceState(OutgoingChannel channel, byte[] state) throws IOException {
        try (channel; java.io.OutputStream out = channel.output()) {
            out.write(state);
            out.flush();
            channel.confirm();
        }
    }

    /** The CPR state's list of the fds handed over: each one's name, number and recorded size. */
    private static List<CprState.PreservedFd> described(List<PreservedFds.Entry> handed) {
        List<CprState.PreservedFd> out = new java.util.ArrayList<>();
        for (PreservedFds.Entry e : handed) out.add(new CprState.PreservedFd(e.name(), e.fd().num(), e.size()));
        return out;
    }

    private static VmState paused(VmState s) {
        return s.paused();
    }

    /** Stops the guest for a switch-over (see {@link SwitchOver#stopGuest}); says whether it was running. */
    private boolean stopForSwitchOver() {
        return switchOver.stopGuest();
    }

    /**
     * After {@link #stopForSwitchOver} (whose caller then gives the guest back on any failure):
     * with pause-before-switchover, waits in pre-switchover for migrate-continue; then "device".
     */
    private void switchOverStarts() throws IOException, InterruptedException {
        if (settings.capability("pause-before-switchover")) {
            // As QEMU: the guest is stopped (finish-migrate) while the migration waits in pre-switchover.
            synchronized (switchOver) {
                if (cancelRequested || shuttingDown) throw new IOException("cancelled");
                setStatus(MigrationStatus.PRE_SWITCHOVER);
            }
            switchoverGate.await();
        }
        setStatus(MigrationStatus.DEVICE);
    }

    /**
     * The point of no return of a migration that streams its device state: from here a cancel must
     * not give the guest back, as the destination may run it as soon as it has the whole state. A
     * cancel that came first wins.
     */
    private void commitBeforeDeviceState() throws IOException {
        synchronized (switchOver) {
            if (cancelRequested || shuttingDown) throw new IOException("cancelled");
            switchOver.commit();
            activeChannel = null;
        }
    }

    /**
     * What a reset boots here, for the new molt of a live update whose command line may have no
     * -kernel. Absolute: a cpr-transfer's new process may run in another directory.
     */
    static CprState.BootSource bootSource(dev.molt.machine.MachineConfig c) {
        if (!c.hasKernel()) return CprState.BootSource.NONE;
        return new CprState.BootSource(c.kernel().toAbsolutePath().toString(),
                c.initrd() == null ? "" : c.initrd().toAbsolutePath().toString(), c.cmdline());
    }

    /**
     * cpr-transfer, old side: the CPR state and RAM fds go to the new molt, which hangs up the cpr
     * channel once it listens on the main channel; then the guest stops and its device state (no RAM
     * pages: the new molt maps the same memfds) goes over the main channel. The guest is the new
     * molt's only when it replies that it resumes it; if it fails or dies before that, the guest runs
     * on here. Until the stop, failing or cancelling costs the guest nothing. What the new molt says
     * next decides whether cont may ever resume the guest here (see {@link HandOver}).
     */
    private void runCprTransfer(MigrateRequest request, dev.molt.migration.channel.MigrationStream cpr) {
        boolean stopped = false;
        OutgoingChannel channel = null;
        try {
            try (cpr) {
                // The guest's fds (RAM, images): the new molt has its own monitors and consoles.
                List<PreservedFds.Entry> handed = preservedFds.forTransfer();
                CprState state = new CprState(described(handed), CprExec.ownCommandLine(), "", 0, 0, 0, machine.state() == RunState.RUNNING)
                        .withBoot(bootSource(machine.config()));
                CprTransfer.send(cpr, state, handed.stream().map(PreservedFds.Entry::fd).toList());
                FaultPoint.CPR_TRANSFER_SENT.reached();
                rehearseHandOver(); // while the new molt builds its machine
                CprTransfer.awaitHangup(cpr);
            }
            if (cancelRequested) throw new IOException("cancelled");
            channel = transport.connect(request);
            activeChannel = channel;
            setupMillis = (System.nanoTime() - startNanos) / 1_000_000;
            setStatus(MigrationStatus.ACTIVE);
            machine.prepareCapture();
            long stopNanos = System.nanoTime();
            boolean wasRunning = stopForSwitchOver();
            stopped = true;
            switchOverStarts();
            FaultPoint.CPR_TRANSFER_STOPPED.reached();
            commitBeforeDeviceState();
            java.io.OutputStream out = new java.io.BufferedOutputStream(channel.output(), 1 << 16);
            VmStreamCodec.Writer writer = VmStreamCodec.writer(out, machine.ram());
            writer.state(machine.captureState(wasRunning));
            writer.finish();
            out.flush();
            int reply = channel.input().read();
            if (reply != HandOver.RESUMING) {
                throw new IOException("the new molt did not take the guest over (" + (reply < 0 ? "it closed the channel" : "reply " + reply) + ")");
            }
            // Not channel.confirm(): it closes the channel, which HandOver still reads (and closes once it
            // knows whether the guest ran there).
            downtimeMillis = (System.nanoTime() - stopNanos) / 1_000_000;
            synchronized (switchOver) {
                switchOver.completed();
                finish(MigrationStatus.COMPLETED, null);
            }
            OutgoingChannel handedOver = channel;
            channel = null;
            handedOver(handedOver);
        } catch (Exception e) {
            boolean cancelled = cancelRequested;
            if (stopped) switchOver.giveBack();
            if (cancelled) finish(MigrationStatus.CANCELLED, null);
            else fail(message(e));
        } finally {
            if (channel != null) channel.close();
        }
    }

    /**
     * Past 'R' the guest is the new molt's: nothing that goes wrong from here may give it back to
     * this one (two processes would run the same RAM), so no failure leaves this method.
     */
    private void handedOver(OutgoingChannel channel) {
        try {
            handOver.afterResuming(channel.input(), channel::close);
        } catch (RuntimeException e) {
            System.err.println("molt: cpr-transfer: after the hand-over: " + message(e) + " (the guest stays with the new molt)");
            channel.close();
        }
    }

    public static long wallNanos() {
        java.time.Instant now = java.time.Instant.now();
        return now.getEpochSecond() * 1_000_000_000L + now.getNano();
    }

    /**
     * cpr-exec, new side: records the update as a completed migration whose downtime is the
     * guest's true pause, from the old process stopping it to this one resuming it, and where it went.
     */
    public void completedCprExec(CprState cpr, long jvmStartWallNanos, long loadedWallNanos) {
        long resumed = wallNanos();
        cprBreakdown = new LinkedHashMap<>();
        cprBreakdown.put("save", (cpr.savedAtNanos() - cpr.stoppedAtNanos()) / 1_000_000);
        // From execve to molt's main(): the kernel's exec and the new JVM's start-up, inseparable from outside.
        cprBreakdown.put("exec-and-jvm-start", Math.max(0, jvmStartWallNanos - cpr.execAtNanos()) / 1_000_000);
        cprBreakdown.put("restore", Math.max(0, loadedWallNanos - jvmStartWallNanos) / 1_000_000);
        cprBreakdown.put("resume", Math.max(0, resumed - loadedWallNanos) / 1_000_000);
        startNanos = System.nanoTime() - (resumed - cpr.stoppedAtNanos());
        setupMillis = 0;
        downtimeMillis = (resumed - cpr.stoppedAtNanos()) / 1_000_000;
        totalMillis = downtimeMillis;
        setStatus(MigrationStatus.COMPLETED);
    }

    @Override
    public synchronized void migrateIncoming(IncomingRequest request) {
        // QEMU's texts and order: "already started" first, also after the migration completed or failed.
        if (incomingStarted) throw CommandError.generic("The incoming migration has already been started");
        if (!incomingAllowed) throw CommandError.generic("'-incoming' was not specified on the command line");
        startIncoming(request, request.exitOnError(), cprIncoming);
    }

    /**
     * migrate-continue: lets a migration waiting in pre-switchover go on. As QEMU, the state named
     * must be the outgoing migration's current one, else "Migration not in expected state"; a
     * matching state other than pre-switchover has nothing to continue (QEMU would let a later
     * pause pass at once; molt does not carry it over).
     */
    @Override
    public void migrateContinue(String state) {
        MigrationStatus outgoing = incomingSide ? MigrationStatus.NONE : status;
        if (!outgoing.qapiName.equals(state)) {
            throw CommandError.generic("Migration not in expected state: " + outgoing.qapiName); // QEMU's text
        }
        if (outgoing == MigrationStatus.PRE_SWITCHOVER) switchoverGate.release();
    }

    /**
     * migrate_cancel: the outgoing migration only. On a destination QEMU finds no outgoing migration
     * and does nothing (no error); an incoming one ends by its source, by quitting, or failing.
     */
    @Override
    public void cancel() {
        if (incomingSide) return;
        AutoCloseable c;
        synchronized (switchOver) {
            c = requestCancel();
        }
        close(c);
    }

    /**
     * Marks the migration in progress cancelled, unless it is past its point of no return (then, as
     * QEMU's migrate_cancel after completion, nothing changes); returns the channel to close. Called
     * under {@link #switchOver}, where the migration decides whether it commits.
     */
    private AutoCloseable requestCancel() {
        if (!status.inProgress() || switchOver.committed()) return null;
        cancelRequested = true;
        switchoverGate.cancel();
        setStatus(MigrationStatus.CANCELLING);
        return activeChannel;
    }

    private static void close(AutoCloseable c) {
        if (c == null) return;
        try {
            c.close();
        } catch (Exception ignored) {
            // The worker sees the closed channel and finishes as cancelled.
        }
    }

    // ---- the monitors' run-state commands and quitting, in order with migrations ----

    /** QMP stop; see {@link SwitchOver#stop}. */
    public void stopGuest() {
        switchOver.stop();
    }

    /**
     * Runs a run-state command (cont, system_reset) with no switch-over starting or ending meanwhile;
     * {@link #switchingOver} and {@link #liveUpdateInProgress} hold still while it runs.
     */
    public void runStateCommand(Runnable command) {
        switchOver.command(command);
    }

    /**
     * cpr-transfer, new side: the guest that arrived paused is about to run or be reset here, so its
     * old molt must never resume it (see {@link HandOver}). Call before the change; a no-op otherwise.
     */
    public void guestChangesHere() {
        handOver.guestChangesHere();
    }

    /**
     * cpr-transfer, old side in postmigrate: the new molt ended without the guest ever running (or
     * its RAM changing) there, so it is still the one this molt stopped and may resume here.
     */
    public boolean handedOverGuestNeverRanElsewhere() {
        return handOver.fate() == HandOver.Fate.NEVER_RAN_THERE;
    }

    /** cpr-transfer, old side in postmigrate: another molt has the guest, and may run it. */
    public boolean guestWithAnotherMolt() {
        HandOver.Fate f = handOver.fate();
        return f == HandOver.Fate.RUNS_THERE || f == HandOver.Fate.PAUSED_THERE;
    }

    /** The guest is stopped for a migration whose outcome is not decided yet. */
    public boolean switchingOver() {
        return switchOver.active();
    }

    /** A cpr-exec or cpr-transfer is under way, from either side: the guest's RAM is being handed over. */
    public boolean liveUpdateInProgress() {
        if (!status.inProgress()) return false;
        if (cprIncoming != null) return true;
        return activeMode == MigrationMode.CPR_EXEC || activeMode == MigrationMode.CPR_TRANSFER || activeMode == MigrationMode.X_CPR_RELOAD;
    }

    /**
     * QMP quit, before its reply: molt will end. Cancels the migration in progress (as QEMU's
     * migration_shutdown does) and waits for its thread, so that a live update's keeper is told
     * "cancel" (not left to relaunch the previous molt under a new PID) and no thread reads RAM that
     * molt unmaps. Refused once a live update is past its point of no return: this molt is being
     * replaced (cpr-exec) or the guest handed on (cpr-transfer), and a quit replied to now would be
     * undone by the new molt.
     */
    public void prepareQuit() {
        AutoCloseable c;
        synchronized (switchOver) {
            if (switchOver.committed()) {
                throw CommandError.generic("A live update (" + activeMode.qapiName + ") is handing the guest to a new molt and"
                        + " can no longer be cancelled: quit once it has completed or failed");
            }
            shuttingDown = true;
            c = requestCancel();
        }
        close(c);
        awaitWorker();
    }

    /**
     * molt is ending, whatever ended it: as {@link #prepareQuit}, but a migration past its point of
     * no return is waited for rather than refused (a cpr-exec then replaces this process).
     */
    public void shutdown() {
        AutoCloseable c;
        synchronized (switchOver) {
            shuttingDown = true;
            c = requestCancel();
        }
        close(c);
        awaitWorker();
        // An incoming migration writes into guest RAM: it must be over before the caller unmaps RAM.
        // Its channel was just aborted, so it ends at once; bounded all the same, as it may be loading
        // under the machine's lock, which a caller could hold.
        Thread in = incomingWorker;
        if (in != null && in != Thread.currentThread()) {
            try {
                in.join(5_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private volatile Thread incomingWorker;

    private void awaitWorker() {
        Thread w = worker;
        if (w == null || w == Thread.currentThread()) return;
        boolean interrupted = false;
        while (w.isAlive()) {
            try {
                w.join();
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) Thread.currentThread().interrupt();
    }

    /**
     * QEMU's blocked-reasons: why a migration in the mode now set would be refused whatever its
     * arguments, so that a management tool can ask before it tries (a live update of a guest whose
     * RAM is private, say).
     */
    private List<String> blockedReasons() {
        MigrationMode mode = settings.mode();
        if (mode != MigrationMode.CPR_EXEC && mode != MigrationMode.CPR_TRANSFER && mode != MigrationMode.X_CPR_RELOAD) return List.of();
        List<String> reasons = new java.util.ArrayList<>(CprExec.cprBlocker(machine.ram().block()).stream().toList());
        if (mode == MigrationMode.X_CPR_RELOAD) {
            Reloader r = reloader;
            if (r == null) reasons.add("x-cpr-reload is not available in this molt");
            else r.blocker().ifPresent(reasons::add);
        }
        return reasons;
    }

    @Override
    public Map<String, Object> queryMigrate() {
        Map<String, Object> m = new LinkedHashMap<>();
        List<String> blocked = blockedReasons();
        if (status == MigrationStatus.NONE) {
            if (!blocked.isEmpty()) m.put("blocked-reasons", blocked);
            return m;
        }
        m.put("status", status.qapiName);
        if (cpuThrottle > 0) m.put("cpu-throttle-percentage", (long) cpuThrottle);
        if (status == MigrationStatus.COMPLETED) {
            // A destination knows neither (QEMU's reports none): only a live update's new molt, which measured
            // the pause across the processes, has them.
            if (setupMillis >= 0) m.put("setup-time", setupMillis);
            if (downtimeMillis >= 0) m.put("downtime", downtimeMillis);
            m.put("total-time", totalMillis);
        } else if (status.inProgress()) {
            m.put("setup-time", setupMillis < 0 ? 0L : setupMillis);
            m.put("expected-downtime", expectedDowntimeMillis < 0 ? settings.number("downtime-limit") : expectedDowntimeMillis);
            m.put("total-time", (System.nanoTime() - startNanos) / 1_000_000);
        } else if (totalMillis >= 0) {
            m.put("total-time", totalMillis);
        }
        // An incoming migration's counters are molt's own addition (QEMU reports none on a destination).
        if (incomingSide ? stats.totalBytes > 0 : status.reportsRam()) m.put("ram", stats.ram());
        if (status == MigrationStatus.COMPLETED && cprBreakdown != null) m.put("x-cpr-downtime-breakdown", cprBreakdown);
        if (status == MigrationStatus.FAILED && errorDesc != null) m.put("error-desc", errorDesc);
        if (!blocked.isEmpty()) m.put("blocked-reasons", blocked);
        return m;
    }

    // ---- incoming ----

    /**
     * Allows migrate-incoming (-incoming defer) or starts listening at once (-incoming URI).
     * {@code onFailure} runs when an incoming migration fails and exit-on-error is on. With
     * {@code startPaused} (-S) a guest that arrives running stays paused until cont, as QEMU's
     * autostart=false leaves it for the management tool to decide; a cpr-exec's new molt ignores
     * it (see {@link #runIncoming}).
     */
    public void allowIncoming(boolean startPaused, Runnable onFailure) {
        this.startPaused = startPaused;
        incomingAllowed = true;
        onIncomingFailure = onFailure;
        machine.setRunState(RunState.INMIGRATE);
    }

    /** Starts listening (the destination listens before the source connects), then receives on a thread. */
    public synchronized void startIncoming(IncomingRequest request, boolean exitOnError) {
        startIncoming(request, exitOnError, null);
    }

    /** Incoming for a live update: RAM is already in place, the stream must carry none. */
    public synchronized void startIncoming(IncomingRequest request, boolean exitOnError, CprInPlace cpr) {
        this.cprIncoming = cpr;
        if (request != null) startIncoming0(request, exitOnError);
    }

    /**
     * What the new molt of a live update needs: for cpr-exec, what it reports when the guest runs
     * again; for cpr-transfer ({@code transfer}), {@code onListening} hangs up the cpr channel once
     * the main channel listens, which tells the old molt to stop the guest and send its state.
     * {@code tookOver} runs once the guest is this molt's: the keeper released (cpr-exec), or the
     * old molt told it resumes here (cpr-transfer); no rollback may follow it.
     */
    public record CprInPlace(CprState state, long jvmStartWallNanos, boolean transfer, Runnable onListening, Runnable tookOver,
                             java.util.function.BooleanSupplier oldMoltGone) {
        public CprInPlace(CprState state, long jvmStartWallNanos, boolean transfer, Runnable onListening, Runnable tookOver) {
            this(state, jvmStartWallNanos, transfer, onListening, tookOver, () -> false);
        }

        /** cpr-exec: {@code tookOver} runs when the guest is about to run here (it releases the keeper). */
        public static CprInPlace exec(CprState state, long jvmStartWallNanos, Runnable tookOver) {
            return new CprInPlace(state, jvmStartWallNanos, false, () -> { }, tookOver);
        }
    }

    private volatile CprInPlace cprIncoming;

    private synchronized void startIncoming0(IncomingRequest request, boolean exitOnError) {
        IncomingChannel channel;
        try {
            channel = transport.listen(request);
        } catch (IOException e) {
            throw CommandError.generic(e.getMessage());
        }
        begin(true);
        incomingStarted = true;
        activeChannel = channel;
        if (cprIncoming != null && cprIncoming.transfer()) FaultPoint.CPR_TRANSFER_RECEIVED.reached();
        incomingWorker = Thread.ofPlatform().name("migration-in").daemon(true).start(() -> runIncoming(channel, exitOnError));
    }

    /** Blocks until the incoming migration in progress (if any) has completed or failed. */
    public void awaitIncoming() {
        synchronized (incomingDone) {
            while (status.inProgress()) {
                try {
                    incomingDone.wait();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }
    }

    private final Object incomingDone = new Object();

    private void runIncoming(IncomingChannel channel, boolean exitOnError) {
        boolean[] keepChannel = {false};
        try {
            VmState state;
            CprInPlace cpr = cprIncoming;
            // -S holds the guest of a migration, a cpr-reboot or a cpr-transfer, whose destination the
            // management tool started. Not a cpr-exec's: its command line is cpr-exec-command, and the
            // guest it updates in place goes on as it was (docs/management.md).
            boolean hold = startPaused && (cpr == null || cpr.transfer());
            machine.prepareIncoming(); // while the source has not sent anything yet: outside the guest's pause
            // A migration's or cpr-transfer's source stops the guest once it has sent its RAM, or as soon as this
            // hangs up the cpr channel, so what can be done first is done first (this thread started, the load's
            // code run once), and this thread is at the accept when its connection comes. A cpr-exec's new molt
            // is inside the pause already: it loads at once.
            if (cpr == null || cpr.transfer()) rehearseHandOver();
            if (cpr != null) cpr.onListening().run();
            java.io.InputStream accepted = channel.accept();
            setStatus(MigrationStatus.ACTIVE); // as QEMU: "setup" until the source connected
            // A descriptor-backed channel is not buffered: the reader buffers in native memory and reads RAM
            // pages straight into it (StreamInput). Anything else (exec:) is read through a buffer, as before.
            try (java.io.InputStream in = accepted instanceof dev.molt.sys.NativeSource ? accepted
                    : new java.io.BufferedInputStream(accepted, 1 << 20)) {
                VmStreamCodec.Loaded loaded = VmStreamCodec.read(in, machine.ram(), stats, cpr == null && !ignoresSharedRam(),
                        machine.deviceSections());
                if (cpr != null) checkIsTheUpdatesState(cpr.state(), loaded.id(), channel.describe());
                state = loaded.state();
            }
            long loaded = wallNanos();
            if (cpr != null && cpr.transfer()) {
                // The old molt resumes the guest itself unless told, before the guest runs here, that it is ours;
                // then, loaded but paused, that it runs here now (see HandOver).
                machine.loadState(paused(state), () -> {
                    FaultPoint.CPR_TRANSFER_LOADED.reached();
                    try {
                        handOver.taken(channel.returnPath(), channel);
                        keepChannel[0] = true;
                    } catch (IOException e) {
                        // The old molt resumes the guest only when it reads something other than the reply, which
                        // cannot happen while this end is open: a reply that cannot be written means it died
                        // waiting. Then this molt holds the guest's whole state and no other process can run it.
                        // Unless that death is certain, the guest stays the old molt's to resume.
                        if (!cpr.oldMoltGone().getAsBoolean()) {
                            throw new java.io.UncheckedIOException("cannot tell the old molt that the guest resumes here: " + e.getMessage(), e);
                        }
                        System.err.println("molt: cpr-transfer: the old molt died after it sent the guest's whole state ("
                                + e.getMessage() + "): the guest is this molt's, as no other process can run it");
                    }
                    cpr.tookOver().run(); // the old molt let go: the guest is this molt's whatever happens next
                });
                FaultPoint.CPR_TRANSFER_REPLIED.reached();
                if (state.running() && !hold) {
                    switchOver.command(() -> {
                        handOver.guestChangesHere();
                        machine.resume();
                    });
                }
                finish(MigrationStatus.COMPLETED, null);
            } else {
                // A guest that comes by live migration or from a file takes its disks now: the molt it left
                // let go of them before sending its device state (a live update's new molt holds them already).
                if (cpr == null) machine.holdHostResources(true);
                if (cpr != null) {
                    restoreInPlace(hold ? paused(state) : state, cpr, loaded);
                } else {
                    machine.loadState(hold ? paused(state) : state, () -> { });
                    // The guest now runs here: the network learns it (QEMU announces at this point too, and
                    // not for a live update, which keeps the guest on its host and its taps).
                    machine.announceSelf(new dev.molt.machine.SelfAnnounce(settings.number("announce-initial"),
                            settings.number("announce-max"), settings.number("announce-rounds"), settings.number("announce-step")));
                    finish(MigrationStatus.COMPLETED, null);
                }
            }
        } catch (Exception e) {
            fail("load of migration failed: " + message(e));
            if (exitOnError) onIncomingFailure.run();
        } finally {
            if (!keepChannel[0]) channel.close();
        }
    }

    /** A live update's new molt, the device state read: the guest resumes (or stays as it was) here. */
    private void restoreInPlace(VmState state, CprInPlace cpr, long loadedWallNanos) {
        FaultPoint.CPR_EXEC_RESTORING.reached();
        machine.loadState(state, cpr.tookOver());
        FaultPoint.CPR_EXEC_RESUMED.reached();
        completedCprExec(cpr.state(), cpr.jvmStartWallNanos(), loadedWallNanos);
    }

    /**
     * A two-phase x-cpr-reload's new code, built and the guest still running under the previous
     * one: runs the capture, the stream's writer and reader once over the machine as built (nothing
     * is loaded), so that the pause does not wait for their first run's linking. The old code does
     * the same before it stops the guest (its devices' state read under their locks, as a capture
     * does). A cpr-transfer does it on both sides too: the old molt while the new one builds its
     * machine, the new one before it hangs up the cpr channel (which stops the guest); so do a live
     * migration's two ends (the source before its first pass, the destination before it accepts)
     * and a cpr-exec's old molt before the stop. Under KVM the vCPUs in it are blanks (see
     * Machine.rehearsalState): the writer's and reader's code runs all the same. Says nothing of a
     * failure: the same steps in the pause do it for real, and report.
     */
    public void rehearseHandOver() {
        try {
            var state = machine.rehearsalState();
            if (state.isEmpty()) return;
            decoded(encoded(state.get()), new MigrationStats());
        } catch (IOException | RuntimeException e) {
            // Only the time it would have saved is lost.
        }
    }

    /**
     * A two-phase x-cpr-reload's new code: the device state the previous code captured in memory
     * once the guest stopped, loaded on the calling thread (no channel, no thread: the guest waits).
     * A failure is an incoming migration's (see {@link #allowIncoming}).
     */
    public void loadHandedOver(byte[] deviceState, CprInPlace cpr) {
        synchronized (this) {
            cprIncoming = cpr;
            begin(true);
            incomingStarted = true;
        }
        try {
            setStatus(MigrationStatus.ACTIVE);
            VmState state = decoded(deviceState, stats);
            restoreInPlace(state, cpr, wallNanos());
        } catch (Exception e) {
            fail("load of migration failed: " + message(e));
            onIncomingFailure.run();
        }
    }

    /**
     * A live update's new molt loads only the device state its old molt wrote for it: a file left
     * by an earlier update at the -incoming path would restore a past CPU state over today's RAM.
     * Checked before anything is restored, so that the failure can still go back to the old molt
     * (which resumes from the file it wrote). States from molts that recorded no identity pass.
     */
    static void checkIsTheUpdatesState(CprState cpr, CprState.StreamId loaded, String where) throws IOException {
        CprState.StreamId expected = cpr.deviceState();
        if (!expected.known() || expected.equals(loaded)) return;
        throw new IOException("the device state on " + where + " is not the one the old molt saved for this update (it saved "
                + expected + ", this has " + loaded + "; it wrote " + cpr.previousIncoming() + "): a file left by an earlier update?");
    }

    // ---- outgoing ----

    /**
     * Normal mode: live precopy. cpr-reboot: the guest stops first (QEMU stops it at connect), then
     * RAM (unless x-ignore-shared applies) and the device state go to the file, and the source ends
     * in postmigrate, ready to quit; a later molt resumes from the file.
     */
    private void runOutgoing(OutgoingChannel channel, boolean stopFirst) {
        boolean stopped = false, letGo = false;
        RateLimiter limiter = new RateLimiter(settings.number("max-bandwidth"));
        try (channel; java.io.OutputStream out = new java.io.BufferedOutputStream(channel.output(), 1 << 20);
             VmStreamCodec.Writer writer = VmStreamCodec.writer(out, channel.output(), machine.ram());
             RamSender ram = new RamSender(machine, writer, limiter, stats, () -> cancelRequested)) {
            setupMillis = (System.nanoTime() - startNanos) / 1_000_000;
            setStatus(MigrationStatus.ACTIVE);
            // x-ignore-shared with a shared named file: the destination maps the same file, so no page is sent.
            boolean sendRam = !ignoresSharedRam();
            boolean precopy = sendRam && !stopFirst;
            // The device state's capture and writer, run once before any page goes: their first run, in
            // the pause, was several times slower.
            rehearseHandOver();
            if (precopy) {
                ram.startTracking();
                passEvent(); // the first sync, before the first pass: QEMU's pass 1
                precopy(ram);
            }
            if (precopy) awaitDestination(channel, out);
            // Switch over: stop the guest, send what is left of RAM and the device state.
            machine.prepareCapture();
            long stopAt = System.nanoTime();
            boolean wasRunning = stopForSwitchOver();
            stopped = true;
            // The guest cannot change its pages now: they go from guest RAM to the channel without a copy.
            writer.pagesInPlace(true);
            // Live precopy's last dirty pages go in "device", as QEMU's ram_save_complete; cpr-reboot's
            // whole RAM copy, with the guest stopped from the start, is still "active" there.
            if (precopy) switchOverStarts();
            limiter.setLimit(0); // the guest is stopped: send as fast as possible
            if (precopy) {
                syncDirty(ram); // the vCPUs are out of KVM_RUN: this sync sees their last writes
                ram.sendDirty();
                // Tracking stops when the sender closes, after the switch-over: changing the slots' flags
                // took 2-3 ms of the pause on kvm_pvm, and a guest given back resumes only after it.
            } else if (sendRam) {
                ram.sendAll();
            }
            if (!precopy) switchOverStarts();
            commitBeforeDeviceState();
            // The destination (on the same storage) takes the disks once it has the guest: as QEMU
            // inactivates its images before the device state, this molt lets go of their locks now.
            machine.holdHostResources(false);
            letGo = true;
            writer.state(machine.captureState(wasRunning));
            writer.finish();
            out.flush();
            channel.confirm();
            downtimeMillis = (System.nanoTime() - stopAt) / 1_000_000;
            synchronized (switchOver) {
                switchOver.completed();
                finish(MigrationStatus.COMPLETED, null);
            }
        } catch (Exception e) {
            boolean cancelled = cancelRequested;
            String reason = message(e);
            try {
                // Nothing lost: the guest goes back to running if it ran before (and no stop came since),
                // once its disks are this molt's again; if another process took them meanwhile, it stays paused.
                boolean mayRun = true;
                if (letGo) {
                    try {
                        machine.holdHostResources(true);
                    } catch (RuntimeException lost) {
                        mayRun = false;
                        reason += "; the guest stays paused: " + message(lost);
                    }
                }
                if (stopped) switchOver.giveBack(mayRun);
            } finally {
                if (cancelled) finish(MigrationStatus.CANCELLED, null);
                else fail(reason);
            }
        }
    }

    /**
     * Live precopy: a first pass over all of RAM, then passes over what the guest dirtied, until the
     * rest fits the downtime limit at the measured (or given) bandwidth; auto-converge throttles the
     * vCPUs of a guest that dirties faster than the link sends.
     */
    private void precopy(RamSender ram) throws IOException, InterruptedException {
        long passStart = System.nanoTime();
        ram.sendAll();
        long lastPassPages = Long.MAX_VALUE; // the first pass sent every page
        int shrinkPasses = 0;
        try (Throttle throttle = new Throttle(machine)) {
            while (true) {
                double seconds = Math.max(1e-3, (System.nanoTime() - passStart) / 1e9);
                double bytesPerSecond = Math.max(1, stats.transferredBytes / ((System.nanoTime() - startNanos) / 1e9));
                stats.mbps = bytesPerSecond * 8 / 1e6;
                // avail-switchover-bandwidth: what the user says the link gives at switchover, when the
                // measured rate (shared with other traffic) would underestimate it (QEMU's meaning).
                long switchover = settings.number("avail-switchover-bandwidth");
                if (switchover > 0) bytesPerSecond = switchover;
                long dirty = syncDirty(ram);
                stats.dirtyPagesRate = (long) (dirty / seconds);
                expectedDowntimeMillis = (long) (dirty * (double) RamSender.PAGE / bytesPerSecond * 1000);
                // Read at each iteration, as QEMU does: a management tool raises the limit of a migration
                // that does not converge (libvirt's migrate-setmaxdowntime), and it applies at once.
                if (expectedDowntimeMillis <= settings.number("downtime-limit")) {
                    if (!worthAnotherPass(dirty, lastPassPages, shrinkPasses)) return;
                    shrinkPasses++; // within the limit already: this pass only shortens the pause, and throttles nothing
                } else if (settings.capability("auto-converge") && stats.passes >= 2) {
                    int pct = throttle.percent() == 0 ? (int) settings.number("cpu-throttle-initial")
                            : (int) Math.min(settings.number("max-cpu-throttle"), throttle.percent() + settings.number("cpu-throttle-increment"));
                    throttle.set(pct);
                    cpuThrottle = throttle.percent();
                }
                passStart = System.nanoTime();
                lastPassPages = dirty;
                ram.sendDirty();
            }
        } finally {
            cpuThrottle = 0;
        }
    }

    /** At most this many passes beyond the one that brought the expected downtime within the limit. */
    static final int MAX_SHRINK_PASSES = 6;
    /** A dirty set this small (1 MiB) takes about a millisecond to send: not worth another pass. */
    static final long SMALL_DIRTY_PAGES = 256;

    /**
     * Whether to send the dirty set once more, the guest running, although the pause would already
     * be within downtime-limit: the limit is the longest pause allowed, not a target. What the pause
     * sends is what the guest dirtied during the last pass, so a pass that is half the previous one
     * or less roughly halves it again; the passes stop once that no longer holds (the guest dirties
     * as much in a short pass as in a long one), the set is small, or after {@link #MAX_SHRINK_PASSES}.
     * QEMU switches over as soon as the set fits the limit: at 300 ms (its default) that was right
     * after the first pass, whose dirtied pages then all went in the pause.
     */
    static boolean worthAnotherPass(long dirty, long lastPassPages, int shrinkPasses) {
        return dirty > SMALL_DIRTY_PAGES && dirty * 2 <= lastPassPages && shrinkPasses < MAX_SHRINK_PASSES;
    }

    /** The longest the switch-over waits for the destination to catch up: the guest runs meanwhile. */
    private static final long CATCH_UP_NANOS = 200_000_000;

    /**
     * Before the stop, lets the destination read what is still queued for it (bounded by
     * {@link #CATCH_UP_NANOS}). Whatever it has not read when the guest stops is part of the pause:
     * the final flush blocks on it, and the destination resumes only after it. Measured under qtest
     * at 4 GiB, the tail of the first pass (records of zero pages) still queued at the stop was 8-13
     * ms of a 15-30 ms pause. The dirty pages of the wait are sent in the final pass as always.
     */
    private void awaitDestination(OutgoingChannel channel, java.io.OutputStream out) throws IOException, InterruptedException {
        out.flush();
        long deadline = System.nanoTime() + CATCH_UP_NANOS;
        while (channel.unreadBytes() > 0 && System.nanoTime() < deadline && !cancelRequested) Thread.sleep(0, 200_000);
    }

    /** A dirty-log sync, reported as QEMU reports each one: MIGRATION_PASS with the sync's number. */
    private long syncDirty(RamSender ram) {
        long dirty = ram.syncDirty();
        passEvent();
        return dirty;
    }

    private void passEvent() {
        if (settings.capability("events")) events.emit(Events.migrationPass(stats.dirtySyncCount));
    }

    /** x-ignore-shared applies: the capability is on and RAM is a shared named file both sides map. */
    private boolean ignoresSharedRam() {
        return settings.capability("x-ignore-shared") && machine.ram().block().sharedNamedFile();
    }

    // ---- status bookkeeping ----

    private void begin(boolean incoming) {
        incomingSide = incoming;
        switchoverGate.arm();
        handOver.reset();
        cancelRequested = false;
        errorDesc = null;
        stats = new MigrationStats();
        startNanos = System.nanoTime();
        totalMillis = downtimeMillis = expectedDowntimeMillis = setupMillis = -1;
        setStatus(MigrationStatus.SETUP);
    }

    private void fail(String desc) {
        finish(MigrationStatus.FAILED, desc);
    }

    private void finish(MigrationStatus s, String desc) {
        errorDesc = desc;
        totalMillis = (System.nanoTime() - startNanos) / 1_000_000;
        activeChannel = null;
        setStatus(s);
    }

    private void setStatus(MigrationStatus s) {
        status = s;
        // The event first: whoever waits for the end finds it already sent.
        if (settings.capability("events")) events.emit(Events.migration(s.qapiName));
        if (!s.inProgress()) {
            synchronized (incomingDone) {
                incomingDone.notifyAll();
            }
        }
    }

    /** The last failure's description (query-migrate's error-desc). */
    public String lastError() {
        return errorDesc;
    }

    public MigrationStatus status() {
        return status;
    }

    private static String message(Throwable e) {
        String m = e.getMessage();
        return m == null || m.isBlank() ? e.getClass().getSimpleName() : m;
    }
}
