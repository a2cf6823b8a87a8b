package dev.molt.it;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static dev.molt.it.QtestMigrationIT.awaitMigration;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Issue 13 item 6: cpr-exec and cpr-reboot take an {@code exec:} pipeline for the device state, as
 * QEMU's CPR documentation does (to compress it, say), not only {@code file:}. The state is stored
 * gzip'd and read back through the reverse pipeline: by the new molt, by a later molt after a
 * reboot, and by the previous molt when the new one fails.
 */
@Tag("qtest")
class QtestCprPipelineIT {
    private static final long BASE = 1L << 20;
    private static final int LEN = 4 << 20;

    private static String gzipTo(Path file) {
        return "exec:gzip -c > " + file;
    }

    private static String gunzipFrom(Path file) {
        return "exec:gzip -dc < " + file;
    }

    private static void assertGzip(Path file) throws Exception {
        try (InputStream in = Files.newInputStream(file)) {
            byte[] magic = in.readNBytes(2);
            assertEquals(List.of(0x1f, 0x8b), List.of(magic[0] & 0xff, magic[1] & 0xff), "the pipeline's output: gzip");
        }
    }

    /** The new molt's command line: bin/molt, {@code args}, and {@code -incoming} through the reverse pipeline. */
    private static List<String> newMolt(List<String> args, Path state) {
        List<String> next = new ArrayList<>(List.of(Project.launcher().toString()));
        next.addAll(args);
        next.addAll(List.of("-incoming", gunzipFrom(state)));
        return next;
    }

    /**
     * A cpr-exec of a 64M qtest machine through gzip to molt {@code newArgs}; afterwards the guest
     * runs in the same process with its RAM byte for byte (under the new molt or, if that one failed,
     * the previous one again). Returns the machine's stderr.
     */
    private static String updateThroughGzip(Path dir, List<String> newArgs, int seed) throws Exception {
        List<String> args = QtestVm.args(dir, "64M");
        Path state = dir.resolve("vm.state.gz");
        try (QtestVm vm = QtestVm.start(dir, args)) {
            vm.writePattern(seed, BASE, LEN);
            long pid = vm.process.pid();
            // Without a way to read the state back, refused before the guest stops.
            Map<String, Object> refused = CprExecIT.update(dir, newMolt(newArgs, state).subList(0, newArgs.size() + 1), gzipTo(state));
            assertEquals("cpr-exec with an exec: migration URI needs -incoming exec:... (or file:...) in cpr-exec-command, to read "
                    + "the state back (also when going back to this molt)", ((Map<?, ?>) refused.get("error")).get("desc"));
            Map<String, Object> r = CprExecIT.update(dir, newMolt(newArgs, state), gzipTo(state));
            assertTrue(r.containsKey("return"), r.toString());
            CprExecIT.awaitCompleted(dir);
            vm.reconnect();
            assertEquals(pid, vm.process.pid(), "same process");
            assertEquals(-1, vm.firstBadPage(seed, BASE, LEN), "guest RAM byte for byte");
            assertGzip(state);
            return vm.process.stderr();
        }
    }

    @Test
    void cprExecThroughACompressingPipelineKeepsThePidAndRam(@TempDir Path dir) throws Exception {
        String stderr = updateThroughGzip(dir, QtestVm.args(dir, "64M"), 11);
        assertTrue(!stderr.contains("going back"), stderr);
    }

    /** A different RAM size: the new molt refuses the inherited RAM after the exec, and the previous one reads the state back. */
    @Test
    void aFailedNewMoltGivesTheGuestBackThroughTheReversePipeline(@TempDir Path dir) throws Exception {
        String stderr = updateThroughGzip(dir, QtestVm.args(dir, "128M"), 12);
        assertTrue(stderr.contains("going back to the previous molt"), stderr);
    }

    @Test
    void cprRebootSavesThroughAPipelineAndALaterMoltRestoresThroughTheReverse(@TempDir Path dir) throws Exception {
        Path state = dir.resolve("vm.state.gz");
        try (QtestVm before = QtestVm.start(dir, QtestVm.named(dir, "before", "64M")); QmpClient q = before.qmp()) {
            before.writePattern(13, BASE, LEN);
            assertTrue(q.execute("migrate-set-parameters", Map.of("mode", "cpr-reboot")).containsKey("return"));
            Map<String, Object> r = q.execute("migrate", Map.of("uri", gzipTo(state)));
            assertTrue(r.containsKey("return"), r.toString());
            awaitMigration(q, "completed");
        }
        assertGzip(state);
        try (QtestVm after = QtestVm.start(dir, QtestVm.named(dir, "after", "64M", "-incoming", gunzipFrom(state)));
             QmpClient q = after.qmp()) {
            awaitMigration(q, "completed");
            assertEquals(-1, after.firstBadPage(13, BASE, LEN));
        }
    }
}
