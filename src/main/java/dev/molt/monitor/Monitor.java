package dev.molt.monitor;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;

/**
 * The monitor core shared by every QMP and HMP client of one machine: the command tables, the
 * machine ({@link MonitorTarget}), migration ({@link MigrationCommands}), the event bus and the
 * fds passed with {@code getfd}. Commands from all clients run one at a time, as in QEMU's main
 * loop, so the machine never sees two monitor commands at once.
 *
 * <pre>{@code
 * EventBus events = new EventBus();
 * Machine machine = ...;                      // implements MonitorTarget, emits through `events`
 * Monitor monitor = new Monitor(machine, events);
 * MonitorServer.start(monitor, Protocol.QMP, SocketListener.unix(Path.of("/run/vm/qmp.sock")));
 * monitor.start(Protocol.HMP, Connection.stdio());   // -monitor stdio
 * }</pre>
 */
public final class Monitor {
    /** The QEMU release whose QMP and HMP molt speaks, as query-version reports it. */
    public static final QemuVersion QEMU_VERSION = new QemuVersion(10, 2, 0);

    /** A QEMU version triple. */
    public record QemuVersion(int major, int minor, int micro) {
        @Override
        public String toString() {
            return major + "." + minor + "." + micro;
        }
    }

    private final MonitorTarget target;
    private final EventBus events;
    private final MigrationCommands migration;
    private final PassedFds passedFds;
    private final ReentrantLock commandLock = new ReentrantLock();
    private final AtomicInteger sessionCount = new AtomicInteger();
    private final Set<OutputQueue> outputs = ConcurrentHashMap.newKeySet();
    private final QmpCommands qmpCommands;
    private final Hmp hmp;

    /** A monitor whose migration commands answer that migration is not available yet. */
    public Monitor(MonitorTarget target, EventBus events) {
        this(target, events, MigrationCommands.unavailable(), new PassedFds());
    }

    public Monitor(MonitorTarget target, EventBus events, MigrationCommands migration) {
        this(target, events, migration, new PassedFds());
    }

    /** {@code passedFds} is given when migration needs it before the monitor exists (fd: URIs). */
    public Monitor(MonitorTarget target, EventBus events, MigrationCommands migration, PassedFds passedFds) {
        this.target = Objects.requireNonNull(target);
        this.events = Objects.requireNonNull(events);
        this.migration = Objects.requireNonNull(migration);
        this.passedFds = Objects.requireNonNull(passedFds);
        this.qmpCommands = new QmpCommands(this);
        this.hmp = new Hmp(this);
    }

    /** Starts serving one client (stdio, an inherited fd, an accepted socket) in the given protocol. */
    public MonitorSession start(Protocol protocol, Connection connection) {
        return protocol.open(this, connection, protocol.name().toLowerCase() + "-" + sessionCount.incrementAndGet(),
                OptionalLong.empty(), () -> {});
    }

    /**
     * Goes on serving a client that a reload handed over on a connection of this monitor's own
     * (stdio); a socket's clients go back to their {@link MonitorServer}.
     */
    public MonitorSession adopt(Protocol protocol, Connection connection, boolean negotiated, byte[] pendingInput) {
        return protocol.adopt(this, connection, protocol.name().toLowerCase() + "-" + sessionCount.incrementAndGet(), negotiated,
                pendingInput, () -> {});
    }

    /**
     * Starts an HMP session choosing whether typed characters are echoed: QEMU's readline echoes,
     * which is right for sockets and raw terminals; a cooked tty echoes by itself.
     */
    public MonitorSession startHmp(Connection connection, boolean echo) {
        return HmpSession.start(this, connection, "hmp-" + sessionCount.incrementAndGet(), echo, () -> {});
    }

    /**
     * Runs one HMP command line as QMP's human-monitor-command does and returns its output (CRLF
     * line ends, as QEMU's). Follow-ups such as quit's run when the caller says, via {@code after}.
     */
    String humanMonitorCommand(String commandLine, Optional<Long> cpuIndex, Consumer<Runnable> after) {
        HmpState state = new HmpState(false, () -> true);
        if (cpuIndex.isPresent()) {
            long index = cpuIndex.get();
            if (target.cpus().stream().noneMatch(c -> c.index() == index)) {
                throw CommandError.generic("Parameter 'cpu-index' expects a CPU number");
            }
            state.currentCpu((int) index);
        }
        Hmp.Result result = hmp.execute(commandLine, state);
        for (HmpCall.FollowUp f : result.followUps()) after.accept(f::run);
        return crlf(result.output());
    }

    /**
     * Waits, at most {@code timeout} in all, until everything queued for every client so far has
     * been written: call it between emitting SHUTDOWN and exiting, so the event reaches the clients.
     */
    public void drainOutput(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        for (OutputQueue out : outputs) out.drain(Duration.ofNanos(Math.max(0, deadline - System.nanoTime())));
    }

    void register(OutputQueue out) {
        outputs.add(out);
    }

    void unregister(OutputQueue out) {
        outputs.remove(out);
    }

    /** Runs a command with the machine to itself; reentrant (human-monitor-command runs HMP inside QMP). */
    void runLocked(Runnable command) {
        commandLock.lock();
        try {
            command.run();
        } finally {
            commandLock.unlock();
        }
    }

    Map<String, Object> versionInfo() {
        return Json.object(
                "qemu", Json.object("micro", (long) QEMU_VERSION.micro(), "minor", (long) QEMU_VERSION.minor(), "major", (long) QEMU_VERSION.major()),
                "package", packageName());
    }

    String packageName() {
        return "molt " + target.version();
    }

    public EventBus events() {
        return events;
    }

    /** Fds passed with getfd, by name; migration takes {@code fd:NAME} fds from here. */
    public PassedFds passedFds() {
        return passedFds;
    }

    /** The QMP command names, in registration order (query-commands). */
    public List<String> qmpCommandNames() {
        return qmpCommands.names();
    }

    MonitorTarget target() {
        return target;
    }

    MigrationCommands migration() {
        return migration;
    }

    QmpCommands qmpCommands() {
        return qmpCommands;
    }

    Hmp hmp() {
        return hmp;
    }

    /** QEMU's monitor output: every "\n" goes out as "\r\n". */
    static String crlf(String text) {
        return text.replace("\n", "\r\n");
    }
}
