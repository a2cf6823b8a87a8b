package dev.molt;

import dev.molt.machine.MachineConfig;
import dev.molt.machine.MachineException;
import dev.molt.memory.GuestRam;
import dev.molt.memory.RamBlock;
import dev.molt.migration.cpr.CprExec;
import dev.molt.migration.cpr.CprState;
import dev.molt.migration.cpr.CprStateFile;
import dev.molt.cli.UsageException;
import dev.molt.migration.MigrationEngine;
import dev.molt.migration.channel.ChannelType;
import dev.molt.migration.channel.FdResolver;
import dev.molt.migration.channel.Incoming;
import dev.molt.migration.channel.MigrationAddress;
import dev.molt.migration.channel.MigrationChannel;
import dev.molt.migration.channel.MigrationStream;
import dev.molt.migration.channel.PendingIncoming;
import dev.molt.migration.cpr.CprTransfer;
import dev.molt.migration.cpr.Keeper;
import dev.molt.sys.Fd;
import dev.molt.sys.Posix;
import dev.molt.sys.PreservedFds;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The new process's side of a cpr-exec live update: the state the old molt handed over, and the
 * way back. molt holding inherited guest RAM never boots a fresh guest: if it cannot resume the
 * one it was given, it re-executes the previous command on the same state, so the guest resumes
 * under the old version.
 */
final class InheritedCpr {
    /** A two-phase reload's gets the stop's times once the guest stopped ({@link #awaitStop}). */
    private volatile CprState state;
    /** The cpr-state version the previous molt wrote: going back, this molt writes no newer one. */
    private final int stateVersion;
    private final Fd stateFd;
    private final List<Fd> preserved = new ArrayList<>();
    /** The same fds by name, with the sizes the old molt recorded: for their owners here to claim. */
    private final List<PreservedFds.Inherited> handedOver = new ArrayList<>();
    /** cpr-transfer only: the channel from the old molt, hung up once the main channel listens. */
    private final MigrationStream transferChannel;

    /** x-cpr-reload: what the previous implementation in this process handed over; null for an exec or a transfer. */
    private dev.molt.host.Handover reload;
    /** A two-phase x-cpr-reload: how the previous implementation says the guest stopped; null otherwise. */
    private dev.molt.host.TwoPhaseGeneration.Stop twoPhase;
    /** The monitor clients a two-phase reload handed over with the stop. */
    private volatile List<dev.molt.host.HeldClient> clientsAtTheStop = List.of();

    /** cpr-exec: the pipe to the keeper that guards this update, until told the guest is ours (-1: none). */
    private int keeperFd;
    private final WayBack wayBack;

    /**
     * How this molt goes back to the previous one or gives up: an exec and an exit. Tests replace
     * it to see what would be run, without replacing or ending their own process.
     */
    interface WayBack {
        /** Replaces this process; returns only if that failed, with the reason. */
        String exec(Path program, List<String> command, List<Fd> keep, Fd cprState, Map<String, String> extraEnv);

        /** Ends this process (a test's returns, and rollback returns after it). */
        void exit(int status);

        WayBack PROCESS = new WayBack() {
            @Override
            public String exec(Path program, List<String> command, List<Fd> keep, Fd cprState, Map<String, String> extraEnv) {
                return CprExec.exec(program, command, keep, cprState, extraEnv);
            }

            @Override
            public void exit(int status) {
                System.exit(status);
            }
        };
    }

    InheritedCpr(CprState state, int stateVersion, Fd stateFd, MigrationStream transferChannel, WayBack wayBack) {
        this.state = state;
        this.stateVersion = stateVersion;
        this.stateFd = stateFd;
        this.transferChannel = transferChannel;
        this.wayBack = wayBack;
        for (CprState.PreservedFd f : state.fds()) {
            Fd fd = new Fd(f.fd(), "cpr:" + f.name());
            preserved.add(fd);
            handedOver.add(new PreservedFds.Inherited(f.name(), fd, f.size()));
        }
        // A keeper that relaunched the previous molt never had the pipe: its number means nothing here.
        this.keeperFd = Keeper.RELAUNCH.equals(System.getenv(CprState.ROLLBACK_ENV)) ? -1 : state.keeperFd();
    }

    /**
     * Set once the guest is this molt's: the keeper was told so (cpr-exec) or the old molt was
     * (cpr-transfer). From then on the guest may run here, and the state the update handed over
     * describes a past that its RAM has left behind: nothing may go back to it.
     */
    private volatile boolean tookOver;

    /** The guest is about to run in this process: the keeper may go. */
    private void tookOver() {
        // A reload's previous code that gave up waiting took the guest back: it must not run here too.
        if (reload != null && !reload.tookOver().complete(null)) {
            throw new IllegalStateException("the previous molt gave up waiting (x-cpr-reload-timeout) and runs the guest");
        }
        tookOver = true;
        // Built while the previous code read: this code's readers waited until now.
        if (twoPhase != null) dev.molt.sys.ReadGate.get().resume();
        // Only a way back needs the state; a reload's process, which reloads again and again, must not keep one per reload.
        if (reload != null && stateFd != null) stateFd.close();
        if (keeperFd < 0) return;
        Keeper.release(keeperFd, state.keeperPid());
        keeperFd = -1;
    }

    /**
     * cpr-transfer, new side: listens on the cpr channel of {@code -incoming} and blocks, before any
     * guest object exists, until the old molt connects and hands over its CPR state and RAM fds.
     */
    static InheritedCpr receiveTransfer(MigrationAddress address) {
        if (!(address instanceof MigrationAddress.Unix || address instanceof MigrationAddress.Fd)) {
            throw new UsageException("bad cpr channel socket type; must be unix");
        }
        MigrationStream channel = null;
        try (PendingIncoming listening = Incoming.listen(new MigrationChannel(ChannelType.CPR, address), FdResolver.inherited())) {
            channel = listening.accept();
            CprState s = CprTransfer.receive(channel);
            InheritedCpr inherited = new InheritedCpr(s, CprState.DESCRIPTION.version(), null, channel, WayBack.PROCESS);
            inherited.oldMolt = channel.unixSocketFd().isPresent() ? dev.molt.sys.UnixSocket.peerPid(channel.unixSocketFd().getAsInt()) : 0;
            return inherited;
        } catch (IOException | RuntimeException e) {
            if (channel != null) {
                try {
                    channel.close();
                } catch (IOException ignored) {
                    // Failing anyway; the old molt sees the hang-up and keeps the guest.
                }
            }
            throw new UsageException("cpr-transfer: cannot receive the CPR state on " + address.uri() + ": " + e.getMessage());
        }
    }

    /** What the incoming migration needs to finish this live update. */
    MigrationEngine.CprInPlace inPlace(long mainAt) {
        if (transferChannel == null) return MigrationEngine.CprInPlace.exec(state, mainAt, this::tookOver);
        return new MigrationEngine.CprInPlace(state, mainAt, true, this::hangUpTransfer, this::tookOver, this::oldMoltGone);
    }

    /** cpr-transfer: the PID of the old molt (it connected the cpr channel), 0 if unknown. */
    private int oldMolt;

    /**
     * cpr-transfer: whether the old molt is known to have ended (or ends within a moment: a process
     * killed closes its sockets before /proc shows it gone). Unknown is not gone.
     */
    private boolean oldMoltGone() {
        return dev.molt.sys.Pids.awaitGone(oldMolt, java.time.Duration.ofSeconds(2));
    }

    /** Counted down once this molt's monitors, consoles and qtest run (or it failed): see {@link #hangUpTransfer}. */
    private final java.util.concurrent.CountDownLatch startedUp = new java.util.concurrent.CountDownLatch(1);

    /** This molt started all it starts before it runs a guest (or gave up): a cpr-transfer may stop the guest now. */
    void startedUp() {
        startedUp.countDown();
    }

    /**
     * Tells the old molt that the main channel listens: it stops the guest and sends its state now.
     * Not before this molt has started its monitors and the rest: on two cores, their start-up would
     * compete with the load for the CPU, the guest paused. (Bounded: a start that hangs must not hold
     * the old molt's migrate forever; its guest runs meanwhile.)
     */
    private void hangUpTransfer() {
        try {
            startedUp.await(10, java.util.concurrent.TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        try {
            transferChannel.close();
        } catch (IOException ignored) {
            // The old molt sees the hang-up either way.
        }
    }

    /**
     * x-cpr-reload, new side: the state the previous implementation in this process handed over. Its
     * fds are this code's; if it cannot even read the state, it closes them all.
     */
    static InheritedCpr reloaded(dev.molt.host.Handover h, dev.molt.host.TwoPhaseGeneration.Stop twoPhase) {
        try {
            CprStateFile.Loaded loaded = CprStateFile.read(h.cprStateFd());
            InheritedCpr cpr = new InheritedCpr(loaded.state(), loaded.version(), new Fd(h.cprStateFd(), "cpr-state"), null, WayBack.PROCESS);
            cpr.reload = h;
            cpr.twoPhase = twoPhase;
            return cpr;
        } catch (IOException | RuntimeException e) {
            new Fd(h.cprStateFd(), "cpr-state").close();
            for (dev.molt.host.HeldClient c : h.clients()) new Fd(c.fd(), "monitor client").close();
            throw new IllegalStateException("cannot read the state the previous molt handed over: " + e.getMessage(), e);
        }
    }

    /** The monitor clients a reload handed over (none for an exec or a transfer). */
    List<dev.molt.host.HeldClient> heldClients() {
        if (reload == null) return List.of();
        return twoPhase != null ? clientsAtTheStop : reload.clients();
    }

    /** Whether this is a reload's (a new code in the same process), not an exec's or a transfer's. */
    boolean reloaded() {
        return reload != null;
    }

    /** Whether this is a two-phase reload's: built while the guest runs under the previous code. */
    boolean twoPhase() {
        return twoPhase != null;
    }

    /**
     * Two-phase reload: says this code is built, and waits until the previous code stopped the
     * guest; returns the device state it captured (molt's migration stream, no RAM). Throws if the
     * previous code gave up instead (it goes on with the guest).
     */
    byte[] awaitStop() {
        twoPhase.built().complete(null);
        dev.molt.host.TwoPhaseGeneration.Stopped stopped;
        try {
            stopped = twoPhase.stopped().join();
        } catch (java.util.concurrent.CompletionException | java.util.concurrent.CancellationException e) {
            Throwable cause = e.getCause() != null ? e.getCause() : e;
            throw new IllegalStateException("the previous molt did not hand the guest over: " + cause.getMessage(), e);
        }
        clientsAtTheStop = stopped.clients();
        long handed = dev.molt.migration.MigrationEngine.wallNanos();
        state = state.withStop(stopped.stoppedAtWallNanos(), stopped.savedAtWallNanos(), handed);
        return stopped.deviceState();
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
            CprStateFile.Loaded loaded = CprStateFile.read(fd);
            return new InheritedCpr(loaded.state(), loaded.version(), new Fd(fd, "cpr-state"), null, WayBack.PROCESS);
        } catch (Exception e) {
            System.err.println("molt: cannot read the live-update state from fd " + fd + ": " + e.getMessage());
            System.exit(1);
            return null;
        }
    }

    /**
     * Puts the inherited fds back to close-on-exec, so that no later child inherits guest RAM by
     * accident. Separate from reading the state, which needs no system call: the first one waits
     * for the syscall downcall to be linked (tens of ms, started on another thread at main).
     */
    void protect() {
        if (stateFd != null) Posix.setCloexec(stateFd.num(), true);
        for (Fd f : preserved) Posix.setCloexec(f.num(), true);
        if (keeperFd >= 0) Posix.setCloexec(keeperFd, true);
    }

    CprState state() {
        return state;
    }

    /** What the old molt handed over, for the owners here (RAM, images, monitors, consoles) to claim by name. */
    List<PreservedFds.Inherited> handedOver() {
        return List.copyOf(handedOver);
    }

    /**
     * The machine of the new command line, which boots on a guest reset what the old molt booted when
     * that command line has no -kernel (as -incoming allows): the reset would otherwise have nothing
     * to boot and end molt, and with it a guest that did nothing wrong.
     */
    MachineConfig withInheritedBoot(MachineConfig config) {
        CprState.BootSource boot = state.boot();
        if (config.hasKernel() || !boot.present()) return config;
        return config.withBoot(Path.of(boot.kernel()), boot.initrd().isEmpty() ? null : Path.of(boot.initrd()), boot.append());
    }

    /** Maps the guest RAM the old process preserved; the command line must describe the same RAM. */
    GuestRam adoptRam(MachineConfig config, PreservedFds registry) {
        String name = config.ramBackend() != null ? config.ramBackend().id() : GuestRam.IMPLICIT_BLOCK;
        PreservedFds.Inherited f = registry.claim(name).orElseThrow(() -> new MachineException("the preserved guest RAM has no block '"
                + name + "' (it has " + state.fds().stream().map(CprState.PreservedFd::name).toList() + "): the memory options differ"));
        if (f.size() != config.ramSize()) {
            throw new MachineException("the preserved guest RAM block '" + name + "' is " + f.size()
                    + " bytes but the command line asks for " + config.ramSize() + " (-m)");
        }
        return GuestRam.adopt(RamBlock.adopt(name, f.fd(), f.size()));
    }

    /**
     * Goes back to the molt that handed the guest over: its own command line, resuming from the same
     * device state and RAM. Does not return (on a second failure molt exits rather than loop), unless
     * {@link WayBack} is a test's, or the guest was already taken over here: then it returns at
     * once, and the caller fails as any molt would (a failed guest reset, say, must not bring back
     * the CPU and device state of the update over the RAM of today).
     */
    void rollback(String reason) {
        if (tookOver) {
            System.err.println("molt: not going back to the previous molt after '" + reason + "': the guest has run in this one"
                    + " since the live update, so the state it handed over is out of date");
            return;
        }
        if (reload != null) {
            // This code's readers end and its closes leave every connection alone: the previous code,
            // which never let go of anything, goes on with the guest.
            System.err.println("molt: x-cpr-reload failed in the new molt: " + reason + "; the guest runs on in the previous one");
            dev.molt.sys.ReadGate.get().detach();
            reload.tookOver().completeExceptionally(new IllegalStateException(reason));
            if (twoPhase != null) twoPhase.built().completeExceptionally(new IllegalStateException(reason));
            return;
        }
        if (transferChannel != null) {
            // Exiting closes the channels: the old molt, which never let go of the guest, keeps running it.
            System.err.println("molt: cpr-transfer failed in the new process: " + reason + (dev.molt.sys.Pids.gone(oldMolt)
                    ? "; the old molt (PID " + oldMolt + ") is gone too: no process holds the guest any more"
                    : "; the guest runs on in the old molt"));
            System.err.flush();
            dev.molt.sys.Terminal.restoreAll();
            wayBack.exit(1);
            return;
        }
        System.err.println("molt: live update failed in the new process: " + reason);
        if (System.getenv(CprState.ROLLBACK_ENV) != null) {
            System.err.println("molt: the previous molt could not resume the guest either; giving up");
            wayBack.exit(1);
            return;
        }
        List<String> cmd = CprExec.goBackCommand(state.previousCommand(), state.previousIncoming());
        System.err.println("molt: going back to the previous molt: " + String.join(" ", cmd));
        System.err.flush();
        dev.molt.sys.Terminal.restoreAll();
        List<Fd> keep = new ArrayList<>(preserved.stream().filter(Fd::isOpen).toList());
        Fd carrier = stateFd;
        if (keep.size() < preserved.size()) {
            // This molt closed some (a monitor socket it could not use): the previous one must not look for
            // them, as their numbers may be reused by then.
            List<CprState.PreservedFd> still = new ArrayList<>();
            for (int i = 0; i < preserved.size(); i++) if (preserved.get(i).isOpen()) still.add(state.fds().get(i));
            try {
                carrier = CprStateFile.write(state.withFds(still), stateVersion);
            } catch (IOException | RuntimeException e) {
                System.err.println("molt: cannot go back to the previous molt: cannot write the live-update state: " + e.getMessage());
                wayBack.exit(1);
                return;
            }
        }
        if (keeperFd >= 0) keep.add(new Fd(keeperFd, "molt-keeper (write)")); // the previous molt releases it
        String error = wayBack.exec(Path.of(cmd.getFirst()), cmd, keep, carrier, Map.of(CprState.ROLLBACK_ENV, "1"));
        System.err.println("molt: cannot go back to the previous molt: " + error);
        wayBack.exit(1);
    }
}
