package dev.molt.it;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Boots the test guest under real KVM and checks that every vCPU keeps ticking with intact memory. */
@Tag("kvm")
class BootIT {
    @BeforeEach
    void host() {
        KvmHost.require();
    }

    @ParameterizedTest(name = "{0} vCPU(s), -m {1}, test region {2}, {3}")
    @CsvSource({
            "1, 256M, 64M,  implicit RAM",
            "2, 1G,   256M, implicit RAM",
            "2, 1G,   256M, aux-ram-share memfd",
            "2, 1G,   256M, memory-backend-memfd",
            "2, 4G,   3584M, implicit RAM (RAM above 4 GiB)",
            "1, 64G,  64M,  aux-ram-share memfd (64 GiB, lazily allocated)",
    })
    void guestTicksOnEveryVcpu(int cpus, String ram, String region, String backend) {
        List<String> args = new java.util.ArrayList<>(List.of("-smp", String.valueOf(cpus), "-m", ram,
                "-kernel", Project.testGuest().toString(), "-append", "mem=" + region, "-nographic"));
        if (backend.startsWith("aux")) {
            args.addAll(List.of("-machine", "microvm,aux-ram-share=on"));
        } else if (backend.startsWith("memory-backend")) {
            args.addAll(List.of("-object", "memory-backend-memfd,id=m0,size=" + ram + ",share=on",
                    "-machine", "memory-backend=m0"));
        }
        try (MoltProcess molt = MoltProcess.start(args.toArray(String[]::new))) {
            int ready = molt.awaitLine(l -> l.startsWith("READY"), Duration.ofSeconds(90));
            assertTrue(molt.lines().get(ready).contains("cpus=" + cpus), molt.lines().get(ready));
            // Every vCPU must report at least 20 more ticks (about 0.2 s of guest time).
            Map<Integer, Tick> first = new HashMap<>();
            Map<Integer, Tick> last = new HashMap<>();
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (System.nanoTime() < deadline) {
                first.clear();
                last.clear();
                for (Tick t : Tick.all(molt.lines().subList(ready, molt.lines().size()))) {
                    assertTrue(t.ok(), "guest reported corruption: " + t + "\n" + molt.tail(10));
                    Tick prev = last.get(t.cpu());
                    if (prev != null) {
                        assertEquals(prev.n() + 1, t.n(), "tick numbers must be consecutive on vCPU " + t.cpu());
                        assertTrue(t.guestNs() > prev.guestNs(), "guest time must advance on vCPU " + t.cpu());
                    }
                    first.putIfAbsent(t.cpu(), t);
                    last.put(t.cpu(), t);
                }
                boolean enough = last.size() == cpus;
                for (int c = 0; c < cpus && enough; c++) enough = last.get(c).n() - first.get(c).n() >= 20;
                if (enough) break;
                sleep(100);
            }
            assertEquals(cpus, last.size(), "ticks from every vCPU\n" + molt.tail(20));
            for (int c = 0; c < cpus; c++) {
                assertTrue(last.get(c).n() - first.get(c).n() >= 20, "vCPU " + c + " keeps ticking\n" + molt.tail(20));
            }
            assertTrue(molt.alive());
        }
    }

    static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }
}
