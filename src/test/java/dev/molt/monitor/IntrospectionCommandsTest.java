package dev.molt.monitor;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The capability probe's questions, answered from an {@link Introspection} in QEMU's shapes and words. */
class IntrospectionCommandsTest {
    private final FakeTarget target = new FakeTarget();
    private final Monitor monitor = new Monitor(target, new EventBus());

    IntrospectionCommandsTest() {
        var size = new Introspection.Property("size", "int", Optional.of("Size of the memory region (ex: 500M)"));
        target.introspection = new Introspection("x86_64",
                List.of(new Introspection.Machine("microvm", true, 255, Optional.of("host-x86_64-cpu"), Optional.of("microvm.ram"))),
                List.of(new Introspection.CpuModel("host", "host-x86_64-cpu", List.of("kvm"))),
                List.of(new Introspection.QomType("device", Optional.empty(), true, true, List.of()),
                        new Introspection.QomType("virtio-device", Optional.of("device"), true, true, List.of()),
                        new Introspection.QomType("virtio-blk-device", Optional.of("virtio-device"), false, true,
                                List.of(new Introspection.Property("drive", "str", Optional.empty()))),
                        new Introspection.QomType("memory-backend", Optional.empty(), true, false, List.of(size)),
                        new Introspection.QomType("memory-backend-memfd", Optional.of("memory-backend"), false, false,
                                List.of(new Introspection.Property("hugetlb", "bool", Optional.empty())))),
                List.of(new Introspection.Option("msg", List.of(new Introspection.Parameter("timestamp", "boolean", Optional.empty())))));
    }

    private Object run(String name, Map<String, Object> args) {
        QmpCommand c = monitor.qmpCommands().find(name).orElseThrow();
        Object answer = c.handler().run(new Args(args), null);
        c.returns().check(answer, ArgType.Where.top(name));
        return answer;
    }

    private CommandError error(String name, Map<String, Object> args) {
        return assertThrows(CommandError.class, () -> run(name, args));
    }

    @Test
    void targetMachinesAndCpuModels() {
        assertEquals(Map.of("arch", "x86_64"), run("query-target", Map.of()));
        assertEquals(List.of(Json.object("name", "microvm", "is-default", true, "cpu-max", 255, "hotpluggable-cpus", false,
                "numa-mem-supported", false, "deprecated", false, "default-cpu-type", "host-x86_64-cpu", "default-ram-id", "microvm.ram",
                "acpi", false)), run("query-machines", Map.of()));
        assertEquals(List.of(Json.object("name", "host", "typename", "host-x86_64-cpu", "unavailable-features", List.of("kvm"),
                "static", false, "migration-safe", false, "deprecated", false)), run("query-cpu-definitions", Map.of()));
    }

    @Test
    void typesAreListedAsQemuListsThem() {
        assertEquals(List.of(Map.of("name", "virtio-blk-device", "parent", "virtio-device"),
                Map.of("name", "memory-backend-memfd", "parent", "memory-backend")), run("qom-list-types", Map.of()), "abstract ones left out");
        assertEquals(List.of(Map.of("name", "virtio-device", "abstract", true, "parent", "device"),
                Map.of("name", "virtio-blk-device", "parent", "virtio-device")),
                run("qom-list-types", Map.of("implements", "virtio-device", "abstract", true)));
    }

    @Test
    void propertiesIncludeTheAncestorsAndUnknownTypesGetQemusErrors() {
        assertEquals(List.of(Map.of("name", "hugetlb", "type", "bool"),
                Map.of("name", "size", "type", "int", "description", "Size of the memory region (ex: 500M)")),
                run("qom-list-properties", Map.of("typename", "memory-backend-memfd")));
        assertEquals(List.of(Map.of("name", "drive", "type", "str")), run("device-list-properties", Map.of("typename", "virtio-blk-device")));
        CommandError e = error("device-list-properties", Map.of("typename", "virtio-blk-pci"));
        assertEquals(ErrorClass.DeviceNotFound, e.errorClass());
        assertEquals("Device 'virtio-blk-pci' not found", e.desc());
        assertEquals("Device 'memory-backend-memfd' not found", error("device-list-properties", Map.of("typename", "memory-backend-memfd")).desc(),
                "not a device");
        assertEquals("Parameter 'typename' expects a non-abstract device type",
                error("device-list-properties", Map.of("typename", "virtio-device")).desc());
        CommandError klass = error("qom-list-properties", Map.of("typename", "nosuch"));
        assertEquals(ErrorClass.DeviceNotFound, klass.errorClass());
        assertEquals("Class 'nosuch' not found", klass.desc());
    }

    @Test
    void commandLineOptions() {
        assertEquals(List.of(Map.of("option", "msg", "parameters", List.of(Map.of("name", "timestamp", "type", "boolean")))),
                run("query-command-line-options", Map.of("option", "msg")));
        assertEquals(1, ((List<?>) run("query-command-line-options", Map.of())).size());
        assertEquals("invalid option name: smp", error("query-command-line-options", Map.of("option", "smp")).desc());
    }
}
