package dev.molt;

import dev.molt.cli.VmConfig;
import dev.molt.machine.CpuFeature;
import dev.molt.memory.MemoryBackendConfig;
import dev.molt.monitor.Introspection;
import dev.molt.monitor.Introspection.Option;
import dev.molt.monitor.Introspection.Parameter;
import dev.molt.monitor.Introspection.Property;
import dev.molt.monitor.Introspection.QomType;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * molt described as QEMU describes itself to a management tool: only the machine types, CPU models,
 * devices, memory backends and option keys molt accepts (the command line's parsers and the
 * devices define them; this lists them under QEMU's QOM names), so that a tool never learns of
 * something molt would then refuse.
 */
final class MoltIntrospection {
    private MoltIntrospection() {}

    /** @param kvm whether KVM runs the guest's CPUs here: without it no CPU model is usable */
    static Introspection of(boolean kvm) {
        List<Introspection.Machine> machines = new ArrayList<>();
        for (VmConfig.MachineType t : VmConfig.MachineType.values()) {
            boolean none = t == VmConfig.MachineType.NONE;
            machines.add(new Introspection.Machine(t.qemuName(), t == VmConfig.MachineType.MICROVM, t.maxCpus(),
                    none ? Optional.empty() : Optional.of(cpuType(VmConfig.CpuModel.HOST)),
                    none ? Optional.empty() : Optional.of(t.qemuName() + ".ram")));
        }
        // Both models are the host's CPU under KVM, and molt has no CPU emulation to fall back on.
        List<String> unavailable = kvm ? List.of() : List.of("kvm");
        List<Introspection.CpuModel> cpus = Arrays.stream(VmConfig.CpuModel.values())
                .map(m -> new Introspection.CpuModel(m.qemuName(), cpuType(m), unavailable)).toList();
        return new Introspection("x86_64", machines, cpus, types(), options());
    }

    private static String cpuType(VmConfig.CpuModel model) {
        return model.qemuName() + "-x86_64-cpu";
    }

    private static List<QomType> types() {
        List<QomType> types = new ArrayList<>();
        types.add(abstractType("machine", null, false, List.of()));
        types.add(abstractType("x86-machine", "machine", false, List.of()));
        types.add(new QomType("microvm-machine", Optional.of("x86-machine"), false, false, List.of(
                property("aux-ram-share", "bool", "Use anonymous shared memory for auxiliary guest RAMs"),
                property("memory-backend", "string", "Set RAM backend"))));
        types.add(new QomType("none-machine", Optional.of("machine"), false, false, List.of()));

        types.add(abstractType("device", null, true, List.of()));
        types.add(abstractType("cpu", "device", true, List.of()));
        types.add(abstractType("x86_64-cpu", "cpu", true, Arrays.stream(CpuFeature.values())
                .map(f -> new Property(f.qemuName, "bool", Optional.empty())).toList()));
        for (VmConfig.CpuModel m : VmConfig.CpuModel.values()) {
            types.add(new QomType(cpuType(m), Optional.of("x86_64-cpu"), false, true, List.of()));
        }
        types.add(abstractType("virtio-device", "device", true, List.of()));
        // The keys BlockOptions.device and NetOptions.device accept.
        types.add(new QomType("virtio-blk-device", Optional.of("virtio-device"), false, true, List.of(
                property("drive", "str", "Node name or ID of a block device to use as a backend"),
                property("serial", "str", null))));
        types.add(new QomType("virtio-net-device", Optional.of("virtio-device"), false, true, List.of(
                property("netdev", "str", "ID of a netdev to use as a backend"),
                property("mac", "str", "Ethernet 6-byte MAC Address, example: 52:54:00:12:34:56"))));

        // The keys CommandLineParser.memoryBackend accepts.
        types.add(abstractType("memory-backend", null, false, List.of(
                property("size", "int", "Size of the memory region (ex: 500M)"),
                property("share", "bool", "Mark the memory as private to QEMU or shared"),
                property("prealloc", "bool", "Preallocate memory"))));
        types.add(new QomType(MemoryBackendConfig.Ram.QOM_TYPE, Optional.of("memory-backend"), false, false, List.of()));
        types.add(new QomType(MemoryBackendConfig.Memfd.QOM_TYPE, Optional.of("memory-backend"), false, false, List.of(
                property("hugetlb", "bool", "Use huge pages"),
                property("hugetlbsize", "int", "Huge pages size (ex: 2M, 1G)"))));
        types.add(new QomType(MemoryBackendConfig.File.QOM_TYPE, Optional.of("memory-backend"), false, false, List.of(
                property("mem-path", "string", "File to be used as memory backend"))));
        return types;
    }

    private static QomType abstractType(String name, String parent, boolean device, List<Property> properties) {
        return new QomType(name, Optional.ofNullable(parent), true, device, properties);
    }

    private static Property property(String name, String type, String description) {
        return new Property(name, type, Optional.ofNullable(description));
    }

    /** The QemuOpts-style options and the keys CommandLineParser reads from them. */
    private static List<Option> options() {
        return List.of(
                new Option("machine", List.of(parameter("type", "string", "machine type"),
                        parameter("accel", "string", "accelerator list"),
                        parameter("aux-ram-share", "boolean", null), parameter("memory-backend", "string", null))),
                new Option("accel", List.of(parameter("accel", "string", "Select the type of accelerator"))),
                new Option("memory", List.of(parameter("size", "size", null), parameter("maxmem", "size", null),
                        parameter("slots", "number", null))),
                new Option("smp-opts", List.of(parameter("cpus", "number", null), parameter("maxcpus", "number", null),
                        parameter("sockets", "number", null), parameter("cores", "number", null),
                        parameter("threads", "number", null))),
                new Option("name", List.of(parameter("guest", "string", "Sets the name of the guest."),
                        parameter("debug-threads", "boolean", "When enabled, name the individual threads; defaults off."))),
                new Option("msg", List.of(parameter("timestamp", "boolean", null),
                        parameter("guest-name", "boolean", null))));
    }

    private static Parameter parameter(String name, String type, String help) {
        return new Parameter(name, type, Optional.ofNullable(help));
    }
}
