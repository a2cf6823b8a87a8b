package dev.molt.monitor;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

import static dev.molt.monitor.ArgType.Scalar.BOOLEAN;
import static dev.molt.monitor.ArgType.Scalar.INTEGER;
import static dev.molt.monitor.ArgType.Scalar.STRING;
import static dev.molt.monitor.Param.optional;
import static dev.molt.monitor.Param.required;
import static dev.molt.monitor.QmpTypes.listOf;
import static dev.molt.monitor.QmpTypes.struct;

/**
 * The questions of a management tool's capability probe (libvirt's qemu_capabilities.c asks them
 * of {@code -machine none}): query-target, query-machines, query-cpu-definitions, qom-list-types,
 * qom-list-properties, device-list-properties and query-command-line-options, answered from
 * {@link Introspection} in QEMU 10.2's shapes, with its error classes and texts (byte-identical,
 * from qom/qom-qmp-cmds.c and util/qemu-config.c).
 */
final class IntrospectionCommands {
    private IntrospectionCommands() {}

    private static final ArgType PROPERTY_INFO_LIST = listOf(struct(required("name", STRING), required("type", STRING),
            optional("description", STRING)));

    static List<QmpCommand> all(Supplier<Introspection> source) {
        return List.of(
                QmpCommand.query("query-target", struct(required("arch", STRING)), (a, c) -> Json.object("arch", source.get().arch())),
                QmpCommand.query("query-machines", listOf(struct(required("name", STRING), optional("is-default", BOOLEAN),
                        required("cpu-max", INTEGER), required("hotpluggable-cpus", BOOLEAN), required("numa-mem-supported", BOOLEAN),
                        required("deprecated", BOOLEAN), optional("default-cpu-type", STRING), optional("default-ram-id", STRING),
                        required("acpi", BOOLEAN))), (a, c) -> machines(source.get()), optional("compat-props", BOOLEAN)),
                QmpCommand.query("query-cpu-definitions", listOf(struct(required("name", STRING), optional("migration-safe", BOOLEAN),
                        required("static", BOOLEAN), optional("unavailable-features", listOf(STRING)), required("typename", STRING),
                        required("deprecated", BOOLEAN))), (a, c) -> cpuModels(source.get())),
                QmpCommand.query("qom-list-types", listOf(struct(required("name", STRING), optional("abstract", BOOLEAN),
                        optional("parent", STRING))), (a, c) -> types(source.get(), a),
                        optional("implements", STRING), optional("abstract", BOOLEAN)),
                QmpCommand.query("qom-list-properties", PROPERTY_INFO_LIST, (a, c) -> qomProperties(source.get(), a.str("typename")),
                        required("typename", STRING)),
                QmpCommand.query("device-list-properties", PROPERTY_INFO_LIST, (a, c) -> deviceProperties(source.get(), a.str("typename")),
                        required("typename", STRING)),
                QmpCommand.query("query-command-line-options", listOf(struct(required("option", STRING),
                        required("parameters", listOf(struct(required("name", STRING), required("type", QmpTypes.enumOf("string",
                                "boolean", "number", "size")), optional("help", STRING)))))),
                        (a, c) -> options(source.get(), a.optStr("option").orElse(null)), optional("option", STRING)));
    }

    private static List<Object> machines(Introspection i) {
        List<Object> out = new ArrayList<>();
        for (Introspection.Machine m : i.machines()) {
            Map<String, Object> o = Json.object("name", m.name());
            if (m.isDefault()) o.put("is-default", true);
            o.put("cpu-max", m.cpuMax());
            o.put("hotpluggable-cpus", false);
            o.put("numa-mem-supported", false);
            o.put("deprecated", false);
            m.defaultCpuType().ifPresent(t -> o.put("default-cpu-type", t));
            m.defaultRamId().ifPresent(r -> o.put("default-ram-id", r));
            o.put("acpi", false);
            out.add(o);
        }
        return out;
    }

    private static List<Object> cpuModels(Introspection i) {
        return i.cpuModels().stream().map(m -> (Object) Json.object("name", m.name(), "typename", m.typename(),
                "unavailable-features", m.unavailable(), "static", false, "migration-safe", false, "deprecated", false)).toList();
    }

    private static List<Object> types(Introspection i, Args a) {
        boolean withAbstract = a.bool("abstract", false);
        String implementing = a.optStr("implements").orElse(null);
        List<Object> out = new ArrayList<>();
        for (Introspection.QomType t : i.types()) {
            if (t.isAbstract() && !withAbstract) continue;
            if (implementing != null && !i.isA(t, implementing)) continue;
            Map<String, Object> o = Json.object("name", t.name());
            if (t.isAbstract()) o.put("abstract", true);
            t.parent().ifPresent(p -> o.put("parent", p));
            out.add(o);
        }
        return out;
    }

    private static List<Object> qomProperties(Introspection i, String typename) {
        Introspection.QomType t = i.type(typename).orElseThrow(() ->
                new CommandError(ErrorClass.DeviceNotFound, "Class '" + typename + "' not found")); // QEMU's text
        return properties(i.allProperties(t));
    }

    private static List<Object> deviceProperties(Introspection i, String typename) {
        Introspection.QomType t = i.type(typename).filter(Introspection.QomType::device).orElseThrow(() ->
                new CommandError(ErrorClass.DeviceNotFound, "Device '" + typename + "' not found")); // QEMU's text
        if (t.isAbstract()) throw CommandError.generic("Parameter 'typename' expects a non-abstract device type"); // QEMU's text
        return properties(i.allProperties(t));
    }

    private static List<Object> properties(List<Introspection.Property> properties) {
        return properties.stream().map(p -> {
            Map<String, Object> o = Json.object("name", p.name(), "type", p.type());
            p.description().ifPresent(d -> o.put("description", d));
            return (Object) o;
        }).toList();
    }

    private static List<Object> options(Introspection i, String only) {
        List<Object> out = new ArrayList<>();
        for (Introspection.Option o : i.options()) {
            if (only != null && !o.option().equals(only)) continue;
            out.add(Json.object("option", o.option(), "parameters", o.parameters().stream().map(p -> {
                Map<String, Object> m = Json.object("name", p.name(), "type", p.type());
                p.help().ifPresent(h -> m.put("help", h));
                return (Object) m;
            }).toList()));
        }
        if (only != null && out.isEmpty()) throw CommandError.generic("invalid option name: " + only); // QEMU's text
        return out;
    }
}
