package dev.molt.cli;

import dev.molt.chardev.ChardevConfig;
import dev.molt.memory.MemoryBackendConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The invariants the config records keep on their own, for configs built without the parser. */
class ConfigRecordsTest {
    private static final long GIB = 1L << 30;

    private static String rejected(Executable build) {
        return assertThrows(IllegalArgumentException.class, build).getMessage();
    }

    private static VmConfig config(VmConfig.Machine machine, VmConfig.Memory memory, VmConfig.Smp smp,
                                   List<MemoryBackendConfig> backends, Map<String, ChardevConfig> chardevs, List<String> serials) {
        return new VmConfig(machine, memory, smp, VmConfig.CpuModel.HOST, Map.of(), backends,
                new VmConfig.Boot(Path.of("k"), "", Optional.empty()), chardevs, serials, false, false, Optional.empty(), false,
                Optional.empty(), false, false, false, List.of(), List.of());
    }

    private static final VmConfig.Machine PLAIN = new VmConfig.Machine(VmConfig.MachineType.MICROVM, false, Optional.empty());
    private static final VmConfig.Memory ONE_GIB = new VmConfig.Memory(GIB, GIB, 0);

    @Test
    void memoryBackends() {
        assertEquals("memory-backend-ram", new MemoryBackendConfig.Ram("r", 1, false, false).qomType());
        assertEquals("memory-backend-memfd", new MemoryBackendConfig.Memfd("m", 1, true, false, false, OptionalLong.empty()).qomType());
        assertEquals("memory-backend-file", new MemoryBackendConfig.File("f", 1, false, false, Path.of("/x")).qomType());
        assertEquals("can't create backend with size 0", rejected(() -> new MemoryBackendConfig.Ram("r", 0, false, false)));
        assertEquals("backend size must not be negative", rejected(() -> new MemoryBackendConfig.Ram("r", -1, false, false)));
        assertEquals("Parameter 'id' is missing", rejected(() -> new MemoryBackendConfig.Ram("", 1, false, false)));
        assertEquals("mem-path property not set", rejected(() -> new MemoryBackendConfig.File("f", 1, false, false, Path.of(""))));
        assertEquals("mem-path property not set", rejected(() -> new MemoryBackendConfig.File("f", 1, false, false, null)));
        assertEquals("property 'hugetlbsize' must be a power of two",
                rejected(() -> new MemoryBackendConfig.Memfd("m", GIB, true, false, true, OptionalLong.of(0))));
        assertEquals("property 'hugetlbsize' requires 'hugetlb=on'",
                rejected(() -> new MemoryBackendConfig.Memfd("m", GIB, true, false, false, OptionalLong.of(2 << 20))));
    }

    @Test
    void chardevs() {
        assertEquals("chardev: file: no filename given", rejected(() -> new ChardevConfig.File("f", Path.of(""), false)));
        assertEquals("chardev: socket: no path given", rejected(() -> new ChardevConfig.UnixSocket("s", Path.of(""), true, true)));
        assertEquals("'wait' option is incompatible with socket in client connect mode",
                rejected(() -> new ChardevConfig.UnixSocket("s", Path.of("/s"), false, true)));
        assertEquals("Parameter 'id' is missing", rejected(() -> new ChardevConfig.Null("")));
    }

    @Test
    void memory() {
        assertEquals("RAM size must be positive", rejected(() -> new VmConfig.Memory(0, 0, 0)));
        assertEquals("invalid value of maxmem: maximum memory size (0x3fffffff) must be at least the initial memory size "
                + "(0x40000000)", rejected(() -> new VmConfig.Memory(GIB, GIB - 1, 0)));
        assertEquals("invalid value of maxmem: memory slots were specified but maximum memory size (0x40000000) is equal to "
                + "the initial memory size (0x40000000)", rejected(() -> new VmConfig.Memory(GIB, GIB, 1)));
    }

    @Test
    void smp() {
        assertEquals(new VmConfig.Smp(1, 1, 1, 1, 1), VmConfig.Smp.single());
        assertEquals("Invalid CPU topology: CPU topology parameters must be greater than zero",
                rejected(() -> new VmConfig.Smp(0, 1, 1, 1, 1)));
        assertEquals("Invalid CPU topology: product of the hierarchy must match maxcpus: sockets (2) * cores (1) * threads (1) "
                + "!= maxcpus (1)", rejected(() -> new VmConfig.Smp(1, 1, 2, 1, 1)));
        assertEquals("Invalid CPU topology: maxcpus must be equal to or greater than smp: sockets (1) * cores (1) * threads (1) "
                + "== maxcpus (1) < smp_cpus (2)", rejected(() -> new VmConfig.Smp(2, 1, 1, 1, 1)));
    }

    @Test
    void vmConfigCrossChecks() {
        var m0 = new MemoryBackendConfig.Memfd("m0", GIB, true, false, false, OptionalLong.empty());
        var withM0 = new VmConfig.Machine(VmConfig.MachineType.MICROVM, false, Optional.of("m0"));
        assertEquals(Optional.of(m0), config(withM0, ONE_GIB, VmConfig.Smp.single(), List.of(m0), Map.of(), List.of()).ramBackend());
        assertEquals("Memory backend 'm0' not found",
                rejected(() -> config(withM0, ONE_GIB, VmConfig.Smp.single(), List.of(), Map.of(), List.of())));
        assertEquals("Machine memory size does not match the size of the memory backend",
                rejected(() -> config(withM0, new VmConfig.Memory(2 * GIB, 2 * GIB, 0), VmConfig.Smp.single(), List.of(m0), Map.of(), List.of())));
        assertEquals("Duplicate ID 'm0' for object",
                rejected(() -> config(PLAIN, ONE_GIB, VmConfig.Smp.single(), List.of(m0, m0), Map.of(), List.of())));
        assertEquals("Invalid SMP CPUs 256. The max CPUs supported by machine 'microvm' is 255",
                rejected(() -> config(PLAIN, ONE_GIB, new VmConfig.Smp(1, 256, 1, 256, 1), List.of(), Map.of(), List.of())));
    }

    @Test
    void vmConfigChardevChecks() {
        Map<String, ChardevConfig> twoStdio = new LinkedHashMap<>();
        twoStdio.put("a", new ChardevConfig.Stdio("a", true));
        twoStdio.put("b", new ChardevConfig.Stdio("b", true));
        assertEquals("cannot use stdio by multiple character devices",
                rejected(() -> config(PLAIN, ONE_GIB, VmConfig.Smp.single(), List.of(), twoStdio, List.of())));
        assertEquals("serial port on unknown chardev 'x'",
                rejected(() -> config(PLAIN, ONE_GIB, VmConfig.Smp.single(), List.of(), Map.of(), List.of("x"))));
        Map<String, ChardevConfig> n = Map.of("n", new ChardevConfig.Null("n"));
        assertEquals("a chardev can back only one serial port",
                rejected(() -> config(PLAIN, ONE_GIB, VmConfig.Smp.single(), List.of(), n, List.of("n", "n"))));
        assertEquals("chardev 'n' filed under 'm'",
                rejected(() -> config(PLAIN, ONE_GIB, VmConfig.Smp.single(), List.of(), Map.of("m", new ChardevConfig.Null("n")), List.of())));
    }

    @Test
    void vmConfigCopiesItsCollections() {
        var chardevs = new HashMap<String, ChardevConfig>(Map.of("n", new ChardevConfig.Null("n")));
        VmConfig c = config(PLAIN, ONE_GIB, VmConfig.Smp.single(), List.of(), chardevs, List.of("n"));
        chardevs.clear();
        assertEquals(List.of(new ChardevConfig.Null("n")), c.serialChardevs());
        assertThrows(UnsupportedOperationException.class, () -> c.chardevs().clear());
    }

    @Test
    void helpTexts() {
        assertEquals("Supported machines are:\nmicrovm              minimal x86 machine: no PCI, no firmware, direct kernel boot "
                + "(default)\nnone                 empty machine\n", HelpText.machines());
        assertEquals("Available CPUs:\n  host     the host's CPU, with every feature KVM can give a guest\n"
                + "  max      the most capable CPU available: under KVM, the same as host\n", HelpText.cpus());
        assertEquals("molt version 0.1.0\n", HelpText.version("0.1.0"));
    }
}
