package dev.molt.monitor;

import dev.molt.sys.FdSets;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static dev.molt.monitor.ArgType.Scalar.INTEGER;
import static dev.molt.monitor.ArgType.Scalar.STRING;

/** The QMP command table: the commands molt implements, with QEMU 10.2's names, arguments and replies. */
final class QmpCommands {
    static final String CAPABILITIES = "qmp_capabilities";

    /** QMPCapability: what qmp_capabilities may enable. molt offers none of them (no out-of-band). */
    private static final ArgType QMP_CAPABILITY = new ArgType.EnumOf(List.of("oob"));

    private final Map<String, QmpCommand> commands = new LinkedHashMap<>();

    QmpCommands(Monitor monitor) {
        MonitorTarget target = monitor.target();
        add(QmpCommand.of(CAPABILITIES, QmpCommands::capabilities, Param.optional("enable", new ArgType.ListOf(QMP_CAPABILITY))));
        add(QmpCommand.query("query-version", QmpTypes.VERSION_INFO, (a, c) -> monitor.versionInfo()));
        add(QmpCommand.query("query-commands", QmpTypes.COMMAND_INFO_LIST,
                (a, c) -> commands.keySet().stream().map(n -> (Object) Json.object("name", n)).toList()));
        add(QmpCommand.query("query-qmp-schema", QmpTypes.SCHEMA_INFO_LIST, (a, c) -> QmpSchema.of(commands.values(), Events.DEFINITIONS)));
        add(QmpCommand.query("query-status", QmpTypes.STATUS_INFO, (a, c) -> Json.object("status", target.runState(), "running", target.running())));
        add(QmpCommand.query("query-name", QmpTypes.NAME_INFO, (a, c) -> target.name().map(n -> Json.object("name", n)).orElseGet(Json::object)));
        add(QmpCommand.query("query-kvm", QmpTypes.KVM_INFO, (a, c) -> Json.object("enabled", target.kvmEnabled(), "present", target.kvmPresent())));
        add(QmpCommand.query("query-cpus-fast", QmpTypes.CPU_INFO_FAST_LIST, (a, c) -> cpusFast(target)));
        add(QmpCommand.query("query-memdev", QmpTypes.MEMDEV_LIST, (a, c) -> target.memdevs().stream().map(QmpCommands::memdev).toList()));
        add(QmpCommand.query("query-rx-filter", QmpTypes.RX_FILTER_INFO_LIST,
                (a, c) -> target.rxFilters(a.optStr("name")).stream().map(QmpCommands::rxFilter).toList(),
                Param.optional("name", STRING)));
        add(QmpCommand.of("stop", (a, c) -> {
            target.stop();
            return null;
        }));
        add(QmpCommand.of("cont", (a, c) -> {
            target.cont();
            return null;
        }));
        add(QmpCommand.of("system_reset", (a, c) -> {
            target.systemReset();
            return null;
        }));
        add(QmpCommand.of("set_link", (a, c) -> {
            target.setLink(a.str("name"), a.bool("up", false));
            return null;
        }, Param.required("name", STRING), Param.required("up", ArgType.Scalar.BOOLEAN)));
        add(QmpCommand.of("quit", (a, c) -> {
            target.prepareQuit();
            c.afterReply(target::quit);
            return null;
        }));
        add(QmpCommand.query("human-monitor-command", STRING, (a, c) -> monitor.humanMonitorCommand(a.str("command-line"), a.optLong("cpu-index"), c::afterReply),
                Param.required("command-line", STRING), Param.optional("cpu-index", INTEGER)));
        add(QmpCommand.of("getfd", (a, c) -> {
            PassedFd fd = c.connection().takeReceivedFd()
                    .orElseThrow(() -> CommandError.generic("No file descriptor supplied via SCM_RIGHTS"));
            monitor.passedFds().put(a.str("fdname"), fd);
            return null;
        }, Param.required("fdname", STRING)));
        add(QmpCommand.of("closefd", (a, c) -> {
            monitor.passedFds().close(a.str("fdname"));
            return null;
        }, Param.required("fdname", STRING)));
        FdSetCommands.all(FdSets.process()).forEach(this::add);
        IntrospectionCommands.all(target::introspection).forEach(this::add);
        MigrationQmpCommands.all(monitor.migration()).forEach(this::add);
    }

    private void add(QmpCommand command) {
        commands.put(command.name(), command);
    }

    Optional<QmpCommand> find(String name) {
        return Optional.ofNullable(commands.get(name));
    }

    List<String> names() {
        return Collections.unmodifiableList(new ArrayList<>(commands.keySet()));
    }

    private static Object capabilities(Args args, QmpContext context) {
        if (context.negotiated()) {
            throw new CommandError(ErrorClass.CommandNotFound, "Capabilities negotiation is already complete, command ignored");
        }
        List<Object> enable = args.optList("enable").orElse(List.of());
        if (!enable.isEmpty()) {
            // Every capability is unavailable: molt offers none (QEMU's qmp_caps_accept wording).
            List<String> names = enable.stream().map(String::valueOf).toList();
            throw CommandError.generic("Capability " + String.join(", ", names) + " not available");
        }
        context.completeNegotiation();
        return null;
    }

    /** QEMU's x86 shape: props with socket, core and thread ids; vCPUs are unattached devices. */
    private static List<Object> cpusFast(MonitorTarget target) {
        List<Object> cpus = new ArrayList<>();
        for (MonitorTarget.CpuInfo cpu : target.cpus()) {
            cpus.add(Json.object(
                    "thread-id", cpu.threadId(),
                    "props", Json.object("core-id", (long) cpu.coreId(), "thread-id", (long) cpu.threadInCore(), "socket-id", (long) cpu.socketId()),
                    "qom-path", "/machine/unattached/device[" + cpu.index() + "]",
                    "cpu-index", (long) cpu.index(),
                    "target", "x86_64"));
        }
        return cpus;
    }

    private static Object rxFilter(MonitorTarget.RxFilterInfo f) {
        return Json.object(
                "name", f.name(),
                "promiscuous", f.promiscuous(),
                "multicast", f.multicast(),
                "unicast", f.unicast(),
                "vlan", f.vlan(),
                "broadcast-allowed", f.broadcastAllowed(),
                "multicast-overflow", f.multicastOverflow(),
                "unicast-overflow", f.unicastOverflow(),
                "main-mac", f.mainMac(),
                "vlan-table", f.vlanTable(),
                "unicast-table", f.unicastTable(),
                "multicast-table", f.multicastTable());
    }

    private static Object memdev(MonitorTarget.MemdevInfo m) {
        return Json.object(
                "id", m.id(),
                "size", m.size(),
                "merge", m.merge(),
                "dump", m.dump(),
                "prealloc", m.prealloc(),
                "share", m.share(),
                "reserve", m.reserve(),
                "host-nodes", List.of(),
                "policy", m.policy());
    }
}
