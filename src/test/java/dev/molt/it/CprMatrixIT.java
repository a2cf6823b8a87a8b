package dev.molt.it;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every CPR mode at 1 and 2 vCPUs and 1 to 8 GiB of RAM (above 3 GiB RAM is split around the
 * 32-bit hole): the guest's ticks carry on across the update, consecutive on every vCPU, with
 * memory integrity ok and guest time moving forward.
 */
@Tag("kvm")
class CprMatrixIT {
    private static final Duration T = Duration.ofSeconds(120);

    @BeforeEach
    void host() {
        KvmHost.require();
    }

    static Stream<Arguments> matrix() {
        List<Arguments> all = new ArrayList<>();
        for (String mode : List.of("cpr-exec", "cpr-transfer", "cpr-reboot")) {
            for (int cpus : new int[] {1, 2}) {
                for (String ram : List.of("1G", "2G", "4G", "8G")) all.add(Arguments.of(mode, cpus, ram));
            }
        }
        return all.stream();
    }

    @ParameterizedTest(name = "{0}, {1} vCPU(s), {2}")
    @MethodSource("matrix")
    void guestCarriesOn(String mode, int cpus, String ram, @TempDir Path dir) throws Exception {
        List<String> args = CprExecIT.vmArgs(dir, cpus, ram);
        String detail = switch (mode) {
            case "cpr-exec" -> exec(dir, cpus, args);
            case "cpr-transfer" -> transfer(dir, cpus, ram);
            default -> reboot(dir, cpus, args);
        };
        CprExecIT.assertConsecutive(dir);
        System.out.printf("[CprMatrixIT] %s: %s, %d vCPU(s), %s: ticks consecutive and ok on every vCPU; %s%n",
                KvmHost.FLAVOUR, mode, cpus, ram, detail);
    }

    private static String exec(Path dir, int cpus, List<String> args) throws Exception {
        Path state = dir.resolve("vm.state");
        try (MoltProcess molt = MoltProcess.start(args.toArray(String[]::new))) {
            CprExecIT.awaitMoreTicks(dir, cpus, 10);
            Instant started = ProcessHandle.of(molt.pid()).orElseThrow().info().startInstant().orElseThrow();
            assertTrue(CprExecIT.update(dir, CprExecIT.newMolt(args, state), "file:" + state).containsKey("return"));
            Map<String, Object> done = CprExecIT.awaitCompleted(dir);
            CprExecIT.awaitMoreTicks(dir, cpus, 20);
            assertEquals(started, ProcessHandle.of(molt.pid()).orElseThrow().info().startInstant().orElseThrow());
            assertTrue(Files.size(state) < (1 << 20), "no RAM page in the state file");
            return "same PID " + molt.pid() + ", state file " + Files.size(state) + " bytes, pause " + done.get("downtime") + " ms";
        }
    }

    private static String transfer(Path dir, int cpus, String ram) throws Exception {
        List<String> oldArgs = CprExecIT.vmArgs(dir, cpus, ram);
        List<String> newArgs = new ArrayList<>(oldArgs);
        newArgs.set(newArgs.indexOf("unix:" + dir.resolve("vm.qmp") + ",server=on,wait=off"), "unix:" + dir.resolve("new.qmp") + ",server=on,wait=off");
        newArgs.addAll(List.of("-incoming", "unix:" + dir.resolve("main.sock"),
                "-incoming", "cpr,addr.transport=socket,addr.type=unix,addr.path=" + dir.resolve("cpr.sock")));
        try (MoltProcess old = MoltProcess.start(oldArgs.toArray(String[]::new));
             MoltProcess neu = MoltProcess.start(newArgs.toArray(String[]::new))) {
            CprExecIT.awaitMoreTicks(dir, cpus, 10);
            GuestIT.waitFor(() -> Files.exists(dir.resolve("cpr.sock")), T);
            try (QmpClient q = QmpClient.unix(dir.resolve("vm.qmp"), T).negotiated()) {
                q.execute("migrate-set-parameters", Map.of("mode", "cpr-transfer"));
                Map<String, Object> r = q.execute("migrate", Map.of("channels", List.of(
                        Map.of("channel-type", "main", "addr", Map.of("transport", "socket", "type", "unix", "path", dir.resolve("main.sock").toString())),
                        Map.of("channel-type", "cpr", "addr", Map.of("transport", "socket", "type", "unix", "path", dir.resolve("cpr.sock").toString())))));
                assertTrue(r.containsKey("return"), r.toString());
                Map<String, Object> m = MigrationIT.awaitStatus(q, "completed", "failed");
                assertEquals("completed", m.get("status"), m.toString());
                assertEquals("postmigrate", q.returned("query-status").get("status"));
                CprExecIT.awaitMoreTicks(dir, cpus, 20);
                assertTrue(neu.alive() && old.alive());
                return "old PID " + old.pid() + " postmigrate, new PID " + neu.pid() + " running, pause " + m.get("downtime") + " ms";
            }
        }
    }

    private static String reboot(Path dir, int cpus, List<String> args) throws Exception {
        Path state = dir.resolve("vm.state");
        try (MoltProcess old = MoltProcess.start(args.toArray(String[]::new))) {
            CprExecIT.awaitMoreTicks(dir, cpus, 10);
            try (QmpClient q = QmpClient.unix(dir.resolve("vm.qmp"), T).negotiated()) {
                q.execute("migrate-set-parameters", Map.of("mode", "cpr-reboot"));
                assertTrue(q.execute("migrate", Map.of("uri", "file:" + state)).containsKey("return"));
                assertEquals("completed", MigrationIT.awaitStatus(q, "completed", "failed").get("status"));
                assertEquals("postmigrate", q.returned("query-status").get("status"));
                q.execute("quit");
            }
            assertEquals(0, old.awaitExit(T));
        }
        List<String> later = new ArrayList<>(args);
        later.addAll(List.of("-incoming", "defer"));
        try (MoltProcess neu = MoltProcess.start(later.toArray(String[]::new))) {
            try (QmpClient q = QmpClient.unix(dir.resolve("vm.qmp"), T).negotiated()) {
                q.execute("migrate-set-parameters", Map.of("mode", "cpr-reboot"));
                assertTrue(q.execute("migrate-incoming", Map.of("uri", "file:" + state)).containsKey("return"));
            }
            CprExecIT.awaitCompleted(dir);
            CprExecIT.awaitMoreTicks(dir, cpus, 20);
            return "saved to a " + (Files.size(state) >> 20) + " MiB file, resumed by a new molt";
        }
    }
}
