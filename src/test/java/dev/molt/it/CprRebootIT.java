package dev.molt.it;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** cpr-reboot: stop, save everything to a file, quit; a later molt resumes the guest where it was. */
@Tag("kvm")
class CprRebootIT {
    private static final Duration T = Duration.ofSeconds(90);

    @BeforeEach
    void host() {
        KvmHost.require();
    }

    @Test
    void saveQuitAndResumeLater(@TempDir Path dir) throws Exception {
        Path state = dir.resolve("vm.state");
        MigrationIT.Vm src = MigrationIT.Vm.start(dir, "src", 2, "mem=32M");
        try (QmpClient s = src.qmp()) {
            src.awaitTicks(2, 20);
            assertTrue(s.execute("migrate-set-parameters", Map.of("mode", "cpr-reboot")).containsKey("return"));
            Map<String, Object> refused = s.execute("migrate", Map.of("uri", "unix:" + dir.resolve("x.sock")));
            assertTrue(String.valueOf(refused.get("error")).contains("needs a file: or exec: migration URI"), refused.toString());
            s.execute("migrate", Map.of("uri", "file:" + state));
            assertEquals("completed", MigrationIT.awaitStatus(s, "completed", "failed").get("status"));
            assertEquals("postmigrate", s.returned("query-status").get("status"));
            s.execute("quit");
            assertEquals(0, src.process().awaitExit(T));
        }
        try (MigrationIT.Vm dst = MigrationIT.Vm.start(dir, "dst", 2, "mem=32M", "-incoming", "defer"); QmpClient d = dst.qmp()) {
            assertEquals("inmigrate", d.returned("query-status").get("status"));
            d.execute("migrate-set-parameters", Map.of("mode", "cpr-reboot"));
            assertTrue(d.execute("migrate-incoming", Map.of("uri", "file:" + state)).containsKey("return"));
            MigrationIT.assertContinues(src, dst, 2);
            assertEquals("running", d.returned("query-status").get("status"));
        } finally {
            src.close();
        }
    }
}
