package dev.molt.monitor;

import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * What molt is made of, as a management tool asks before it starts a guest (libvirt's capability
 * probe): the target, the machine types, the CPU models, the QOM types with their properties and
 * the command line's options. The monitor only reports it; the top package fills it in from the
 * command line's and the devices' own definitions, so it lists exactly what molt accepts.
 */
public record Introspection(String arch, List<Machine> machines, List<CpuModel> cpuModels, List<QomType> types,
                            List<Option> options) {
    /** A molt that tells nothing of itself (monitor tests). */
    public static final Introspection NONE = new Introspection("x86_64", List.of(), List.of(), List.of(), List.of());

    public Introspection {
        Objects.requireNonNull(arch, "arch");
        machines = List.copyOf(machines);
        cpuModels = List.copyOf(cpuModels);
        types = List.copyOf(types);
        options = List.copyOf(options);
    }

    /** A machine type as query-machines reports it. */
    public record Machine(String name, boolean isDefault, int cpuMax, Optional<String> defaultCpuType,
                          Optional<String> defaultRamId) {}

    /** A CPU model as query-cpu-definitions reports it; {@code unavailable} lists what this host lacks for it. */
    public record CpuModel(String name, String typename, List<String> unavailable) {}

    /**
     * A QOM type. {@code parent} is empty for a root; only {@code abstract} types have no instance.
     * Properties are those molt accepts on the type.
     */
    public record QomType(String name, Optional<String> parent, boolean isAbstract, boolean device, List<Property> properties) {
        public QomType {
            properties = List.copyOf(properties);
        }
    }

    /** A property: its QOM type name ({@code str}, {@code bool}, {@code size}, {@code uint32}...) and help. */
    public record Property(String name, String type, Optional<String> description) {}

    /** A command-line option with key=value parameters, as query-command-line-options reports it. */
    public record Option(String option, List<Parameter> parameters) {
        public Option {
            parameters = List.copyOf(parameters);
        }
    }

    /** A parameter: QEMU's type names {@code string}, {@code boolean}, {@code number}, {@code size}. */
    public record Parameter(String name, String type, Optional<String> help) {}

    /** The type {@code name}, if molt has it. */
    public Optional<QomType> type(String name) {
        return types.stream().filter(t -> t.name().equals(name)).findFirst();
    }

    /** Whether {@code type} is {@code ancestor} or derives from it. */
    public boolean isA(QomType type, String ancestor) {
        for (Optional<QomType> t = Optional.of(type); t.isPresent(); t = t.get().parent().flatMap(this::type)) {
            if (t.get().name().equals(ancestor)) return true;
        }
        return false;
    }

    /** Every property of {@code type}, its ancestors' included, the type's own first. */
    public List<Property> allProperties(QomType type) {
        var all = new java.util.ArrayList<Property>();
        for (Optional<QomType> t = Optional.of(type); t.isPresent(); t = t.get().parent().flatMap(this::type)) {
            all.addAll(t.get().properties());
        }
        return all;
    }
}
