package dev.molt;

import dev.molt.cli.CommandLineParser;
import dev.molt.cli.UsageException;
import dev.molt.monitor.Introspection;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What molt tells a management tool it has is what its command line accepts: every machine, CPU
 * feature, memory backend and device the introspection lists parses, so a tool that believes the
 * probe is never refused for it.
 */
class MoltIntrospectionTest {
    private final Introspection introspection = MoltIntrospection.of(true);

    private static String errorOf(String... args) {
        var all = new ArrayList<>(List.of(args));
        all.addAll(List.of("-kernel", "vmlinux"));
        try {
            CommandLineParser.parse(all.toArray(String[]::new), "1.2.3");
            return "";
        } catch (UsageException e) {
            return e.userMessage();
        }
    }

    @Test
    void everyMachineAndCpuModelListedIsAccepted() {
        for (Introspection.Machine m : introspection.machines()) assertEquals("", errorOf("-machine", m.name()), m.name());
        for (Introspection.CpuModel c : introspection.cpuModels()) {
            assertEquals("", errorOf("-cpu", c.name()), c.name());
            assertTrue(introspection.type(c.typename()).isPresent(), c.typename());
        }
        Introspection.QomType cpu = introspection.type("host-x86_64-cpu").orElseThrow();
        for (Introspection.Property feature : introspection.allProperties(cpu)) {
            assertEquals("", errorOf("-cpu", "host,+" + feature.name()), feature.name());
        }
        assertEquals(List.of(), introspection.cpuModels().getFirst().unavailable());
        assertEquals(List.of("kvm"), MoltIntrospection.of(false).cpuModels().getFirst().unavailable(), "molt has no CPU emulation");
    }

    @Test
    void everyMemoryBackendPropertyListedIsAccepted() {
        for (Introspection.QomType t : introspection.types()) {
            if (t.isAbstract() || !introspection.isA(t, "memory-backend")) continue;
            for (Introspection.Property p : introspection.allProperties(t)) {
                String value = switch (p.type()) {
                    case "bool" -> "off";
                    case "int" -> "2M";
                    default -> "/dev/shm/m";
                };
                // What the type needs beside: hugetlbsize is refused without hugetlb=on, a file backend without mem-path.
                String needs = p.name().equals("hugetlbsize") ? ",hugetlb=on" : t.name().equals("memory-backend-file") ? ",mem-path=/dev/shm/m" : "";
                String object = t.name() + ",id=m0," + p.name() + "=" + value + needs + (p.name().equals("size") ? "" : ",size=2M");
                assertEquals("", errorOf("-object", object), object);
            }
        }
    }

    @Test
    void everyDeviceListedIsOneMoltHasAndNoOtherIs() {
        int devices = 0;
        for (Introspection.QomType t : introspection.types()) {
            if (t.isAbstract() || !t.device() || introspection.isA(t, "cpu")) continue;
            devices++;
            // Without its backend: refused for that, not as a device molt does not support.
            String error = errorOf("-device", t.name());
            assertFalse(error.contains("is not supported"), error);
            assertTrue(error.contains("property not set"), error);
        }
        assertEquals(2, devices);
        assertTrue(errorOf("-device", "virtio-rng-device").contains("is not supported"));
    }
}
