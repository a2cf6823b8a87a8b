package dev.molt.cli;

import dev.molt.chardev.ChardevConfig;
import dev.molt.cli.VmConfig.CpuModel;
import dev.molt.machine.CpuFeature;
import dev.molt.monitor.MonitorConfig;
import dev.molt.monitor.Protocol;
import dev.molt.cli.VmConfig.MachineType;
import dev.molt.memory.MemoryBackendConfig;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.function.BiConsumer;
import java.util.function.Supplier;

/**
 * molt's command line, which is QEMU's: {@code molt -machine microvm -m 1G -kernel bzImage ...}.
 * Options start with one or two dashes, take their argument as the next word (even one that
 * starts with a dash, so {@code -append -v} works) and are processed left to right; errors say
 * where, in QEMU's words.
 */
public final class CommandLineParser {
    /** COM1 to COM4. */
    static final int MAX_SERIAL_PORTS = 4;

    private CommandLineParser() {}

    /** What {@code main} should do. */
    public sealed interface Result {
        /** Start the VM. */
        record Run(VmConfig config) implements Result {}

        /** Print {@code text} on stdout and exit with status 0 ({@code -h}, {@code -version}, {@code -machine help}...). */
        record PrintAndExit(String text) implements Result {}
    }

    /**
     * Parses {@code args}, reporting the version from the jar's manifest.
     *
     * @throws UsageException for any mistake; print its {@link UsageException#userMessage()}
     */
    public static Result parse(String[] args) {
        String version = CommandLineParser.class.getPackage().getImplementationVersion();
        return parse(args, version != null ? version : "unknown");
    }

    /**
     * Parses {@code args}; {@code -version} reports {@code version}.
     *
     * @throws UsageException for any mistake; print its {@link UsageException#userMessage()}
     */
    public static Result parse(String[] args, String version) {
        var state = new State(version);
        for (int i = 0; i < args.length; i++) {
            String word = args[i];
            if (!word.startsWith("-")) {
                throw new UsageException(word + ": unexpected argument (molt takes no disk image)");
            }
            Option option = Option.named(word).orElseThrow(() -> new UsageException(word + ": invalid option"));
            String value = "";
            if (option.takesArgument) {
                if (i + 1 == args.length) throw new UsageException(word + ": requires an argument");
                value = args[++i];
            }
            option.action.accept(state, new Arg(word, value));
            if (state.printAndExit.isPresent()) return new Result.PrintAndExit(state.printAndExit.get());
        }
        return state.finish();
    }

    /** An option as typed and its argument ({@code ""} for options that take none). */
    record Arg(String spelled, String value) {
        /** How error messages quote it, as QEMU does: {@code -m 1X}. */
        String location() {
            return value.isEmpty() ? spelled : spelled + " " + value;
        }
    }

    /** Every option molt accepts, by QEMU name. */
    enum Option {
        HELP(false, (s, a) -> s.printAndExit = Optional.of(HelpText.usage()), "h", "help"),
        VERSION(false, (s, a) -> s.printAndExit = Optional.of(HelpText.version(s.version)), "version"),
        MACHINE(true, (s, a) -> s.machine.add(QemuOpts.parse(a.location(), a.value(), "type")), "machine", "M"),
        ACCEL(true, State::accel, "accel"),
        ENABLE_KVM(false, (s, a) -> s.chooseAccel(a.location(), VmConfig.Accel.KVM), "enable-kvm"),
        CPU(true, State::cpu, "cpu"),
        SMP(true, (s, a) -> s.smp.add(QemuOpts.parse(a.location(), a.value(), "cpus")), "smp"),
        MEMORY(true, (s, a) -> s.memory.add(QemuOpts.parse(a.location(), a.value(), "size")), "m"),
        OBJECT(true, State::object, "object"),
        KERNEL(true, (s, a) -> s.kernel = Optional.of(path(a)), "kernel"),
        APPEND(true, (s, a) -> s.append = a.value(), "append"),
        INITRD(true, (s, a) -> s.initrd = Optional.of(path(a)), "initrd"),
        CHARDEV(true, State::chardev, "chardev"),
        SERIAL(true, State::serial, "serial"),
        NOGRAPHIC(false, (s, a) -> s.nographic = true, "nographic"),
        DISPLAY(true, State::display, "display"),
        NODEFAULTS(false, (s, a) -> s.nodefaults = true, "nodefaults"),
        NAME(true, (s, a) -> s.name.add(QemuOpts.parse(a.location(), a.value(), "guest")), "name"),
        PIDFILE(true, (s, a) -> s.pidfile = Optional.of(path(a)), "pidfile"),
        START_PAUSED(false, (s, a) -> s.startPaused = true, "S"),
        NO_REBOOT(false, (s, a) -> s.noReboot = true, "no-reboot"),
        NO_SHUTDOWN(false, (s, a) -> s.noShutdown = true, "no-shutdown"),
        QMP(true, (s, a) -> s.legacyMonitor(a, Protocol.QMP, false), "qmp"),
        QMP_PRETTY(true, (s, a) -> s.legacyMonitor(a, Protocol.QMP, true), "qmp-pretty"),
        MONITOR(true, (s, a) -> s.legacyMonitor(a, Protocol.HMP, false), "monitor"),
        MON(true, State::mon, "mon"),
        INCOMING(true, (s, a) -> s.incoming.add(a.value()), "incoming"),
        QTEST(true, State::qtest, "qtest"),
        QTEST_LOG(true, (s, a) -> s.qtestLog = Optional.of(a.value()), "qtest-log"),
        DRIVE(true, (s, a) -> s.devices.block.drive(a.location(), a.value()), "drive"),
        BLOCKDEV(true, (s, a) -> s.devices.block.blockdev(a.location(), a.value()), "blockdev"),
        NETDEV(true, (s, a) -> s.devices.net.netdev(a.location(), a.value()), "netdev"),
        DEVICE(true, (s, a) -> s.devices.device(a.location(), a.value()), "device"),
        ADD_FD(true, State::addFd, "add-fd"),
        // molt reads no configuration file, with or without it (QEMU's -no-user-config skips its own).
        NO_USER_CONFIG(false, (s, a) -> { }, "no-user-config"),
        DAEMONIZE(false, (s, a) -> s.daemonize = true, "daemonize"),
        MSG(true, State::msg, "msg"),
        UUID(true, State::uuid, "uuid");

        private static final Map<String, Option> BY_NAME = new HashMap<>();

        static {
            for (Option o : values()) {
                for (String n : o.names) BY_NAME.put(n, o);
            }
        }

        final boolean takesArgument;
        private final BiConsumer<State, Arg> action;
        final List<String> names;

        Option(boolean takesArgument, BiConsumer<State, Arg> action, String... names) {
            this.takesArgument = takesArgument;
            this.action = action;
            this.names = List.of(names);
        }

        /** The option {@code word} ({@code -name} or {@code --name}) stands for. */
        static Optional<Option> named(String word) {
            String name = word.startsWith("--") ? word.substring(2) : word.substring(1);
            return Optional.ofNullable(BY_NAME.get(name));
        }
    }

    /** A serial port and the chardev behind it, which {@code chardev:ID} may define later. */
    private record SerialPort(String chardev, String location) {}

    /** The command line seen so far. Options QEMU merges are kept as {@link QemuOpts} until the end. */
    private static final class State {
        final String version;
        Optional<String> printAndExit = Optional.empty();
        final QemuOpts.Merger machine = new QemuOpts.Merger();
        final QemuOpts.Merger memory = new QemuOpts.Merger();
        final QemuOpts.Merger smp = new QemuOpts.Merger();
        final QemuOpts.Merger name = new QemuOpts.Merger();
        final java.util.Map<CpuFeature, Boolean> cpuFeatures = new java.util.LinkedHashMap<>();
        CpuModel cpu = CpuModel.HOST; // QEMU's qemu64 would hide host features for no gain under KVM
        final Map<String, MemoryBackendConfig> objects = new LinkedHashMap<>();
        final Map<String, ChardevConfig> chardevs = new LinkedHashMap<>();
        final List<SerialPort> serials = new ArrayList<>();
        boolean serialGiven;
        Optional<Path> kernel = Optional.empty();
        String append = "";
        Optional<Path> initrd = Optional.empty();
        Optional<Path> pidfile = Optional.empty();
        boolean nographic;
        boolean nodefaults;
        boolean startPaused;
        boolean noReboot;
        boolean noShutdown;
        final List<MonitorConfig> monitors = new ArrayList<>();
        final List<String> incoming = new ArrayList<>();
        boolean monitorGiven;
        int compatMonitors;
        Optional<VmConfig.Accel> accel = Optional.empty();
        String accelLocation;
        Optional<String> qtestChardev = Optional.empty();
        Optional<String> qtestLog = Optional.empty();
        final DeviceOptions devices = new DeviceOptions();
        final List<VmConfig.AddFd> addFds = new ArrayList<>();
        boolean daemonize;
        boolean msgTimestamp;
        Optional<java.util.UUID> uuid = Optional.empty();

        State(String version) {
            this.version = version;
        }

        void accel(Arg a) {
            QemuOpts.parse(a.location(), a.value(), "accel").read(r -> {
                String accel = r.requireString("accel");
                if (isHelp(accel)) {
                    printAndExit = Optional.of(HelpText.accelerators());
                } else {
                    chooseAccel(a.location(), accelerator(r, "accel", accel));
                }
                return null;
            });
        }

        /** {@code -msg timestamp=on|off}: prefix each error message with the time, as QEMU's error_report. */
        void msg(Arg a) {
            QemuOpts.parse(a.location(), a.value()).read(r -> {
                msgTimestamp = r.bool("timestamp", false);
                r.bool("guest-name", false); // QEMU prefixes the guest's name; molt's messages start with "molt:"
                return null;
            });
        }

        /** {@code -uuid}: QEMU's text for a malformed one, byte-identical (vl.c). */
        void uuid(Arg a) {
            if (!a.value().matches("[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")) {
                throw UsageException.at(a.location(), "Fail to parse UUID string. Wrong format.");
            }
            uuid = Optional.of(java.util.UUID.fromString(a.value()));
        }

        /**
         * QEMU takes several accelerators and uses the first that starts; molt takes one, and says
         * so rather than ignore the others.
         */
        void chooseAccel(String location, VmConfig.Accel chosen) {
            if (accel.isPresent() && accel.get() != chosen) {
                throw UsageException.at(location, "molt takes one accelerator, and " + accelLocation
                        + " already chose " + accel.get().qemuName() + " (QEMU's list of fallbacks is not supported)");
            }
            accel = Optional.of(chosen);
            accelLocation = location;
        }

        /** -qtest DEV: QEMU's legacy chardev syntax (the chardev is named "qtest"), or chardev:ID. */
        void qtest(Arg a) {
            if (qtestChardev.isPresent()) throw UsageException.at(a.location(), "Only one instance of qtest can be created");
            String dev = a.value();
            if (dev.startsWith("chardev:")) {
                qtestChardev = Optional.of(dev.substring("chardev:".length()));
                return;
            }
            addChardev(a.location(), legacyChardev(a.location(), dev, "qtest"));
            qtestChardev = Optional.of("qtest");
        }

        /** -add-fd: absent numbers are -1, refused when molt starts with QEMU's words (FdSetsSetup). */
        void addFd(Arg a) {
            addFds.add(QemuOpts.parse(a.location(), a.value()).read(r -> new VmConfig.AddFd(a.location(),
                    r.integer("fd").orElse(-1), r.integer("set").orElse(-1), r.string("opaque"))));
        }

        void cpu(Arg a) {
            String value = a.value();
            int comma = value.indexOf(',');
            String model = comma < 0 ? value : value.substring(0, comma);
            if (isHelp(model)) {
                printAndExit = Optional.of(HelpText.cpus());
                return;
            }
            cpu = CpuModel.byQemuName(model).orElseThrow(() -> UsageException.at(a.location(),
                    "unsupported CPU model '" + model + "' (molt supports: host, max)"));
            cpuFeatures.clear();
            if (comma < 0) return;
            // QEMU's feature syntax: +feat, -feat, feat=on|off (later settings win).
            for (String item : value.substring(comma + 1).split(",")) {
                String name;
                boolean on;
                if (item.startsWith("+") || item.startsWith("-")) {
                    name = item.substring(1);
                    on = item.startsWith("+");
                } else if (item.contains("=")) {
                    name = item.substring(0, item.indexOf('='));
                    String v = item.substring(item.indexOf('=') + 1);
                    on = switch (v) {
                        case "on", "yes", "true" -> true;
                        case "off", "no", "false" -> false;
                        default -> throw UsageException.at(a.location(), "Property '" + name + "' expects 'on' or 'off', not '" + v + "'");
                    };
                } else {
                    throw UsageException.at(a.location(), "unsupported CPU option '" + item + "' (use +feature, -feature or feature=on|off)");
                }
                String featureName = name;
                CpuFeature f = CpuFeature.byQemuName(featureName).orElseThrow(() -> UsageException.at(a.location(),
                        "unknown or unsupported CPU feature '" + featureName + "'"));
                cpuFeatures.remove(f);
                cpuFeatures.put(f, on);
            }
        }

        void display(Arg a) {
            QemuOpts.parse(a.location(), a.value(), "type").read(r -> {
                String type = r.requireString("type");
                if (!type.equals("none")) {
                    throw r.error("type", "unsupported display '" + type + "' (molt has none: use -display none or -nographic)");
                }
                return null;
            });
        }

        void object(Arg a) {
            MemoryBackendConfig backend = validated(a.location(),
                    () -> QemuOpts.parse(a.location(), a.value(), "qom-type").read(CommandLineParser::memoryBackend));
            if (objects.putIfAbsent(backend.id(), backend) != null) {
                throw UsageException.at(a.location(), "Duplicate ID '" + backend.id() + "' for object");
            }
        }

        void chardev(Arg a) {
            addChardev(a.location(), validated(a.location(),
                    () -> QemuOpts.parse(a.location(), a.value(), "backend").read(CommandLineParser::chardev)));
        }

        void addChardev(String location, ChardevConfig chardev) {
            if (chardevs.putIfAbsent(chardev.id(), chardev) != null) {
                throw UsageException.at(location, "Duplicate ID '" + chardev.id() + "' for chardev");
            }
        }

        /**
         * QEMU's legacy {@code -serial} syntax. Each port but {@code none} and {@code chardev:ID}
         * gets a chardev named {@code serialN}, N counting ports as QEMU does.
         */
        void serial(Arg a) {
            String location = a.location();
            String dev = a.value();
            serialGiven = true;
            if (dev.equals("none")) return;
            if (serials.size() == MAX_SERIAL_PORTS) throw UsageException.at(location, "too many serial ports");
            if (dev.startsWith("chardev:")) {
                serials.add(new SerialPort(dev.substring("chardev:".length()), location));
                return;
            }
            String id = "serial" + serials.size();
            addChardev(location, legacyChardev(location, dev, id));
            serials.add(new SerialPort(id, location));
        }

        /** QEMU's legacy character device syntax, shared by -serial, -qmp and -monitor. */
        ChardevConfig legacyChardev(String location, String dev, String id) {
            return validated(location, () -> {
                if (dev.equals("stdio")) return new ChardevConfig.Stdio(id, true);
                if (dev.equals("null")) return new ChardevConfig.Null(id);
                if (dev.startsWith("file:")) return new ChardevConfig.File(id, Path.of(dev.substring("file:".length())), false);
                if (dev.startsWith("unix:")) {
                    return QemuOpts.parse(location, dev.substring("unix:".length()), "path").read(r -> unixSocket(r, id));
                }
                if (dev.startsWith("tcp:")) {
                    String rest = dev.substring("tcp:".length());
                    int comma = rest.indexOf(',');
                    String hostPort = comma < 0 ? rest : rest.substring(0, comma);
                    String opts = comma < 0 ? "" : rest.substring(comma + 1);
                    int colon = hostPort.lastIndexOf(':');
                    if (colon < 0) throw UsageException.at(location, "tcp: expects HOST:PORT");
                    String host = hostPort.substring(0, colon);
                    String keyed = "host=" + (host.isEmpty() ? "0.0.0.0" : host) + ",port=" + hostPort.substring(colon + 1)
                            + (opts.isEmpty() ? "" : "," + opts);
                    return QemuOpts.parse(location, keyed, "host").read(r -> tcpSocket(r, id));
                }
                if (dev.startsWith("mon:")) {
                    throw UsageException.at(location, "the monitor multiplexer (mon:) is not supported yet (-nographic multiplexes stdio)");
                }
                throw UsageException.at(location, "unsupported character device '" + dev
                        + "' (molt supports: stdio, null, none, file:PATH, unix:PATH, tcp:HOST:PORT, chardev:ID)");
            });
        }

        /** -qmp DEV, -qmp-pretty DEV and -monitor DEV: a chardev named compat_monitorN and a monitor on it. */
        void legacyMonitor(Arg a, Protocol protocol, boolean pretty) {
            if (protocol == Protocol.HMP) monitorGiven = true;
            if (a.value().equals("none")) return;
            String id = "compat_monitor" + compatMonitors++;
            addChardev(a.location(), legacyChardev(a.location(), a.value(), id));
            monitors.add(new MonitorConfig(id, protocol, pretty, a.location()));
        }

        /** -mon chardev=ID,mode=control|readline[,pretty=on|off]. */
        void mon(Arg a) {
            monitors.add(QemuOpts.parse(a.location(), a.value(), "chardev").read(r -> {
                String chardev = r.requireString("chardev");
                r.string("id"); // libvirt names its monitor (id=monitor); nothing refers to a monitor by id
                String mode = r.string("mode", "readline");
                Protocol protocol = switch (mode) {
                    case "control" -> Protocol.QMP;
                    case "readline" -> Protocol.HMP;
                    default -> throw r.error("mode", "Parameter 'mode' does not accept value '" + mode + "'");
                };
                if (protocol == Protocol.HMP) monitorGiven = true;
                return new MonitorConfig(chardev, protocol, r.bool("pretty", false), a.location());
            }));
        }

        /**
         * -nographic with no -monitor: like QEMU, stdio carries both COM1 and the human monitor,
         * Ctrl-A c switching between them.
         */
        void addDefaultMonitor() {
            if (!nographic || nodefaults || monitorGiven) return;
            ChardevConfig serial0 = chardevs.get("serial0");
            if (serial0 instanceof ChardevConfig.Stdio s && !serialGiven) {
                chardevs.put(s.id(), new ChardevConfig.Stdio(s.id(), s.signal(), true));
                monitors.add(new MonitorConfig(s.id(), Protocol.HMP, false, "-nographic"));
            } else if (chardevs.values().stream().noneMatch(c -> c instanceof ChardevConfig.Stdio)) {
                String id = "compat_monitor" + compatMonitors++;
                addChardev("-nographic", new ChardevConfig.Stdio(id, true));
                monitors.add(new MonitorConfig(id, Protocol.HMP, false, "-nographic"));
            }
        }

        /** Each monitor's chardev must exist and serve nobody else, unless it is the -nographic mux. */
        List<MonitorConfig> checkedMonitors(List<String> serialIds) {
            Set<String> used = new HashSet<>(serialIds);
            qtestChardev.ifPresent(used::add);
            for (MonitorConfig m : monitors) {
                ChardevConfig c = chardevs.get(m.chardev());
                if (c == null) throw UsageException.at(m.location(), "chardev \"" + m.chardev() + "\" not found");
                boolean mux = c instanceof ChardevConfig.Stdio s && s.mux();
                if (!used.add(m.chardev()) && !mux) throw UsageException.at(m.location(), "Device '" + m.chardev() + "' is in use");
            }
            return List.copyOf(monitors);
        }

        Result finish() {
            QemuOpts machineOpts = machine.result();
            String machineType = machineOpts.asMap().get("type");
            if (machineType != null && isHelp(machineType)) return new Result.PrintAndExit(HelpText.machines());
            VmConfig.Machine machineConfig = machineOpts.read(CommandLineParser::machine);
            Optional<MemoryBackendConfig> ramBackend = machineConfig.memoryBackend().map(id -> Optional
                    .ofNullable(objects.get(id))
                    .orElseThrow(() -> new UsageException("Memory backend '" + id + "' not found")));
            VmConfig.Memory memoryConfig = memory(ramBackend);
            VmConfig.Smp smpConfig = smp(machineConfig.type());
            record Name(Optional<String> guest, boolean debugThreads) {}
            Name nameConfig = name.result().read(r -> new Name(r.string("guest"), r.bool("debug-threads", false)));
            String machineAccel = machineOpts.asMap().get("accel");
            if (machineAccel != null) {
                chooseAccel(machineOpts.location(), AccelList.choose(machineAccel, machineConfig.type(), AccelList.kvmUsable()));
            }
            boolean noGuest = machineConfig.type() == MachineType.NONE;
            // -machine none runs no CPU: it needs KVM only where asked for it.
            VmConfig.Accel chosenAccel = accel.orElse(noGuest && !AccelList.kvmUsable() ? VmConfig.Accel.QTEST : VmConfig.Accel.KVM);
            // An incoming guest brings its own memory: a kernel is only needed to boot afresh, and
            // under qtest (or with no machine) nothing runs one.
            Path kernelPath = kernel.orElseGet(() -> {
                if (incoming.isEmpty() && chosenAccel == VmConfig.Accel.KVM && !noGuest) throw new UsageException("no kernel given (use -kernel)");
                return Path.of("");
            });
            if (qtestLog.isPresent() && qtestChardev.isEmpty()) {
                throw new UsageException("-qtest-log " + qtestLog.get() + ": needs -qtest");
            }
            Optional<VmConfig.QtestServerConfig> qtestServer = qtestChardev.map(id -> {
                if (!chardevs.containsKey(id)) throw new UsageException("-qtest: chardev \"" + id + "\" not found");
                String log = qtestLog.orElse(null);
                return new VmConfig.QtestServerConfig(id,
                        log == null || log.equals("none") ? Optional.empty() : Optional.of(Path.of(log)), log == null);
            });

            // QEMU's check and text (vl.c): its default serial port and monitor would be on stdio.
            if (daemonize && nographic && !nodefaults && (!serialGiven || !monitorGiven)) {
                throw new UsageException("-nographic cannot be used with -daemonize");
            }
            addDefaultSerial();
            addDefaultMonitor();
            List<String> serialIds = serialChardevIds();
            List<MonitorConfig> monitorConfigs = checkedMonitors(serialIds);
            return new Result.Run(validated("", () -> new VmConfig(machineConfig, memoryConfig, smpConfig, cpu, cpuFeatures,
                    List.copyOf(objects.values()), new VmConfig.Boot(kernelPath, append, initrd), chardevs, serialIds,
                    nographic, startPaused, nameConfig.guest(), nameConfig.debugThreads(), pidfile, nodefaults,
                    noReboot, noShutdown, monitorConfigs, incoming, chosenAccel, qtestServer, devices.virtioDevices(), addFds,
                    new VmConfig.Management(daemonize, uuid, msgTimestamp))));
        }

        /**
         * {@code -m}. A size without suffix is MiB, {@code maxmem} without suffix is bytes (both
         * as in QEMU); the size is rounded up to 8 KiB as QEMU does. Without a size, RAM is the
         * memory backend's size or QEMU's 128 MiB.
         */
        VmConfig.Memory memory(Optional<MemoryBackendConfig> ramBackend) {
            record Given(OptionalLong size, OptionalLong maxSize, OptionalLong slots) {}
            QemuOpts memory = this.memory.result();
            Given given = memory.read(r -> new Given(r.size("size", Sizes.Unit.MIB), r.size("maxmem", Sizes.Unit.BYTES),
                    r.integer("slots")));
            String location = memory.location();
            long size;
            if (given.size().isPresent()) {
                size = given.size().getAsLong();
                if (size == 0) throw UsageException.at(location, "RAM size must not be zero");
                if (size > Long.MAX_VALUE - 8191) throw UsageException.at(location, "ram size too large");
                size = (size + 8191) & ~8191L;
            } else {
                size = ramBackend.map(MemoryBackendConfig::size).orElse(VmConfig.DEFAULT_RAM_SIZE);
            }
            if (given.slots().isPresent() && given.maxSize().isEmpty()) {
                throw UsageException.at(location, "slots specified but no max-size");
            }
            long slots = given.slots().orElse(0);
            if (slots > Integer.MAX_VALUE) throw UsageException.at(location, "Parameter 'slots' expects a number below 2^31");
            long finalSize = size;
            return validated(location, () -> new VmConfig.Memory(finalSize, given.maxSize().orElse(finalSize), (int) slots));
        }

        /** {@code -smp}, completed as QEMU's machine_parse_smp_config() does for x86 (cores preferred). */
        VmConfig.Smp smp(MachineType type) {
            record Given(long cpus, long maxCpus, long sockets, long cores, long threads) {}
            QemuOpts smp = this.smp.result();
            Given given = smp.read(r -> new Given(smpValue(r, "cpus"), smpValue(r, "maxcpus"), smpValue(r, "sockets"),
                    smpValue(r, "cores"), smpValue(r, "threads")));
            String location = smp.location();
            long cpus = given.cpus(), maxCpus = given.maxCpus();
            long sockets = given.sockets(), cores = given.cores(), threads = given.threads();
            // smpValue() turned "absent" into 0, so 0 is "derive it"; explicit zeros were refused there.
            if (cpus == 0 && maxCpus == 0) {
                sockets = Math.max(sockets, 1);
                cores = Math.max(cores, 1);
                threads = Math.max(threads, 1);
            } else {
                maxCpus = maxCpus > 0 ? maxCpus : cpus;
                if (cores == 0) {
                    sockets = Math.max(sockets, 1);
                    threads = Math.max(threads, 1);
                    cores = maxCpus / (sockets * threads);
                } else if (sockets == 0) {
                    threads = Math.max(threads, 1);
                    sockets = maxCpus / (cores * threads);
                }
                if (threads == 0) threads = maxCpus / (sockets * cores);
            }
            long total = saturatingProduct(sockets, cores, threads);
            maxCpus = maxCpus > 0 ? maxCpus : total;
            cpus = cpus > 0 ? cpus : maxCpus;
            String hierarchy = VmConfig.Smp.hierarchy(sockets, cores, threads);
            if (total != maxCpus) {
                throw UsageException.at(location, "Invalid CPU topology: product of the hierarchy must match maxcpus: "
                        + hierarchy + " != maxcpus (" + maxCpus + ")");
            }
            if (maxCpus < cpus) {
                throw UsageException.at(location, "Invalid CPU topology: maxcpus must be equal to or greater than smp: "
                        + hierarchy + " == maxcpus (" + maxCpus + ") < smp_cpus (" + cpus + ")");
            }
            if (maxCpus > type.maxCpus()) {
                throw UsageException.at(location, "Invalid SMP CPUs " + maxCpus + ". The max CPUs supported by machine '"
                        + type.qemuName() + "' is " + type.maxCpus());
            }
            return new VmConfig.Smp((int) cpus, (int) maxCpus, (int) sockets, (int) cores, (int) threads);
        }

        /**
         * Without {@code -serial} or {@code -nodefaults}, QEMU gives the guest COM1: on stdio
         * with {@code -nographic}, else on a graphical console, which molt does not have, so its
         * output goes nowhere.
         */
        void addDefaultSerial() {
            if (serialGiven || nodefaults) return;
            String location = nographic ? "-nographic" : "";
            addChardev(location, nographic ? new ChardevConfig.Stdio("serial0", true) : new ChardevConfig.Null("serial0"));
            serials.add(new SerialPort("serial0", location));
        }

        List<String> serialChardevIds() {
            Set<String> used = new HashSet<>();
            var ids = new ArrayList<String>();
            for (SerialPort port : serials) {
                if (!chardevs.containsKey(port.chardev())) {
                    throw UsageException.at(port.location(),
                            "could not connect serial device to character backend 'chardev:" + port.chardev() + "'");
                }
                if (!used.add(port.chardev())) throw UsageException.at(port.location(), "Device '" + port.chardev() + "' is in use");
                ids.add(port.chardev());
            }
            return ids;
        }
    }

    private static VmConfig.Machine machine(QemuOpts.Reader r) {
        String typeName = r.string("type", MachineType.MICROVM.qemuName());
        MachineType type = MachineType.byQemuName(typeName).orElseThrow(() -> r.error("type",
                "unsupported machine type '" + typeName + "' (molt supports: " + MachineType.MICROVM.qemuName() + ", "
                        + MachineType.NONE.qemuName() + ")"));
        boolean auxRamShare = r.bool("aux-ram-share", false);
        Optional<String> memoryBackend = r.string("memory-backend");
        r.string("accel").ifPresent(accel -> {
            try {
                AccelList.choose(accel, type, AccelList.kvmUsable());
            } catch (IllegalArgumentException e) {
                throw r.error("accel", e.getMessage());
            }
        });
        return new VmConfig.Machine(type, auxRamShare, memoryBackend);
    }

    private static MemoryBackendConfig memoryBackend(QemuOpts.Reader r) {
        String type = r.requireString("qom-type");
        return switch (type) {
            case MemoryBackendConfig.Ram.QOM_TYPE ->
                    new MemoryBackendConfig.Ram(r.id(), backendSize(r), r.bool("share", false), r.bool("prealloc", false));
            case MemoryBackendConfig.Memfd.QOM_TYPE ->
                    new MemoryBackendConfig.Memfd(r.id(), backendSize(r), r.bool("share", true), r.bool("prealloc", false),
                            r.bool("hugetlb", false), r.size("hugetlbsize", Sizes.Unit.BYTES));
            case MemoryBackendConfig.File.QOM_TYPE ->
                    new MemoryBackendConfig.File(r.id(), backendSize(r), r.bool("share", false), r.bool("prealloc", false),
                            Path.of(r.string("mem-path", "")));
            default -> throw r.error("qom-type", "invalid object type: " + type + " (molt supports: "
                    + MemoryBackendConfig.Ram.QOM_TYPE + ", " + MemoryBackendConfig.Memfd.QOM_TYPE + ", "
                    + MemoryBackendConfig.File.QOM_TYPE + ")");
        };
    }

    private static long backendSize(QemuOpts.Reader r) {
        return r.size("size", Sizes.Unit.BYTES).orElse(0);
    }

    private static ChardevConfig chardev(QemuOpts.Reader r) {
        String backend = r.requireString("backend");
        return switch (backend) {
            case "stdio" -> new ChardevConfig.Stdio(r.id(), r.bool("signal", true));
            case "file" -> new ChardevConfig.File(r.id(), Path.of(r.string("path", "")), r.bool("append", false));
            case "socket" -> unixSocket(r, r.id());
            case "null" -> new ChardevConfig.Null(r.id());
            default -> throw r.error("backend", "unsupported chardev backend '" + backend
                    + "' (molt supports: stdio, file, socket, null)");
        };
    }

    /** {@code -chardev socket,...} and {@code -serial unix:...}: only Unix sockets so far. */
    private static ChardevConfig unixSocket(QemuOpts.Reader r, String id) {
        if (r.has("fd")) return socketFd(r, id);
        if (r.has("host") || r.has("port")) return tcpSocket(r, id);
        Path path = Path.of(r.string("path", ""));
        boolean server = r.bool("server", false);
        Optional<Boolean> wait = r.bool("wait");
        if (!server && wait.isPresent()) {
            throw r.error("wait", "'wait' option is incompatible with socket in client connect mode");
        }
        return new ChardevConfig.UnixSocket(id, path, server, server && wait.orElse(true));
    }

    /** {@code -chardev socket,fd=N,...}: a socket the manager opened; neither path nor host with it. */
    private static ChardevConfig socketFd(QemuOpts.Reader r, String id) {
        if (r.has("path") || r.has("host")) throw r.error("fd", "chardev: socket: fd= names the socket: give no path or host with it");
        long fd = r.integer("fd").orElseThrow();
        if (fd < 0 || fd > Integer.MAX_VALUE) throw r.error("fd", "chardev: socket: fd must be a non-negative number");
        boolean server = r.bool("server", false);
        Optional<Boolean> wait = r.bool("wait");
        if (!server && wait.isPresent()) {
            throw r.error("wait", "'wait' option is incompatible with socket in client connect mode");
        }
        return new ChardevConfig.SocketFd(id, (int) fd, server, server && wait.orElse(true));
    }

    /** {@code -chardev socket,host=H,port=P,...} and the legacy {@code tcp:HOST:PORT,...}. */
    private static ChardevConfig tcpSocket(QemuOpts.Reader r, String id) {
        String host = r.string("host", "0.0.0.0");
        if (host.isEmpty()) host = "0.0.0.0";
        long port = r.integer("port").orElseThrow(() -> r.error("port", "chardev: socket: no port given"));
        if (port < 0 || port > 65535) throw r.error("port", "port " + port + " is out of range");
        boolean server = r.bool("server", false);
        Optional<Boolean> wait = r.bool("wait");
        if (!server && wait.isPresent()) {
            throw r.error("wait", "'wait' option is incompatible with socket in client connect mode");
        }
        r.bool("nodelay");
        return new ChardevConfig.TcpSocket(id, host, (int) port, server, server && wait.orElse(true));
    }

    /** One -smp value: 0 if absent (to be derived), an error if explicitly 0 or absurdly big. */
    private static long smpValue(QemuOpts.Reader r, String key) {
        OptionalLong value = r.integer(key);
        if (value.isEmpty()) return 0;
        long v = value.getAsLong();
        if (v == 0) throw r.error(key, "Invalid CPU topology: CPU topology parameters must be greater than zero");
        if (v > Integer.MAX_VALUE) throw r.error(key, "Parameter '" + key + "' expects a number below 2^31");
        return v;
    }

    private static long saturatingProduct(long a, long b, long c) {
        try {
            return Math.multiplyExact(Math.multiplyExact(a, b), c);
        } catch (ArithmeticException overflow) {
            return Long.MAX_VALUE;
        }
    }

    private static VmConfig.Accel accelerator(QemuOpts.Reader r, String key, String accel) {
        return VmConfig.Accel.byQemuName(accel).orElseThrow(() -> r.error(key,
                "unsupported accelerator '" + accel + "' (molt supports: kvm, qtest)"));
    }

    private static boolean isHelp(String value) {
        return value.equals("help") || value.equals("?");
    }

    /** A file name option: must not be empty. */
    private static Path path(Arg a) {
        if (a.value().isEmpty()) throw UsageException.at(a.spelled(), "empty file name");
        return validated(a.location(), () -> Path.of(a.value()));
    }

    /**
     * Runs {@code build}, turning the {@link IllegalArgumentException} by which config records
     * (and {@link Path#of}) reject values into a {@link UsageException} at {@code location}.
     */
    private static <T> T validated(String location, Supplier<T> build) {
        try {
            return build.get();
        } catch (IllegalArgumentException e) {
            throw UsageException.at(location, e.getMessage());
        }
    }
}
