package dev.molt.cli;

import dev.molt.chardev.ChardevConfig;
import dev.molt.devices.block.VirtioBlkConfig;
import dev.molt.devices.virtio.VirtioDeviceConfig;
import dev.molt.machine.CpuFeature;
import dev.molt.monitor.MonitorConfig;
import dev.molt.memory.MemoryBackendConfig;

import java.nio.file.Path;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * Everything the command line asks for, after defaults and cross-checks. Built by
 * {@link CommandLineParser}; the compact constructors keep the invariants that the parser checks
 * (with friendlier locations) so that a hand-built config is just as sound.
 *
 * @param machine        {@code -machine}
 * @param memory         {@code -m}; its size is the RAM backend's when {@code -m} gives none
 * @param smp            {@code -smp}, with QEMU's derivation of omitted values done
 * @param cpu            {@code -cpu}
 * @param cpuFeatures    {@code -cpu host,+feat,-feat,feat=on|off}: features switched on or off, in order
 * @param memoryBackends {@code -object memory-backend-*}, in command-line order, ids unique
 * @param boot           {@code -kernel}, {@code -append}, {@code -initrd}
 * @param chardevs       every character backend by id, in creation order: {@code -chardev} ones
 *                       and the {@code serialN} ones that {@code -serial} and the defaults create
 * @param serials        chardev ids of the serial ports, COM1 first; empty for none
 * @param nographic      {@code -nographic} (its serial default is already applied)
 * @param startPaused    {@code -S}: create the VM but run no vCPU until told to
 * @param name           {@code -name}
 * @param debugThreads   {@code -name ...,debug-threads=on}: give threads descriptive names
 * @param pidfile        {@code -pidfile}
 * @param nodefaults     {@code -nodefaults} (its effect on serial ports is already applied)
 * @param noReboot       {@code -no-reboot}: exit rather than reset when the guest reboots
 * @param noShutdown     {@code -no-shutdown}: stop rather than exit when the guest powers off
 * @param incoming       {@code -incoming} values as given (a URI, {@code defer}, or a channel), in order
 * @param monitors       QMP and HMP monitors ({@code -qmp}, {@code -monitor}, {@code -mon}, and the
 *                       human monitor that -nographic multiplexes onto stdio)
 * @param accel          {@code -accel} or {@code -machine accel=}: what runs the guest's CPUs
 * @param qtest          {@code -qtest} and {@code -qtest-log}: the qtest protocol server, if any
 * @param virtioDevices  {@code -device virtio-blk-device} and {@code virtio-net-device} with the drives and netdevs they name, in order
 * @param addFds         {@code -add-fd}: inherited fds for fd sets ({@code /dev/fdset/N}), in order
 * @param management     {@code -daemonize}, {@code -uuid}, {@code -msg}: what a management tool asks of the process
 */
public record VmConfig(
        Machine machine,
        Memory memory,
        Smp smp,
        CpuModel cpu,
        Map<CpuFeature, Boolean> cpuFeatures,
        List<MemoryBackendConfig> memoryBackends,
        Boot boot,
        Map<String, ChardevConfig> chardevs,
        List<String> serials,
        boolean nographic,
        boolean startPaused,
        Optional<String> name,
        boolean debugThreads,
        Optional<Path> pidfile,
        boolean nodefaults,
        boolean noReboot,
        boolean noShutdown,
        List<MonitorConfig> monitors,
        List<String> incoming,
        Accel accel,
        Optional<QtestServerConfig> qtest,
        List<VirtioDeviceConfig> virtioDevices,
        List<AddFd> addFds,
        Management management) {

    /**
     * @param daemonize    {@code -daemonize}: the launcher runs molt detached and returns once it is ready
     * @param uuid         {@code -uuid}
     * @param msgTimestamp {@code -msg timestamp=on}: error messages start with the time
     */
    public record Management(boolean daemonize, Optional<java.util.UUID> uuid, boolean msgTimestamp) {
        public static final Management DEFAULT = new Management(false, Optional.empty(), false);

        public Management {
            Objects.requireNonNull(uuid, "uuid");
        }
    }

    /** Without {@code -daemonize}, {@code -uuid} or {@code -msg}. */
    public VmConfig(Machine machine, Memory memory, Smp smp, CpuModel cpu, Map<CpuFeature, Boolean> cpuFeatures,
                    List<MemoryBackendConfig> memoryBackends, Boot boot, Map<String, ChardevConfig> chardevs,
                    List<String> serials, boolean nographic, boolean startPaused, Optional<String> name,
                    boolean debugThreads, Optional<Path> pidfile, boolean nodefaults, boolean noReboot,
                    boolean noShutdown, List<MonitorConfig> monitors, List<String> incoming, Accel accel,
                    Optional<QtestServerConfig> qtest, List<VirtioDeviceConfig> virtioDevices, List<AddFd> addFds) {
        this(machine, memory, smp, cpu, cpuFeatures, memoryBackends, boot, chardevs, serials, nographic, startPaused,
                name, debugThreads, pidfile, nodefaults, noReboot, noShutdown, monitors, incoming, accel, qtest, virtioDevices,
                addFds, Management.DEFAULT);
    }

    /** {@code -add-fd fd=N,set=S,opaque=TEXT}: an inherited fd to put in fd set S (checked when molt starts). */
    public record AddFd(String location, long fd, long set, Optional<String> opaque) {}

    /** Without {@code -add-fd}. */
    public VmConfig(Machine machine, Memory memory, Smp smp, CpuModel cpu, Map<CpuFeature, Boolean> cpuFeatures,
                    List<MemoryBackendConfig> memoryBackends, Boot boot, Map<String, ChardevConfig> chardevs,
                    List<String> serials, boolean nographic, boolean startPaused, Optional<String> name,
                    boolean debugThreads, Optional<Path> pidfile, boolean nodefaults, boolean noReboot,
                    boolean noShutdown, List<MonitorConfig> monitors, List<String> incoming, Accel accel,
                    Optional<QtestServerConfig> qtest, List<VirtioDeviceConfig> virtioDevices) {
        this(machine, memory, smp, cpu, cpuFeatures, memoryBackends, boot, chardevs, serials, nographic, startPaused,
                name, debugThreads, pidfile, nodefaults, noReboot, noShutdown, monitors, incoming, accel, qtest, virtioDevices, List.of());
    }

    /** 128 MiB, QEMU's default RAM size. */
    public static final long DEFAULT_RAM_SIZE = 128L << 20;

    /** A KVM machine without a qtest server (what most hand-built configurations want). */
    public VmConfig(Machine machine, Memory memory, Smp smp, CpuModel cpu, Map<CpuFeature, Boolean> cpuFeatures,
                    List<MemoryBackendConfig> memoryBackends, Boot boot, Map<String, ChardevConfig> chardevs,
                    List<String> serials, boolean nographic, boolean startPaused, Optional<String> name,
                    boolean debugThreads, Optional<Path> pidfile, boolean nodefaults, boolean noReboot,
                    boolean noShutdown, List<MonitorConfig> monitors, List<String> incoming) {
        this(machine, memory, smp, cpu, cpuFeatures, memoryBackends, boot, chardevs, serials, nographic, startPaused,
                name, debugThreads, pidfile, nodefaults, noReboot, noShutdown, monitors, incoming, Accel.KVM, Optional.empty(), List.of());
    }

    public VmConfig {
        Objects.requireNonNull(machine, "machine");
        Objects.requireNonNull(accel, "accel");
        Objects.requireNonNull(qtest, "qtest");
        Objects.requireNonNull(memory, "memory");
        Objects.requireNonNull(smp, "smp");
        Objects.requireNonNull(cpu, "cpu");
        Objects.requireNonNull(boot, "boot");
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(pidfile, "pidfile");
        Objects.requireNonNull(management, "management");
        cpuFeatures = Collections.unmodifiableMap(new LinkedHashMap<>(cpuFeatures));
        memoryBackends = List.copyOf(memoryBackends);
        chardevs = Collections.unmodifiableMap(new LinkedHashMap<>(chardevs));
        serials = List.copyOf(serials);
        monitors = List.copyOf(monitors);
        incoming = List.copyOf(incoming);
        virtioDevices = List.copyOf(virtioDevices);
        addFds = List.copyOf(addFds);

        var backendIds = new HashSet<String>();
        for (MemoryBackendConfig b : memoryBackends) {
            if (!backendIds.add(b.id())) throw new IllegalArgumentException("Duplicate ID '" + b.id() + "' for object");
        }
        chardevs.forEach((id, chardev) -> {
            if (!id.equals(chardev.id())) throw new IllegalArgumentException("chardev '" + chardev.id() + "' filed under '" + id + "'");
        });
        if (chardevs.values().stream().filter(c -> c instanceof ChardevConfig.Stdio).count() > 1) {
            throw new IllegalArgumentException("cannot use stdio by multiple character devices");
        }
        for (String id : serials) {
            if (!chardevs.containsKey(id)) throw new IllegalArgumentException("serial port on unknown chardev '" + id + "'");
        }
        if (qtest.isPresent()) {
            String id = qtest.get().chardev();
            if (!chardevs.containsKey(id)) throw new IllegalArgumentException("qtest on unknown chardev '" + id + "'");
            if (serials.contains(id)) throw new IllegalArgumentException("chardev '" + id + "' serves a serial port and qtest");
        }
        if (management.daemonize() && chardevs.values().stream().anyMatch(c -> c instanceof ChardevConfig.Stdio)) {
            throw new IllegalArgumentException("cannot use stdio with -daemonize"); // QEMU's text (char-stdio.c)
        }
        if (serials.size() != new HashSet<>(serials).size()) {
            throw new IllegalArgumentException("a chardev can back only one serial port");
        }
        if (smp.maxCpus() > machine.type().maxCpus()) {
            throw new IllegalArgumentException("Invalid SMP CPUs " + smp.maxCpus() + ". The max CPUs supported by machine '"
                    + machine.type().qemuName() + "' is " + machine.type().maxCpus());
        }
        List<MemoryBackendConfig> backends = memoryBackends;
        machine.memoryBackend().ifPresent(id -> {
            MemoryBackendConfig backend = backends.stream().filter(b -> b.id().equals(id)).findFirst()
                    .orElseThrow(() -> new IllegalArgumentException("Memory backend '" + id + "' not found"));
            if (backend.size() != memory.size()) {
                throw new IllegalArgumentException("Machine memory size does not match the size of the memory backend");
            }
        });
    }

    /** The backend that {@code -machine memory-backend=ID} names, if any. */
    public Optional<MemoryBackendConfig> ramBackend() {
        return machine.memoryBackend().flatMap(id -> memoryBackends.stream().filter(b -> b.id().equals(id)).findFirst());
    }

    /** The virtio-blk devices among {@link #virtioDevices}, in order. */
    public List<VirtioBlkConfig> disks() {
        return virtioDevices.stream().filter(d -> d instanceof VirtioBlkConfig).map(d -> (VirtioBlkConfig) d).toList();
    }

    /** The backends of the serial ports, COM1 first. */
    public List<ChardevConfig> serialChardevs() {
        return serials.stream().map(chardevs::get).toList();
    }

    /** The accelerators molt offers, by the name {@code -accel} takes. */
    public enum Accel {
        KVM("kvm"),
        /** No guest CPU runs; a test client drives memory, ports and the clock (QEMU's qtest). */
        QTEST("qtest");

        private final String qemuName;

        Accel(String qemuName) {
            this.qemuName = qemuName;
        }

        public String qemuName() {
            return qemuName;
        }

        public static Optional<Accel> byQemuName(String name) {
            for (Accel a : values()) if (a.qemuName.equals(name)) return Optional.of(a);
            return Optional.empty();
        }
    }

    /**
     * {@code -qtest CHARDEV}: the qtest protocol on chardev {@code chardev}; {@code -qtest-log FILE}
     * logs it ({@code none}: no log; absent: standard error, as QEMU does).
     */
    public record QtestServerConfig(String chardev, Optional<Path> log, boolean logToStderr) {
        public QtestServerConfig {
            Objects.requireNonNull(chardev, "chardev");
            Objects.requireNonNull(log, "log");
        }
    }

    /** The machine types molt emulates. */
    public enum MachineType {
        MICROVM("microvm", "minimal x86 machine: no PCI, no firmware, direct kernel boot", 255),
        /** QEMU's {@code none}: no RAM, no CPU, no device; the monitors answer (how libvirt probes an emulator). */
        NONE("none", "empty machine", 1);

        private final String qemuName;
        private final String description;
        private final int maxCpus;

        MachineType(String qemuName, String description, int maxCpus) {
            this.qemuName = qemuName;
            this.description = description;
            this.maxCpus = maxCpus;
        }

        /** The name {@code -machine} takes. */
        public String qemuName() {
            return qemuName;
        }

        public String description() {
            return description;
        }

        public int maxCpus() {
            return maxCpus;
        }

        public static Optional<MachineType> byQemuName(String name) {
            for (MachineType t : values()) {
                if (t.qemuName.equals(name)) return Optional.of(t);
            }
            return Optional.empty();
        }
    }

    /**
     * {@code -machine TYPE,aux-ram-share=on|off,memory-backend=ID}.
     *
     * @param auxRamShare   allocate RAM that molt creates itself as shared memory (a memfd), so
     *                      that a live update can keep it
     * @param memoryBackend the id of the {@code -object memory-backend-*} that is guest RAM
     */
    public record Machine(MachineType type, boolean auxRamShare, Optional<String> memoryBackend) {
        public Machine {
            Objects.requireNonNull(type, "type");
            Objects.requireNonNull(memoryBackend, "memoryBackend");
        }
    }

    /**
     * {@code -m [size=]SIZE[,maxmem=SIZE][,slots=N]}, in bytes.
     *
     * @param maxSize equal to {@code size} when {@code maxmem} is not given
     * @param slots   memory hotplug slots; 0 when not given
     */
    public record Memory(long size, long maxSize, int slots) {
        public Memory {
            if (size <= 0) throw new IllegalArgumentException("RAM size must be positive");
            if (maxSize < size) {
                throw new IllegalArgumentException(String.format("invalid value of maxmem: maximum memory size (0x%x) "
                        + "must be at least the initial memory size (0x%x)", maxSize, size));
            }
            if (slots < 0) throw new IllegalArgumentException("slots must not be negative");
            if (slots > 0 && maxSize == size) {
                throw new IllegalArgumentException(String.format("invalid value of maxmem: memory slots were specified but "
                        + "maximum memory size (0x%x) is equal to the initial memory size (0x%x)", maxSize, size));
            }
        }
    }

    /** {@code -smp}: {@code cpus} vCPUs at start, {@code maxCpus = sockets * cores * threads}. */
    public record Smp(int cpus, int maxCpus, int sockets, int cores, int threads) {
        public Smp {
            if (cpus < 1 || maxCpus < 1 || sockets < 1 || cores < 1 || threads < 1) {
                throw new IllegalArgumentException("Invalid CPU topology: CPU topology parameters must be greater than zero");
            }
            if ((long) sockets * cores * threads != maxCpus) {
                throw new IllegalArgumentException("Invalid CPU topology: product of the hierarchy must match maxcpus: "
                        + hierarchy(sockets, cores, threads) + " != maxcpus (" + maxCpus + ")");
            }
            if (maxCpus < cpus) {
                throw new IllegalArgumentException("Invalid CPU topology: maxcpus must be equal to or greater than smp: "
                        + hierarchy(sockets, cores, threads) + " == maxcpus (" + maxCpus + ") < smp_cpus (" + cpus + ")");
            }
        }

        /** One vCPU, QEMU's default. */
        public static Smp single() {
            return new Smp(1, 1, 1, 1, 1);
        }

        static String hierarchy(long sockets, long cores, long threads) {
            return "sockets (" + sockets + ") * cores (" + cores + ") * threads (" + threads + ")";
        }
    }

    /** {@code -cpu}: under KVM both give the guest every CPUID feature the host and KVM support. */
    public enum CpuModel {
        HOST("host", "the host's CPU, with every feature KVM can give a guest"),
        MAX("max", "the most capable CPU available: under KVM, the same as host");

        private final String qemuName;
        private final String description;

        CpuModel(String qemuName, String description) {
            this.qemuName = qemuName;
            this.description = description;
        }

        public String qemuName() {
            return qemuName;
        }

        public String description() {
            return description;
        }

        public static Optional<CpuModel> byQemuName(String name) {
            for (CpuModel m : values()) {
                if (m.qemuName.equals(name)) return Optional.of(m);
            }
            return Optional.empty();
        }
    }

    /**
     * How the guest starts: a Linux kernel, its command line and an optional initrd.
     *
     * @param cmdline {@code -append}; empty when not given
     */
    public record Boot(Path kernel, String cmdline, Optional<Path> initrd) {
        public Boot {
            Objects.requireNonNull(kernel, "kernel");
            Objects.requireNonNull(cmdline, "cmdline");
            Objects.requireNonNull(initrd, "initrd");
        }
    }
}
