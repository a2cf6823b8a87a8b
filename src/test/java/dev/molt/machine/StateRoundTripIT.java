package dev.molt.machine;

import dev.molt.chardev.FileChardev;
import dev.molt.kvm.Kvm;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Captures a running guest's complete state, throws the KVM VM away, builds a new one from the state
 * over the same RAM, and checks that the guest carries on: the heart of migration and live update.
 */
@Tag("kvm")
class StateRoundTripIT {
    @org.junit.jupiter.api.BeforeEach
    void host() {
        dev.molt.testsupport.KvmAvailability.assumeUsable();
    }

    private static Path guest() throws Exception {
        Path root = Path.of(System.getProperty("molt.projectDir", ".")).toAbsolutePath();
        Process p = new ProcessBuilder(root.resolve("guest/build.sh").toString()).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        assertEquals(0, p.waitFor());
        return root.resolve("guest/build/molt-guest.elf");
    }

    /** The log's complete lines: the last one may still be being written by the guest. */
    private static List<String> lines(Path log) throws Exception {
        String text = Files.readString(log, StandardCharsets.ISO_8859_1);
        int end = text.lastIndexOf('\n');
        if (end < 0) return List.of();
        return text.substring(0, end).lines().map(l -> l.replace("\r", "")).toList();
    }

    /** Highest tick number per vCPU, asserting all are ok and consecutive. */
    private static Map<Integer, Long> ticks(Path log) throws Exception {
        Map<Integer, Long> last = new HashMap<>();
        for (String l : lines(log)) {
            if (!l.startsWith("tick ")) continue;
            String[] f = l.split(" ");
            int cpu = Integer.parseInt(f[1]);
            long n = Long.parseLong(f[2]);
            assertEquals("ok", f[4], l);
            Long prev = last.get(cpu);
            if (prev != null) assertEquals(prev + 1, n, "consecutive ticks on vCPU " + cpu);
            last.put(cpu, n);
        }
        return last;
    }

    private static void await(java.util.concurrent.Callable<Boolean> c) throws Exception {
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (!c.call()) {
            if (System.nanoTime() > deadline) throw new AssertionError("timed out");
            Thread.sleep(50);
        }
    }

    @ParameterizedTest(name = "{0} vCPU(s)")
    @ValueSource(ints = {1, 2})
    void guestContinuesAfterRestoreIntoANewVm(int cpus, @TempDir Path dir) throws Exception {
        Path log = dir.resolve("console.log");
        MachineConfig cfg = new MachineConfig("rt", cpus, 256L << 20, null, true, guest(), null, "mem=32M",
                false, false, Map.of());
        try (Kvm kvm = Kvm.open(); FileChardev console = new FileChardev("serial0", log, false);
             Machine m = Machine.create(cfg, new KvmAccelerator(kvm), console)) {
            m.boot();
            Thread.ofPlatform().daemon(true).start(m::runUntilExit);
            await(() -> ticks(log).size() == cpus && ticks(log).values().stream().allMatch(n -> n > 10));
            for (int round = 0; round < 3; round++) {
                m.pause();
                VmState state = m.captureState(true);
                assertEquals(cpus, ((AccelState.Kvm) state.accel()).vcpus().size());
                Map<Integer, Long> before = ticks(log);
                m.loadState(state);
                assertEquals(RunState.RUNNING, m.state());
                await(() -> {
                    Map<Integer, Long> now = ticks(log);
                    return before.keySet().stream().allMatch(c -> now.get(c) > before.get(c) + 20);
                });
            }
            assertTrue(lines(log).stream().noneMatch(l -> l.contains("CORRUPT") || l.startsWith("EXCEPTION")));
        }
    }
}
