package dev.molt.it;

import dev.molt.monitor.Json;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * molt driven by clients written for QEMU, not here: QEMU's own Python QMP library
 * ({@code python/qemu/qmp} of QEMU 10.2.2's source) runs a live migration and a cpr-exec update and
 * checks every query's answer against molt's {@code query-qmp-schema}, and QEMU's {@code qmp-shell}
 * talks to molt. The library is pure Python (asyncio) and needs nothing beyond python3. Skipped
 * when QEMU's source tree is not here ({@code MOLT_QEMU_SRC}, or where build-qemu.sh unpacks it).
 */
class QtestQemuQmpIT {
    private static Path qemuPython;

    @BeforeAll
    static void findQemuPython() {
        String env = System.getenv("MOLT_QEMU_SRC");
        Path src = env != null ? Path.of(env) : Path.of(System.getProperty("user.home"), ".cache/molt-qemu/10.2.2/src");
        qemuPython = src.resolve("python");
        assumeTrue(Files.isRegularFile(qemuPython.resolve("qemu/qmp/qmp_client.py")),
                "QEMU's source tree (python/qemu/qmp) is not here; set MOLT_QEMU_SRC or run build-qemu.sh: " + src);
    }

    /** Runs QEMU's library through the driver script; its last line of output is JSON. */
    @SuppressWarnings("unchecked")
    private static Map<String, Object> drive(String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("python3", Project.root().resolve("src/test/python/drive_with_qemu_qmp.py").toString()));
        cmd.addAll(List.of(args));
        String out = python(cmd, "");
        String[] lines = out.strip().split("\n");
        return (Map<String, Object>) Json.parse(lines[lines.length - 1]);
    }

    private static String python(List<String> cmd, String stdin) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().put("PYTHONPATH", qemuPython.toString());
        Process p = pb.start();
        p.getOutputStream().write(stdin.getBytes(StandardCharsets.UTF_8));
        p.getOutputStream().close();
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "python hung");
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.exitValue(), out);
        return out;
    }

    @Test
    @SuppressWarnings("unchecked")
    void everyQueryAnswerFitsTheSchemaAndFdSetsWork(@TempDir Path dir) throws Exception {
        try (QtestVm vm = QtestVm.start(dir, "64M", "-name", "vm1")) {
            Map<String, Object> r = drive("schema", vm.qmpSocket().toString());
            assertEquals(List.of(), r.get("problems"));
            assertEquals(r.get("commands"), r.get("described"), "query-qmp-schema lists exactly the commands molt has");
            assertTrue(((List<String>) r.get("checked")).containsAll(List.of("query-migrate", "query-migrate-capabilities",
                    "query-migrate-parameters", "query-status", "query-memdev", "query-fdsets", "query-qmp-schema")), r.toString());
            assertTrue(((List<String>) r.get("events")).containsAll(List.of("STOP", "RESUME", "SHUTDOWN", "MIGRATION")));
            Map<String, Object> fdsets = (Map<String, Object>) r.get("fdsets");
            Map<String, Object> added = (Map<String, Object>) fdsets.get("added");
            assertEquals(0L, added.get("fdset-id"));
            assertEquals(List.of(Json.object("fdset-id", 0L, "fds", List.of(Json.object("fd", added.get("fd"), "opaque", "from qemu.qmp")))),
                    fdsets.get("listed"));
            assertEquals(List.of(), fdsets.get("after-remove"));
            assertEquals(Json.object("class", "GenericError", "desc", "File descriptor named 'fdset-id:0' not found"), fdsets.get("remove-again"));
        }
    }

    @Test
    void qmpShellListsMoltsCommands(@TempDir Path dir) throws Exception {
        try (QtestVm vm = QtestVm.start(dir, "64M")) {
            String out = python(List.of("python3", "-m", "qemu.qmp.qmp_shell", vm.qmpSocket().toString()),
                    "query-commands\nquery-qmp-schema\nquery-fdsets\n");
            assertTrue(out.contains("{\"name\": \"query-qmp-schema\"}"), out);
            assertTrue(out.contains("\"meta-type\": \"command\", \"arg-type\""), out.substring(0, Math.min(out.length(), 2000)));
            assertTrue(out.contains("{\"return\": []}"), "query-fdsets: " + out);
        }
    }

    @Test
    @SuppressWarnings("unchecked")
    void qemuQmpRunsALiveMigration(@TempDir Path dir) throws Exception {
        String uri = "unix:" + dir.resolve("mig.sock");
        try (QtestVm src = QtestVm.start(dir, QtestVm.named(dir, "vm", "64M"));
             QtestVm dst = QtestVm.start(dir, QtestVm.named(dir, "dst", "64M", "-incoming", uri))) {
            src.writePattern(3, 1 << 20, 1 << 20);
            Map<String, Object> r = drive("migrate", src.qmpSocket().toString(), dst.qmpSocket().toString(), uri);
            assertEquals("completed", r.get("status"), r.toString());
            assertEquals("postmigrate", r.get("source"));
            assertEquals("running", r.get("destination"));
            List<String> events = (List<String>) r.get("events");
            assertEquals("completed", events.getLast(), events.toString());
            assertTrue(events.contains("active"), events.toString());
            assertEquals(-1, dst.firstBadPage(3, 1 << 20, 1 << 20));
        }
    }

    @Test
    void qemuQmpRunsACprExecUpdate(@TempDir Path dir) throws Exception {
        List<String> args = QtestVm.args(dir, "64M");
        try (QtestVm vm = QtestVm.start(dir, args)) {
            vm.writePattern(5, 1 << 20, 1 << 20);
            long pid = vm.process.pid();
            Path state = dir.resolve("vm.state");
            Map<String, Object> r = drive("cpr-exec", vm.qmpSocket().toString(), "file:" + state, Json.write(CprExecIT.newMolt(args, state)));
            assertEquals(Json.object("mode-set", "cpr-exec", "status", "completed", "run-state", "running", "downtime", r.get("downtime")), r);
            vm.reconnect();
            assertEquals(pid, vm.process.pid(), "same process");
            assertEquals(-1, vm.firstBadPage(5, 1 << 20, 1 << 20), "guest RAM kept");
        }
    }
}
