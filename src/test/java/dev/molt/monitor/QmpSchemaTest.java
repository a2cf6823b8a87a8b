package dev.molt.monitor;

import org.junit.jupiter.api.Test;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * query-qmp-schema is made from the command table itself: every command and event is there with
 * the arguments the dispatcher checks, in QEMU's SchemaInfo form, and the answers of the query
 * commands fit the return types the schema announces.
 */
class QmpSchemaTest {
    private final FakeTarget target = new FakeTarget();
    private final Monitor monitor = new Monitor(target, new EventBus());

    @SuppressWarnings("unchecked")
    private Map<String, Map<String, Object>> schema() {
        Object answer = run("query-qmp-schema");
        QmpTypes.SCHEMA_INFO_LIST.check(answer, ArgType.Where.top("return"));
        Map<String, Map<String, Object>> byName = new HashMap<>();
        for (Object o : (List<Object>) answer) {
            Map<String, Object> e = (Map<String, Object>) o;
            assertEquals(null, byName.put((String) e.get("name"), e), "two entities named " + e.get("name"));
        }
        return byName;
    }

    private Object run(String name) {
        QmpCommand c = monitor.qmpCommands().find(name).orElseThrow();
        return c.handler().run(new Args(Map.of()), null);
    }

    @Test
    @SuppressWarnings("unchecked")
    void everyCommandIsDescribedWithTheArgumentsTheDispatcherChecks() {
        Map<String, Map<String, Object>> schema = schema();
        for (String name : monitor.qmpCommands().names()) {
            Map<String, Object> entity = schema.get(name);
            assertEquals("command", entity.get("meta-type"), name);
            Map<String, Object> args = schema.get((String) entity.get("arg-type"));
            assertEquals("object", args.get("meta-type"), name);
            QmpCommand command = monitor.qmpCommands().find(name).orElseThrow();
            Map<String, Boolean> described = ((List<Object>) args.get("members")).stream().map(m -> (Map<String, Object>) m)
                    .collect(Collectors.toMap(m -> (String) m.get("name"), m -> m.containsKey("default")));
            Map<String, Boolean> declared = command.params().stream().collect(Collectors.toMap(Param::name, Param::optional));
            assertEquals(declared, described, name);
            assertTrue(schema.containsKey((String) entity.get("ret-type")), name + ": ret-type " + entity.get("ret-type"));
        }
        for (Events.Definition e : Events.DEFINITIONS) assertEquals("event", schema.get(e.name()).get("meta-type"));
    }

    @Test
    @SuppressWarnings("unchecked")
    void typesAreQemusBuiltinsArraysAndNumberedTypes() {
        Map<String, Map<String, Object>> schema = schema();
        assertEquals(Json.object("name", "str", "json-type", "string", "meta-type", "builtin"), schema.get("str"));
        assertEquals(Json.object("name", "int", "json-type", "int", "meta-type", "builtin"), schema.get("int"));
        // migrate-set-capabilities: {capabilities: [{capability: MigrationCapability, state: bool}]}
        Map<String, Object> args = schema.get((String) schema.get("migrate-set-capabilities").get("arg-type"));
        Map<String, Object> capabilities = (Map<String, Object>) ((List<Object>) args.get("members")).getFirst();
        Map<String, Object> array = schema.get((String) capabilities.get("type"));
        assertEquals("array", array.get("meta-type"));
        Map<String, Object> element = schema.get((String) array.get("element-type"));
        Map<String, Object> capability = (Map<String, Object>) ((List<Object>) element.get("members")).getFirst();
        Map<String, Object> enumType = schema.get((String) capability.get("type"));
        assertEquals("enum", enumType.get("meta-type"));
        assertEquals(MigrationSchema.CAPABILITIES, enumType.get("values"));
        assertTrue(((String) capability.get("type")).chars().allMatch(Character::isDigit), "QEMU names its own types by numbers");
        // an optional member says so with "default": null, as QEMU's
        Map<String, Object> migrate = schema.get((String) schema.get("migrate").get("arg-type"));
        assertTrue(((Map<String, Object>) ((List<Object>) migrate.get("members")).getFirst()).containsKey("default"));
        // SHUTDOWN's reason is the ShutdownCause enum
        Map<String, Object> shutdown = schema.get((String) schema.get("SHUTDOWN").get("arg-type"));
        assertEquals(2, ((List<Object>) shutdown.get("members")).size());
    }

    @Test
    void queryAnswersFitTheirDeclaredReturnTypes() {
        target.name = "vm1";
        for (String name : monitor.qmpCommands().names()) {
            QmpCommand c = monitor.qmpCommands().find(name).orElseThrow();
            if (!name.startsWith("query-") || c.params().stream().anyMatch(p -> !p.optional())) continue;
            Object answer = run(name);
            c.returns().check(answer, ArgType.Where.top(name));
        }
    }

    @Test
    void aMemberTheTypeDoesNotDeclareIsCaught() {
        // What the test above relies on: a reply that grows a member no longer fits its type.
        Map<String, Object> status = new HashMap<>(Json.object("running", true, "status", "running"));
        QmpTypes.STATUS_INFO.check(status, ArgType.Where.top("r"));
        status.put("singlestep", false);
        CommandError e = org.junit.jupiter.api.Assertions.assertThrows(CommandError.class,
                () -> QmpTypes.STATUS_INFO.check(status, ArgType.Where.top("r")));
        assertEquals("Parameter 'r.singlestep' is unexpected", e.desc());
    }
}
