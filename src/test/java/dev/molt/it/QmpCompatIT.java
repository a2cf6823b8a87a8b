package dev.molt.it;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The same QMP script, sent with socat, to Debian's QEMU and to molt running the same guest: the
 * answers must be the same, apart from what differs between QEMU 7.2 and the 10.2 molt speaks.
 */
class QmpCompatIT {
    /**
     * Under kvm both run the guest under KVM. Under qtest molt runs -accel qtest; Debian's QEMU 7.2
     * has no qtest accelerator, so it runs the guest under TCG: this script's answers do not depend
     * on the accelerator.
     */
    @ParameterizedTest(name = "accel {0}")
    @ValueSource(strings = {"kvm", "qtest"})
    void sameAnswersAsQemu(String accel, @TempDir Path dir) throws Exception {
        if (accel.equals("kvm")) KvmHost.require();
        assertTrue(Files.isExecutable(Path.of("/usr/bin/qemu-system-x86_64")), "qemu-system-x86 is installed by scripts/test.sh");
        String script;
        try (InputStream in = QmpCompatIT.class.getResourceAsStream("/qmp-compat-script.jsonl")) {
            script = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        String guest = Project.testGuest().toString();
        // -arch-capabilities: QEMU 7.2 asserts when KVM refuses its write of MSR 0x10a (kvm_pvm does); the
        // answers compared do not depend on the CPU model.
        List<String> qemuAccel = accel.equals("kvm") ? List.of("-enable-kvm", "-cpu", "host,-arch-capabilities") : List.of("-accel", "tcg");
        List<String> qemuCommand = new ArrayList<>(List.of("qemu-system-x86_64"));
        qemuCommand.addAll(qemuAccel);
        qemuCommand.addAll(List.of("-machine", "microvm", "-m", "256M", "-kernel", guest, "-append", "mem=16M",
                "-display", "none", "-nodefaults"));
        List<String> qemu = run(dir.resolve("qemu.sock"), script, qemuCommand);
        List<String> molt = run(dir.resolve("molt.sock"), script, List.of(Project.launcher().toString(), "-accel", accel,
                "-m", "256M", "-kernel", guest, "-append", "mem=16M", "-display", "none"));
        assertEquals(qemu.size(), molt.size(), "same number of answers\nQEMU: " + qemu + "\nmolt: " + molt);
        for (int i = 1; i < qemu.size(); i++) { // line 0 is the greeting: versions differ by design
            String q = qemu.get(i).replace("\"singlestep\": false, ", ""); // dropped from query-status in QEMU 10
            String m = molt.get(i);
            if (q.contains("Parameter 'uri' is missing")) {
                // QEMU 8.2+ accepts 'channels' as well as 'uri', and says so.
                assertEquals("{\"error\": {\"class\": \"GenericError\", \"desc\": \"need either 'uri' or 'channels' argument\"}}", m);
                continue;
            }
            assertEquals(q, m, "answer " + i);
        }
        System.out.println("[molt-it] " + accel + ": QMP answers compared with " + qemu.getFirst().replaceAll(".*\"package\": \"([^\"]*)\".*", "$1")
                + ": " + (qemu.size() - 1) + " answers identical but for version differences");
    }

    /** Starts the VMM with a QMP socket, sends the script with socat, quits it; returns the answers without timestamps. */
    private static List<String> run(Path sock, String script, List<String> command) throws Exception {
        List<String> cmd = new ArrayList<>(command);
        cmd.addAll(List.of("-qmp", "unix:" + sock + ",server=on,wait=off"));
        Process vmm = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        try {
            GuestIT.waitFor(() -> Files.exists(sock), java.time.Duration.ofSeconds(60));
            String out = socat(sock, script);
            socat(sock, "{\"execute\":\"qmp_capabilities\"}\n{\"execute\":\"quit\"}\n");
            assertTrue(vmm.waitFor(30, TimeUnit.SECONDS), command.getFirst() + " quits");
            List<String> lines = new ArrayList<>();
            for (String l : out.split("\r?\n")) {
                if (!l.isBlank()) lines.add(l.replaceAll("\"timestamp\": \\{[^}]*\\}, ", ""));
            }
            return lines;
        } finally {
            vmm.destroyForcibly();
        }
    }

    private static String socat(Path sock, String input) throws IOException, InterruptedException {
        Process p = new ProcessBuilder("socat", "-t", "2", "-", "UNIX-CONNECT:" + sock).start();
        p.getOutputStream().write(input.getBytes(StandardCharsets.UTF_8));
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        return out;
    }
}
