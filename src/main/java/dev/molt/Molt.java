package dev.molt;

import dev.molt.chardev.Chardev;
import dev.molt.chardev.ChardevException;
import dev.molt.chardev.Chardevs;
import dev.molt.chardev.NullChardev;
import dev.molt.chardev.SocketChardev;
import dev.molt.cli.CommandLineParser;
import dev.molt.cli.UsageException;
import dev.molt.cli.VmConfig;
import dev.molt.kvm.Kvm;
import dev.molt.kvm.KvmException;
import dev.molt.machine.Accelerator;
import dev.molt.machine.KvmAccelerator;
import dev.molt.machine.LifecycleCause;
import dev.molt.machine.QtestAccelerator;
import dev.molt.qtest.QtestServer;
import dev.molt.machine.Machine;
import dev.molt.machine.MachineConfig;
import dev.molt.machine.MachineException;
import dev.molt.machine.boot.BootException;
import dev.molt.memory.MemoryException;
import dev.molt.sys.ErrnoException;

import dev.molt.migration.ChannelTransport;
import dev.molt.migration.MigrationEngine;
import dev.molt.migration.channel.AddressException;
import dev.molt.migration.channel.FdResolver;
import dev.molt.migration.channel.IncomingOptions;
import dev.molt.monitor.CommandError;
import dev.molt.monitor.EventBus;
import dev.molt.monitor.MigrationCommands;
import dev.molt.monitor.PassedFds;
import dev.molt.sys.Fd;
import dev.molt.sys.FdSets;
import dev.molt.sys.PreservedFds;
import java.util.Optional;
import dev.molt.monitor.Monitor;

import java.io.IOException;
import java.time.Duration;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * molt's entry point: parse the QEMU-style command line, build the machine, run the guest. Every
 * error a user can cause ends here as one line, {@code molt: <what is wrong>}, and exit status 1.
 */
public final class Molt {
    private Molt() {}

    public static void main(String[] args) {
        long mainAt = MigrationEngine.wallNanos();
        // The system call entry is found (molt's native library loaded, or the foreign function API's
        // downcall linked where it cannot be: tens of ms), and what the JDK sets up at first use warmed
        // (JdkWarmUp), while main reads the CPR state and the command line, which need no system call.
        dev.molt.sys.Syscall.linkInBackground(JdkWarmUp::run);
        // A live update's new process finds what the old one handed over before creating anything.
        InheritedCpr cpr = InheritedCpr.fromEnvironment();
        int status = runReportingErrors(() -> CommandLineParser.parse(args), args, cpr, mainAt);
        // Handed over by a reload: the JVM lives on in the new code's main thread, which ends it.
        if (status == Machine.HANDED_OVER) return;
        System.out.flush();
        System.exit(status);
    }

    /**
     * x-cpr-reload, new side (called by {@link ReloadEntry} on a main thread of its own): runs molt
     * on what the previous implementation in this process handed over.
     */
    static int runReloaded(dev.molt.host.Handover handover, CommandLineParser.Result parsedBeforeTheStop,
                           dev.molt.host.TwoPhaseGeneration.Stop twoPhase) {
        long mainAt = MigrationEngine.wallNanos();
        // Started while the guest still runs: no reader of this code reads before it took the guest over.
        if (twoPhase != null) dev.molt.sys.ReadGate.get().hold();
        InheritedCpr cpr = InheritedCpr.reloaded(handover, twoPhase);
        // The previous code, if it stops waiting, ends this one's readers: none may read beside its own.
        handover.abort().set(() -> dev.molt.sys.ReadGate.get().detach());
        String[] args = handover.args().toArray(String[]::new);
        return runReportingErrors(() -> parsedBeforeTheStop != null ? parsedBeforeTheStop : CommandLineParser.parse(args), args, cpr, mainAt);
    }

    /** {@link #run}, every error a user can cause reported as one line (and a live update rolled back). */
    private static int runReportingErrors(java.util.function.Supplier<CommandLineParser.Result> parse, String[] args, InheritedCpr cpr,
                                          long mainAt) {
        try {
            return run(parse.get(), args, cpr, mainAt);
        } catch (UsageException e) {
            if (cpr != null) cpr.rollback(e.getMessage());
            return fail(e.getMessage());
        } catch (KvmException | MemoryException | BootException | ChardevException | MachineException | ErrnoException
                 | dev.molt.devices.block.BlockException | dev.molt.devices.net.NetException
                 | AddressException | CommandError e) {
            if (cpr != null) cpr.rollback(e.getMessage());
            return fail(e.getMessage());
        }
    }

    /** {@code -msg timestamp=on}: set once the command line is read, for the errors after that. */
    private static volatile boolean timestampMessages;

    private static int fail(String message) {
        // QEMU's error_report prefix under -msg timestamp=on: UTC, microseconds (util/error-report.c).
        String time = timestampMessages ? java.time.format.DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSSSSS'Z' ")
                .format(java.time.ZonedDateTime.now(java.time.ZoneOffset.UTC)) : "";
        System.err.println(time + "molt: " + message);
        return 1;
    }

    static int run(String[] args, InheritedCpr cpr, long mainAt) {
        return run(CommandLineParser.parse(args), args, cpr, mainAt);
    }

    private static int run(CommandLineParser.Result parsed, String[] args, InheritedCpr cpr, long mainAt) {
        VmConfig config = switch (parsed) {
            case CommandLineParser.Result.PrintAndExit p -> {
                System.out.print(p.text());
                yield null;
            }
            case CommandLineParser.Result.Run r -> r.config();
        };
        if (config == null) return 0;
        timestampMessages = config.management().msgTimestamp();
        if (config.machine().type() == VmConfig.MachineType.NONE) {
            if (cpr != null) cpr.rollback("-machine none has no guest to take over");
            if (config.accel() == VmConfig.Accel.KVM) Kvm.open(System.getenv().getOrDefault("MOLT_KVM_DEVICE", Kvm.DEVICE)).close();
            return MonitorsOnly.run(config);
        }
        if (cpr != null) cpr.protect();
        if (cpr != null && config.incoming().isEmpty()) {
            cpr.rollback("the new command line has no -incoming: molt never boots a fresh guest over the RAM of a running one");
        }
        IncomingOptions incoming = IncomingOptions.none();
        for (String option : config.incoming()) incoming = incoming.with(option);
        if (cpr != null && incoming.cpr().isPresent()) System.err.println("molt: ignoring cpr channel for migration mode cpr-exec");
        if (incoming.cpr().isPresent() && !incoming.incoming()) throw new UsageException("a cpr channel needs a main -incoming channel too");

        boolean qtest = config.accel() == VmConfig.Accel.QTEST;
        if (config.qtest().isPresent() && !qtest) {
            throw new UsageException("-qtest: molt serves the qtest protocol only under -accel qtest");
        }
        Kvm kvm = qtest ? null : Kvm.open(System.getenv().getOrDefault("MOLT_KVM_DEVICE", Kvm.DEVICE));
        Accelerator accel = qtest ? new QtestAccelerator() : new KvmAccelerator(kvm);
        Map<String, Chardev> chardevs = new LinkedHashMap<>();
        Machine[] machine = new Machine[1];
        MigrationEngine[] engine = new MigrationEngine[1];
        InheritedCpr[] received = {cpr}; // cpr-exec's from the environment, or cpr-transfer's once received
        Runnable quit = () -> { // Ctrl-A x: as the quit command, in order with a live update
            if (engine[0] != null) {
                try {
                    engine[0].prepareQuit();
                } catch (CommandError e) {
                    System.err.println("molt: " + e.getMessage());
                    return;
                }
            }
            if (machine[0] != null) machine[0].requestShutdown(LifecycleCause.HOST_UI);
        };
        Path pidfile = config.pidfile().orElse(null);
        PreservedFds preserved = PreservedFds.fresh();
        EventBus events = new EventBus();
        Monitor monitor = null;
        MonitorSetup monitors = null;
        Chardev qtestChardev = null;
        QtestServer qtestServer = null;
        try {
            // Every host fd a live update hands on goes through this one registry: its owners (consoles,
            // monitors, RAM, disk images) claim there what the old molt handed over, and register theirs.
            if (cpr != null) preserved.inherit(cpr.handedOver());
            addFdSets(config.addFds());
            // Only the serial ports' backends are opened as chardevs; monitors serve theirs themselves.
            for (String id : config.serials()) {
                chardevs.put(id, Chardevs.open(config.chardevs().get(id), config.nographic(), quit, preserved));
            }
            monitors = MonitorSetup.bind(config.monitors(), config.chardevs(), preserved);
            // cpr-transfer: block here, before the guest's objects exist, until the old molt hands them over.
            if (cpr == null && incoming.cpr().isPresent()) {
                received[0] = InheritedCpr.receiveTransfer(incoming.cpr().get());
                preserved.inherit(received[0].handedOver());
            }
            InheritedCpr inherited = received[0];
            Chardev console = config.serials().isEmpty()
                    ? new NullChardev("serial-none")
                    : chardevs.get(config.serials().getFirst());
            MachineConfig mc = inherited == null ? machineConfig(config) : inherited.withInheritedBoot(machineConfig(config));
            machine[0] = inherited == null ? Machine.create(mc, accel, console, preserved)
                    : Machine.create(mc, accel, console, inherited.adoptRam(mc, preserved), preserved);
            closeAddFdOriginals(config.addFds());
            // The disks are this molt's from the start, unless a live migration is to bring the guest (its
            // source holds them until its switch-over; the incoming load takes them).
            if (inherited != null || !incoming.incoming()) machine[0].holdHostResources(true);
            PassedFds passedFds = new PassedFds();
            // fd:NAME is a descriptor passed with getfd, fd:N one molt inherited (libvirt's restore hands
            // the state so), as QEMU's monitor_fd_param tells them apart by the first character.
            FdResolver passed = name -> passedFds.take(name).map(f -> new Fd(f.fd(), "fd:" + name)).orElseThrow(() ->
                    new IOException("File descriptor named '" + name + "' has not been found"));
            MigrationEngine migration = new MigrationEngine(machine[0], events, new ChannelTransport(passed.orNumbers()));
            engine[0] = migration;
            MachineMonitorTarget target = new MachineMonitorTarget(machine[0], kvm, events, version(), migration);
            machine[0].setObserver(target);
            if (pidfile != null) writePidfile(pidfile);
            if (incoming.incoming()) {
                Machine m = machine[0];
                migration.allowIncoming(config.startPaused(), () -> {
                    if (inherited != null) inherited.rollback(migration.lastError()); // already "load of migration failed: ..."
                    m.requestExit("molt: " + migration.lastError());
                });
            }
            if (inherited != null && inherited.twoPhase()) {
                // Built while the guest ran under the previous code; the pause starts now, and holds only the state's load.
                machine[0].prepareIncoming();
                migration.rehearseHandOver();
                byte[] deviceState = inherited.awaitStop();
                migration.loadHandedOver(deviceState, inherited.inPlace(MigrationEngine.wallNanos()));
            } else if (incoming.incoming()) {
                MigrationEngine.CprInPlace inPlace = inherited == null ? null : inherited.inPlace(mainAt);
                var address = incoming.mainAddress();
                if (address.isPresent()) {
                    migration.startIncoming(new MigrationCommands.IncomingRequest(Optional.of(address.get().uri()),
                            Optional.empty(), true), true, inPlace);
                    // cpr-exec: the guest's pause includes everything until it resumes; on two cores the
                    // monitors' start-up would compete with the restore for CPU, so they wait for it.
                    if (inPlace != null && !inPlace.transfer()) migration.awaitIncoming();
                } else if (inPlace != null) {
                    migration.startIncoming(null, true, inPlace); // remembers the CPR state for migrate-incoming
                }
            } else {
                machine[0].boot();
            }
            monitor = new Monitor(target, events, migration, passedFds);
            // Wired before any monitor serves: a client a reload handed over may ask for the next update at once.
            Monitor mon = monitor;
            MonitorSetup live = monitors;
            migration.setExecHooks(() -> {
                flushOutputs(chardevs.values(), mon);
                live.stopAccepting(); // the sockets go on listening: the next molt serves them
                dev.molt.sys.Terminal.restoreAll();
            }, live::resumeAccepting);
            migration.setInputHold(new dev.molt.migration.InputHold() {
                @Override
                public void hold(java.time.Duration bound) throws java.util.concurrent.TimeoutException {
                    dev.molt.chardev.Chardevs.holdInput(bound);
                }

                @Override
                public void release() {
                    dev.molt.chardev.Chardevs.releaseInput();
                }
            });
            migration.setPreservedFds(preserved);
            migration.setReloader(new Reloading(args, kvm != null, chardevs, live, mon, machine[0]));
            monitors.start(monitor, chardevs, received[0] != null, inherited != null && inherited.reloaded());
            if (inherited != null) monitors.adopt(inherited.heldClients()); // a reload's clients, on the same connections
            // The qtest channel is not carried across a live update (nor in QEMU): the new molt
            // connects or listens afresh, once the guest is resumed, as the monitors start.
            if (config.qtest().isPresent()) {
                VmConfig.QtestServerConfig q = config.qtest().get();
                // Its connection crosses a reload (and only that): the same client goes on talking to the new code.
                qtestChardev = Chardevs.open(config.chardevs().get(q.chardev()), false, quit, preserved.reloadOnly());
                try {
                    qtestServer = QtestServer.start(machine[0], qtestChardev, q.log().orElse(null), q.logToStderr());
                } catch (IOException e) {
                    throw new UsageException("-qtest-log " + q.log().orElse(null) + ": " + e.getMessage());
                }
            }
            // What the old molt handed over and nothing here took (a console or monitor the new command
            // line dropped, an unfit socket): left open it would leak for this molt's life.
            preserved.closeUnclaimed();
            endOnSignals(migration, machine[0]);
            dev.molt.sys.Daemon.ready(); // -daemonize: the launcher returns now, as QEMU's parent does
            if (received[0] != null) received[0].startedUp();
            int status = machine[0].runUntilExit();
            monitor.drainOutput(Duration.ofSeconds(1));
            return status;
        } catch (RuntimeException e) {
            // Before anything is released: inherited guest RAM must survive into the previous molt.
            if (received[0] != null) received[0].rollback(e.getMessage());
            throw e;
        } finally {
            if (received[0] != null) received[0].startedUp(); // a cpr-transfer's hang-up waits for it
            // First: a migration's thread may still read RAM, and a live update's keeper must hear "cancel".
            if (engine[0] != null) engine[0].shutdown();
            if (monitors != null) monitors.close();
            if (qtestServer != null) qtestServer.close();
            if (qtestChardev != null) qtestChardev.close();
            if (machine[0] != null) machine[0].close();
            List<Chardev> open = new ArrayList<>(chardevs.values());
            for (Chardev c : open) c.close();
            if (kvm != null) kvm.close();
            // A failed live update's new code closes what it never got to claim (its owners closed the rest).
            preserved.closeUnclaimed();
            dev.molt.sys.ReadGate.get().closeAfterHandOver();
            // After a reload the new code goes on with the same pidfile.
            if (pidfile != null && !dev.molt.sys.ReadGate.get().detached()) deletePidfile(pidfile);
        }
    }

    /**
     * The guest is stopped: what its consoles queued goes out now, or never (the queue is this
     * process's memory, and the exec or the reload ends its writers). A reader that stopped reading
     * must not keep the guest paused: one bound for them all. Then the monitors' replies and events.
     */
    static void flushOutputs(java.util.Collection<Chardev> consoles, Monitor monitor) {
        long flushUntil = System.nanoTime() + Duration.ofSeconds(1).toNanos();
        for (Chardev c : consoles) {
            Duration left = Duration.ofNanos(Math.max(0, flushUntil - System.nanoTime()));
            if (!c.flush(left)) {
                System.err.println("molt: chardev '" + c.id() + "' is not being read: its output still queued is lost at the hand-over");
            }
        }
        System.out.flush();
        // Bounded for a client that reads nothing; otherwise what it is owed goes out now, in order (a
        // reload's old sessions write nothing after the hand-over: see Reloader.muteMonitors).
        monitor.drainOutput(Duration.ofSeconds(1));
    }

    /**
     * SIGTERM, SIGINT and SIGHUP end molt as QEMU's do (shutdown reason host-signal), by quit's
     * path: a migration in progress is cancelled first, so that a live update's keeper is told (the
     * JVM's default exit would leave it to relaunch the previous molt under a new PID, undoing the
     * signal). Past a live update's point of no return the signal is ignored, saying so.
     */
    private static void endOnSignals(MigrationEngine migration, Machine machine) {
        for (String name : List.of("TERM", "INT", "HUP")) {
            sun.misc.Signal.handle(new sun.misc.Signal(name), signal -> {
                try {
                    migration.prepareQuit();
                } catch (CommandError e) {
                    System.err.println("molt: ignoring signal " + signal.getNumber() + ": " + e.getMessage());
                    return;
                }
                System.err.println("molt: terminating on signal " + signal.getNumber());
                machine.requestShutdown(LifecycleCause.HOST_SIGNAL);
            });
        }
    }

    static String version() {
        String v = Molt.class.getPackage().getImplementationVersion();
        return v != null ? v : "unknown";
    }

    static MachineConfig machineConfig(VmConfig c) {
        return new MachineConfig(c.name().orElse(null), c.smp().cpus(), c.memory().size(),
                c.ramBackend().orElse(null), c.machine().auxRamShare(), c.boot().kernel(),
                c.boot().initrd().orElse(null), c.boot().cmdline(), c.noReboot(), c.startPaused(), c.cpuFeatures(), c.virtioDevices());
    }

    /** -add-fd: before anything opens a path, so that /dev/fdset/N finds its set. */
    private static void addFdSets(List<VmConfig.AddFd> addFds) {
        for (VmConfig.AddFd a : addFds) {
            try {
                FdSets.process().addInherited(a.fd(), a.set(), a.opaque());
            } catch (IllegalArgumentException e) {
                throw UsageException.at(a.location(), e.getMessage());
            }
        }
    }

    /** QEMU closes the fds -add-fd named once the machine is built: only the sets' duplicates stay. */
    private static void closeAddFdOriginals(List<VmConfig.AddFd> addFds) {
        addFds.stream().mapToInt(a -> (int) a.fd()).distinct().forEach(n -> new Fd(n, "-add-fd").close());
    }

    static void deletePidfile(Path pidfile) {
        try {
            Files.deleteIfExists(pidfile);
        } catch (IOException ignored) {
            // Nothing useful to do at exit.
        }
    }

    static void writePidfile(Path pidfile) {
        try {
            Files.writeString(pidfile, ProcessHandle.current().pid() + "\n");
        } catch (IOException e) {
            throw new UsageException("cannot create PID file: " + pidfile + ": " + e.getMessage());
        }
    }
}
