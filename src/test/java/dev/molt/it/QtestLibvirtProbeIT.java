package dev.molt.it;

import dev.molt.testsupport.KvmAvailability;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Issue 13 item 9: libvirt's capability probe. molt is started with the very command line libvirt
 * 9's qemuProcessQMPLaunch uses ({@code -machine none}, {@code -daemonize}, ...) and asked what
 * libvirt asks; then Debian's libvirt daemon itself probes bin/molt (scripts/lib/libvirt_probe.sh,
 * skipped without libvirt). Needs no vCPU: {@code -machine none} has none.
 */
@Tag("qtest")
class QtestLibvirtProbeIT {
    /** libvirt 9.0's probe command line (qemu_process.c), but for the monitor's path and pidfile. */
    private static List<String> probeArgs(Path dir) {
        return List.of("-S", "-no-user-config", "-nodefaults", "-nographic", "-machine", "none,accel=kvm:tcg",
                "-qmp", "unix:" + dir.resolve("qmp.monitor") + ",server=on,wait=off", "-pidfile", dir.resolve("qmp.pid").toString(),
                "-daemonize");
    }

    private record Ran(int status, String stderr) {}

    /** Runs bin/molt to its end (with -daemonize: the launcher's end), stderr collected. */
    private static Ran launch(List<String> args) throws Exception {
        return launch(List.of(), args);
    }

    /** As {@link #launch(List)}, with {@code prefix} (a {@link #handDown}) before the launcher. */
    private static Ran launch(List<String> prefix, List<String> args) throws Exception {
        List<String> cmd = new ArrayList<>(prefix);
        cmd.add(Project.launcher().toString());
        cmd.addAll(args);
        Process p = new ProcessBuilder(cmd).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the launcher returns once molt is ready");
        return new Ran(p.exitValue(), new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8));
    }

    /**
     * What a manager does before it starts molt with {@code -chardev socket,fd=5}: binds and listens
     * on {@code socket} and leaves the socket open as fd 5 across its exec of the command that follows.
     */
    private static List<String> handDown(Path socket) {
        return List.of("python3", "-c", "import os, socket, sys\n"
                + "s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(8)\n"
                + "os.dup2(s.fileno(), 5)\n" // inheritable, as a manager's fork and exec would leave it
                + "os.execv(sys.argv[2], sys.argv[2:])\n", socket.toString());
    }

    private static final String MONITOR_ON_FD_5 = "socket,id=charmonitor,fd=5,server=on,wait=off";

    private static long sessionOf(long pid) throws Exception {
        String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
        String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return Long.parseLong(fields[3]); // state ppid pgrp session
    }

    @Test
    void libvirtsProbeCommandLineDaemonizesAndAnswersWhatLibvirtAsks(@TempDir Path dir) throws Exception {
        Ran ran = launch(probeArgs(dir));
        assertEquals(0, ran.status(), ran.stderr());
        long pid = Long.parseLong(Files.readString(dir.resolve("qmp.pid")).strip());
        ProcessHandle daemon = ProcessHandle.of(pid).orElseThrow(() -> new AssertionError("the pidfile's molt is not running"));
        try (QmpClient q = QmpClient.unix(dir.resolve("qmp.monitor"), Duration.ofSeconds(5)).negotiated()) {
            assertEquals(pid, sessionOf(pid), "a session of its own, detached from the caller's terminal");
            assertTrue(Files.readSymbolicLink(Path.of("/proc/" + pid + "/fd/1")).toString().equals("/dev/null"));
            assertTrue(Files.readSymbolicLink(Path.of("/proc/" + pid + "/fd/2")).toString().equals("/dev/null"), "stderr too, once ready");
            assertEquals(Map.of("status", "prelaunch", "running", false), q.returned("query-status"));
            assertEquals(Map.of("arch", "x86_64"), q.returned("query-target"));
            assertEquals(Map.of("enabled", KvmAvailability.usable(), "present", true), q.returned("query-kvm"),
                    "kvm:tcg: KVM where it works; else molt, which has no TCG, runs no CPU and says KVM is not enabled");
            Map<String, Object> microvm = machine(q, "microvm");
            assertEquals(true, microvm.get("is-default"));
            assertEquals(255L, microvm.get("cpu-max"));
            assertEquals("microvm.ram", microvm.get("default-ram-id"));
            assertEquals(List.of(Map.of("name", "virtio-blk-device", "parent", "virtio-device"),
                    Map.of("name", "virtio-net-device", "parent", "virtio-device")),
                    q.execute("qom-list-types", Map.of("implements", "virtio-device")).get("return"));
            assertEquals(Map.of("class", "DeviceNotFound", "desc", "Device 'virtio-blk-pci' not found"),
                    q.execute("device-list-properties", Map.of("typename", "virtio-blk-pci")).get("error"), "no PCI in molt");
            assertTrue(q.execute("device-list-properties", Map.of("typename", "virtio-net-device")).toString().contains("name=netdev"));
            assertTrue(q.execute("query-cpu-definitions").toString().contains("name=host"));
            assertTrue(q.execute("query-migrate-capabilities").toString().contains("capability=x-ignore-shared"));
            assertEquals(Map.of("class", "GenericError", "desc", "invalid option name: nosuch"),
                    q.execute("query-command-line-options", Map.of("option", "nosuch")).get("error"));
            assertEquals(List.of(), q.execute("query-cpus-fast").get("return"), "no CPU");
            assertEquals(List.of(), q.execute("query-memdev").get("return"), "no RAM");
            q.returned("cont");
            assertEquals("running", q.returned("query-status").get("status"), "as QEMU's empty machine: running nothing");
            q.returned("quit");
        }
        assertTrue(daemon.onExit().get(10, TimeUnit.SECONDS) != null);
        assertFalse(Files.exists(dir.resolve("qmp.pid")), "the pidfile goes with molt");
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> machine(QmpClient q, String name) throws Exception {
        for (Object m : (List<Object>) q.execute("query-machines").get("return")) {
            if (name.equals(((Map<String, Object>) m).get("name"))) return (Map<String, Object>) m;
        }
        throw new AssertionError("query-machines lacks " + name);
    }

    @Test
    void aDaemonThatCannotStartFailsInTheLaunchersProcessWithItsError(@TempDir Path dir) throws Exception {
        List<String> args = new ArrayList<>(probeArgs(dir));
        args.set(args.indexOf("-qmp") + 1, "unix:" + dir.resolve("no/such/dir/qmp.sock") + ",server=on,wait=off");
        Ran ran = launch(args);
        assertEquals(1, ran.status(), "molt's status, not the launcher's");
        assertTrue(ran.stderr().contains("-qmp unix:" + dir.resolve("no/such/dir")), ran.stderr());
        // QEMU's text: the default serial port and monitor would be on stdio (vl.c).
        Ran nographic = launch(List.of("-machine", "none", "-nographic", "-daemonize"));
        assertEquals(1, nographic.status());
        assertEquals("molt: -nographic cannot be used with -daemonize\n", nographic.stderr());
    }

    /**
     * libvirt binds the monitor's socket itself and hands it down: {@code -chardev socket,fd=N}.
     * molt serves it, and leaves the path (the manager's) where it is when it ends.
     */
    @Test
    void aMonitorSocketTheManagerOpenedIsServed(@TempDir Path dir) throws Exception {
        Path socket = dir.resolve("monitor.sock");
        List<String> cmd = new ArrayList<>(handDown(socket));
        cmd.addAll(List.of(Project.launcher().toString(),
                "-machine", "none", "-nodefaults", "-display", "none", "-chardev", MONITOR_ON_FD_5,
                "-mon", "chardev=charmonitor,id=monitor,mode=control", "-name", "guest=probe,debug-threads=on",
                "-uuid", "c7a5fdbd-cdaf-9455-926a-d65c16db1809", "-msg", "timestamp=on"));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        try (QmpClient q = QmpClient.unix(socket, Duration.ofSeconds(30)).negotiated()) {
            assertEquals(Map.of("name", "probe"), q.returned("query-name"));
            q.returned("quit");
            assertTrue(p.waitFor(10, TimeUnit.SECONDS));
            assertEquals(0, p.exitValue(), new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
            assertTrue(Files.exists(socket), "the manager's socket file is the manager's to remove");
        } finally {
            p.destroyForcibly();
        }
        // Not a listening socket: refused, naming the chardev's fd.
        Ran notSocket = launch(List.of("-machine", "none", "-nodefaults", "-chardev", "socket,id=m,fd=0,server=on,wait=off",
                "-mon", "chardev=m,mode=control"));
        assertEquals(1, notSocket.status());
        assertTrue(notSocket.stderr().contains("it is not a socket"), notSocket.stderr());
    }

    /**
     * cpr-exec's promise, the same process, holds for a daemon: its new molt is exec'd in place, not
     * daemonized again. Its monitor is on a socket the manager handed down, which the update keeps.
     */
    @Test
    void aDaemonizedMoltKeepsItsPidAndHandedDownMonitorAcrossCprExec(@TempDir Path dir) throws Exception {
        List<String> args = List.of("-accel", "qtest", "-machine", "microvm,aux-ram-share=on", "-m", "64M", "-display", "none",
                "-nodefaults", "-chardev", MONITOR_ON_FD_5, "-mon", "chardev=charmonitor,id=monitor,mode=control",
                "-pidfile", dir.resolve("vm.pid").toString(), "-daemonize");
        Ran ran = launch(handDown(dir.resolve("vm.qmp")), args);
        assertEquals(0, ran.status(), ran.stderr());
        long pid = Long.parseLong(Files.readString(dir.resolve("vm.pid")).strip());
        ProcessHandle daemon = ProcessHandle.of(pid).orElseThrow();
        try {
            Path state = dir.resolve("vm.state");
            assertTrue(CprExecIT.update(dir, CprExecIT.newMolt(args, state), "file:" + state).containsKey("return"));
            CprExecIT.awaitCompleted(dir);
            assertTrue(daemon.isAlive());
            assertEquals(pid, Long.parseLong(Files.readString(dir.resolve("vm.pid")).strip()));
            assertTrue(daemon.info().arguments().map(a -> List.of(a).contains("-incoming")).orElse(false), "the new molt runs in it");
            assertEquals(pid, sessionOf(pid));
            assertFalse(Files.readString(Path.of("/proc/" + pid + "/environ")).contains("MOLT_DAEMONIZE_READY_FD"),
                    "no readiness pipe to write to after the exec");
            try (QmpClient q = QmpClient.unix(dir.resolve("vm.qmp"), Duration.ofSeconds(5)).negotiated()) {
                assertEquals("running", q.returned("query-status").get("status"));
                q.returned("quit");
            }
            assertTrue(daemon.onExit().get(10, TimeUnit.SECONDS) != null);
        } finally {
            daemon.destroyForcibly();
        }
    }

    /**
     * An x-cpr-reload runs molt's code again in the daemon's JVM, with the environment that named the
     * readiness pipe: the new code must not take whatever fd now has that number for the pipe. It used
     * to write its byte into one of the reload's duplicates and close it: guest RAM's memfd (a '0' at
     * guest address 0) or a monitor socket, by the order of the duplicates.
     */
    @Test
    void aDaemonizedMoltReloadsWithItsRamAndMonitorIntact(@TempDir Path dir) throws Exception {
        List<String> args = List.of("-accel", "qtest", "-machine", "microvm,aux-ram-share=on", "-m", "64M", "-display", "none",
                "-nodefaults", "-qmp", "unix:" + dir.resolve("vm.qmp") + ",server=on,wait=off",
                "-qtest", "unix:" + dir.resolve("qtest.sock"), "-qtest-log", "none",
                "-pidfile", dir.resolve("vm.pid").toString(), "-daemonize");
        int len = 1 << 20;
        try (QtestClient.Listener listener = new QtestClient.Listener(dir.resolve("qtest.sock"))) {
            Ran ran = launch(args);
            assertEquals(0, ran.status(), ran.stderr());
            long pid = Long.parseLong(Files.readString(dir.resolve("vm.pid")).strip());
            ProcessHandle daemon = ProcessHandle.of(pid).orElseThrow();
            try (QtestClient qtest = listener.accept(QtestVm.T)) {
                qtest.write(0, RamPattern.bytes(21, 0, len));
                try (QmpClient q = QmpClient.unix(dir.resolve("vm.qmp"), Duration.ofSeconds(5)).negotiated()) {
                    assertTrue(q.execute("migrate-set-parameters", Map.of("mode", "x-cpr-reload",
                            "x-cpr-reload-jar", QtestReloadIT.moltJar().toString())).containsKey("return"));
                    assertTrue(q.execute("migrate", Map.of("uri", "file:" + dir.resolve("vm.state"))).containsKey("return"));
                    GuestIT.waitFor(() -> "completed".equals(q.returned("query-migrate").get("status")), Duration.ofSeconds(30));
                    assertEquals("running", q.returned("query-status").get("status"), "the client held across the reload");
                }
                assertEquals(-1, RamPattern.firstBadPage(21, 0, qtest.read(0, len)), "guest RAM from address 0, byte for byte");
                try (QmpClient q = QmpClient.unix(dir.resolve("vm.qmp"), Duration.ofSeconds(5)).negotiated()) {
                    assertEquals("running", q.returned("query-status").get("status"), "a new client, served by the reloaded code");
                    q.returned("quit");
                }
                assertTrue(daemon.onExit().get(10, TimeUnit.SECONDS) != null);
            } finally {
                daemon.destroyForcibly();
            }
        }
    }

    /** Debian's libvirt probes bin/molt: what it learns, and how far it gets without KVM. */
    @Test
    void libvirtsDaemonProbesMolt(@TempDir Path dir) throws Exception {
        Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/sbin/libvirtd")) && Files.isExecutable(Path.of("/usr/bin/virsh")),
                "libvirt is not installed (apt-get install libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients)");
        boolean kvm = KvmAvailability.usable();
        Path out = dir.resolve("probe");
        Process p = new ProcessBuilder(Project.root().resolve("scripts/lib/libvirt_probe.sh").toString(),
                Project.launcher().toString(), kvm ? "kvm" : "qemu", out.toString()).inheritIO().start();
        assertTrue(p.waitFor(120, TimeUnit.SECONDS));
        String log = Files.readString(out.resolve("libvirtd.log"));
        String virshErr = Files.readString(out.resolve("virsh.err"));
        String cached = Files.readString(out.resolve("qemucaps.xml"));
        assertFalse(log.contains("Failed to probe capabilities"), virshErr);
        String accel = kvm ? "kvm" : "tcg";
        assertTrue(cached.contains("<machine type='" + accel + "' name='microvm' maxCpus='255' default='yes' defaultCPU='host-x86_64-cpu'"
                + " defaultRAMid='microvm.ram'/>"), cached);
        assertTrue(cached.contains("<cpu type='" + accel + "' name='host' typename='host-x86_64-cpu'"), cached);
        if (kvm) {
            assertEquals(0, p.exitValue(), virshErr);
            String domcaps = Files.readString(out.resolve("domcaps.xml"));
            assertTrue(domcaps.contains("<machine>microvm</machine>") && domcaps.contains("<domain>kvm</domain>"), domcaps);
        } else {
            // libvirt knows TCG by QEMU's tcg-accel type, which molt has not: nothing to offer without KVM.
            assertTrue(virshErr.contains("does not support virt type 'qemu'"), virshErr);
        }
    }
}
