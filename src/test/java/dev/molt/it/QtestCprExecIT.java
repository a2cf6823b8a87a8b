package dev.molt.it;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * cpr-exec under -accel qtest, on any host: the live update's whole VMM side (RAM kept by fd, the
 * state file, the exec, the restore, monitor sockets that survive) with guest RAM checked byte for
 * byte through qtest instead of by a running guest.
 */
@Tag("qtest")
class QtestCprExecIT {
    private static final long BASE = 1L << 20;
    private static final int LEN = 8 << 20;

    @Test
    void samePidRamByteForByteAndClockCarriedOn(@TempDir Path dir) throws Exception {
        List<String> args = QtestVm.args(dir, "256M");
        try (QtestVm vm = QtestVm.start(dir, args)) {
            vm.writePattern(7, BASE, LEN);
            assertEquals("1000000", vm.qtest.ok("clock_step 1000000"));
            long pid = vm.process.pid();
            Path state = dir.resolve("vm.state");
            Map<String, Object> r = CprExecIT.update(dir, CprExecIT.newMolt(args, state), "file:" + state);
            assertTrue(r.containsKey("return"), r.toString());
            Map<String, Object> done = CprExecIT.awaitCompleted(dir);
            vm.reconnect();
            assertEquals(pid, vm.process.pid(), "same process");
            assertTrue(vm.process.alive());
            assertEquals(-1, vm.firstBadPage(7, BASE, LEN), "guest RAM byte for byte");
            assertEquals("1000001", vm.qtest.ok("clock_step 1"), "the virtual clock went on from where it was");
            assertTrue(Files.size(state) < 64 * 1024, "no RAM in the state file: " + Files.size(state));
            System.out.printf("[molt-it] qtest: cpr-exec kept PID %d, 8 MiB of RAM byte for byte, the clock; downtime %s ms%n",
                    pid, done.get("downtime"));
        }
    }
}
