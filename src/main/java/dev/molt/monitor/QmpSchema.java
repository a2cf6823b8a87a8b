package dev.molt.monitor;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * {@code query-qmp-schema}'s answer, in QEMU's SchemaInfo form (qapi/introspect.json), made from
 * the very definitions the dispatcher checks arguments against ({@link QmpCommand#params()}) and
 * from {@link Events#DEFINITIONS}: what the schema says and what molt accepts cannot differ.
 *
 * <p>As QEMU's introspection does, types other than the built-ins are named by numbers (clients
 * must not depend on type names), arrays are named {@code [element]}, every integer width is
 * {@code int}, and an optional member carries {@code "default": null}. Structurally equal types
 * share one entry.
 */
final class QmpSchema {
    private final List<Object> entities = new ArrayList<>();
    private final List<Object> types = new ArrayList<>();
    private final Map<ArgType, String> names = new HashMap<>();
    private final Set<String> builtins = new LinkedHashSet<>();
    private int numbered;

    private QmpSchema() {}

    static List<Object> of(Iterable<QmpCommand> commands, List<Events.Definition> events) {
        QmpSchema schema = new QmpSchema();
        for (QmpCommand c : commands) {
            schema.entities.add(Json.object(
                    "name", c.name(),
                    "ret-type", schema.name(c.returns()),
                    "meta-type", "command",
                    "arg-type", schema.name(new ArgType.Struct(c.params()))));
        }
        for (Events.Definition e : events) {
            schema.entities.add(Json.object("name", e.name(), "meta-type", "event", "arg-type", schema.name(new ArgType.Struct(e.data()))));
        }
        List<Object> all = new ArrayList<>(schema.entities);
        all.addAll(schema.types);
        for (String b : schema.builtins) all.add(Json.object("name", b, "json-type", jsonType(b), "meta-type", "builtin"));
        return all;
    }

    /** The name {@code type} has in the schema, adding its entry (and those of its parts) on first use. */
    private String name(ArgType type) {
        String known = names.get(type);
        if (known != null) return known;
        String name = switch (type) {
            case ArgType.Scalar s when s == ArgType.Scalar.STRING_OR_NULL -> define(type, n -> Json.object(
                    "name", n, "members", List.of(Json.object("type", builtin("str")), Json.object("type", builtin("null"))),
                    "meta-type", "alternate"));
            case ArgType.Scalar s -> builtin(switch (s) {
                case STRING -> "str";
                case BOOLEAN -> "bool";
                case INTEGER -> "int";
                case NUMBER -> "number";
                case ANY -> "any";
                case STRING_OR_NULL -> throw new AssertionError(s);
            });
            case ArgType.Unsigned u -> builtin("int");
            case ArgType.EnumOf e -> define(type, n -> Json.object(
                    "name", n, "meta-type", "enum", "members", e.values().stream().map(v -> (Object) Json.object("name", v)).toList(),
                    "values", List.copyOf(e.values())));
            case ArgType.ListOf l -> {
                String element = name(l.element());
                String n = "[" + element + "]";
                // Two element types may share a schema name (every integer width is "int"): one entry.
                if (arrays.add(n)) types.add(Json.object("name", n, "element-type", element, "meta-type", "array"));
                yield n;
            }
            case ArgType.Struct s -> {
                List<Object> members = new ArrayList<>();
                for (Param p : s.members()) {
                    Map<String, Object> m = new LinkedHashMap<>();
                    m.put("name", p.name());
                    if (p.optional()) m.put("default", null);
                    m.put("type", name(p.type()));
                    members.add(m);
                }
                yield define(type, n -> Json.object("name", n, "members", members, "meta-type", "object"));
            }
        };
        names.put(type, name);
        return name;
    }

    /** The array types already listed, by name. */
    private final java.util.Set<String> arrays = new java.util.HashSet<>();

    /** Names {@code type} by the next number (built-ins and arrays are named otherwise). */
    private String define(ArgType type, Function<String, Object> entry) {
        String n = String.valueOf(numbered++);
        names.put(type, n);
        types.add(entry.apply(n));
        return n;
    }

    private String builtin(String name) {
        builtins.add(name);
        return name;
    }

    private static String jsonType(String builtin) {
        return switch (builtin) {
            case "str" -> "string";
            case "bool" -> "boolean";
            case "any" -> "value";
            default -> builtin; // int, number, null
        };
    }
}
