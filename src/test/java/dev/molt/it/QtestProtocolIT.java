package dev.molt.it;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * One qtest script, sent by the same client to QEMU and to molt: every reply must be the same, so
 * QEMU's own qtest client (libqtest) can drive molt. Debian's QEMU 7.2 serves qtest beside TCG
 * (it has no qtest accelerator), held with -S so that no guest code touches memory; a QEMU 10.2
 * built by ../shared/tools/build-qemu.sh, when there, is compared under -accel qtest too, clock
 * commands included.
 */
@Tag("qtest")
class QtestProtocolIT {
    static List<String> script(String resource) throws Exception {
        try (InputStream in = QtestProtocolIT.class.getResourceAsStream(resource)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8).lines().toList();
        }
    }

    /** Starts {@code command} with -qtest on a socket the test listens on, sends the script, returns request and reply per line. */
    static List<String> run(Path dir, String name, List<String> command, List<String> script) throws Exception {
        List<String> cmd = new ArrayList<>(command);
        Path sock = dir.resolve(name + ".sock");
        cmd.addAll(List.of("-qtest", "unix:" + sock, "-qtest-log", dir.resolve(name + ".log").toString(), "-display", "none"));
        try (QtestClient.Listener listener = new QtestClient.Listener(sock)) {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(dir.resolve(name + ".out").toFile()).start();
            try (QtestClient c = listener.accept(QtestVm.T)) {
                List<String> out = new ArrayList<>();
                for (String line : script) out.add(line + " -> " + c.request(line));
                return out;
            } finally {
                p.destroyForcibly();
                p.waitFor();
            }
        }
    }

    @Test
    void sameRepliesAsDebiansQemu(@TempDir Path dir) throws Exception {
        List<String> script = script("/qtest-compat-script.txt");
        List<String> common = List.of("-machine", "microvm", "-m", "128M", "-nodefaults", "-serial", "null", "-S");
        List<String> qemu = new ArrayList<>(List.of("qemu-system-x86_64", "-accel", "tcg"));
        qemu.addAll(common);
        List<String> molt = new ArrayList<>(List.of(Project.launcher().toString(), "-accel", "qtest"));
        molt.addAll(common);
        List<String> q = run(dir, "qemu", qemu, script);
        List<String> m = run(dir, "molt", molt, script);
        assertEquals(String.join("\n", q), String.join("\n", m));
        System.out.println("[molt-it] qtest: " + script.size() + " qtest replies identical to QEMU 7.2's");
    }

    /** QEMU 10.2 with qtest, if built here: {@code MOLT_QEMU}, or where build-qemu.sh puts it. */
    static Path qemu102() {
        String env = System.getenv("MOLT_QEMU");
        if (env != null) return Path.of(env);
        return Path.of(System.getProperty("user.home"), ".cache/molt-qemu/10.2.2/build/qemu-system-x86_64");
    }

    @Test
    void sameRepliesAsQemu102UnderQtestClockIncluded(@TempDir Path dir) throws Exception {
        Path qemu = qemu102();
        assumeTrue(Files.isExecutable(qemu), "QEMU 10.2 is not built here (../shared/tools/build-qemu.sh builds it): " + qemu);
        List<String> script = new ArrayList<>(script("/qtest-compat-script.txt"));
        // Not a bare clock_step: it advances to the next timer's deadline, and QEMU's microvm has timers
        // (RTC, PIT) where molt has none, so there the replies differ by design.
        script.addAll(List.of("clock_step 100", "clock_step 50", "clock_step 0", "clock_step -5", "clock_set 1000",
                "clock_set 10", "clock_set 1000"));
        // build-qemu.sh links Debian's ROMs into firmware/ at its end; Debian's qemu-system-data has them too.
        Path firmware = qemu.getParent().getParent().resolve("firmware");
        if (!Files.isDirectory(firmware)) firmware = Path.of("/usr/share/qemu");
        List<String> common = List.of("-machine", "microvm", "-m", "128M", "-nodefaults", "-serial", "null");
        List<String> qemuCommand = new ArrayList<>(List.of(qemu.toString(), "-L", firmware.toString(), "-accel", "qtest"));
        qemuCommand.addAll(common);
        List<String> moltCommand = new ArrayList<>(List.of(Project.launcher().toString(), "-accel", "qtest"));
        moltCommand.addAll(common);
        List<String> q = run(dir, "qemu", qemuCommand, script);
        List<String> m = run(dir, "molt", moltCommand, script);
        assertEquals(String.join("\n", q), String.join("\n", m));
        System.out.println("[molt-it] qtest: " + script.size() + " qtest replies identical to QEMU 10.2's under -accel qtest");
    }
}
