package dev.molt.it;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.jar.Attributes;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;

import static dev.molt.it.CprExecIT.listeningSockets;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * x-cpr-reload under -accel qtest: a new molt loaded into the running process takes the guest over
 * with the same connections (qtest, QMP, HMP), its RAM byte for byte; and every way the new molt can
 * fail leaves the guest running on the old one, as if nothing had happened.
 */
@Tag("qtest")
class QtestReloadIT {
    private static final long BASE = 1L << 20;
    private static final int LEN = 8 << 20;

    static Path moltJar() {
        return Project.root().resolve("target/molt.jar");
    }

    private static Map<String, Object> reload(QmpClient q, Path jar, Path state, Map<String, Object> extra) throws Exception {
        Map<String, Object> params = new java.util.HashMap<>(Map.of("mode", "x-cpr-reload", "x-cpr-reload-jar", jar.toString()));
        params.putAll(extra);
        Map<String, Object> p = q.execute("migrate-set-parameters", params);
        assertTrue(p.containsKey("return"), p.toString());
        return q.execute("migrate", Map.of("uri", "file:" + state));
    }

    /**
     * Reloads the molt of {@code vm} into the jar molt runs from, over a QMP connection of its own, and
     * waits until the new code runs the guest; the test's qtest connection goes on as it was.
     */
    static Map<String, Object> reloadAndAwait(QtestVm vm) throws Exception {
        long pid = vm.process.pid();
        try (QmpClient q = vm.qmp()) {
            Map<String, Object> r = reload(q, moltJar(), vm.dir.resolve("vm.state"), Map.of());
            assertTrue(r.containsKey("return"), r.toString());
            @SuppressWarnings("unchecked")
            Map<String, Object>[] last = new Map[1];
            GuestIT.waitFor(() -> List.of("completed", "failed", "cancelled").contains((last[0] = q.returned("query-migrate")).get("status")),
                    QtestVm.T);
            assertEquals("completed", last[0].get("status"), last[0] + "; molt said: " + vm.process.stderr());
            assertEquals(pid, vm.process.pid(), "the same process");
            return last[0];
        }
    }

    @Test
    void theSameConnectionsGoOnWithRamAndClockAsTheyWere(@TempDir Path dir) throws Exception {
        Path hmpSocket = dir.resolve("vm.hmp");
        List<String> args = QtestVm.args(dir, "256M", "-monitor", "unix:" + hmpSocket + ",server=on,wait=off");
        try (QtestVm vm = QtestVm.start(dir, args);
             QmpClient q = vm.qmp();
             QmpClient half = vm.qmp();
             HmpClient hmp = new HmpClient(CprExecIT.connect(hmpSocket))) {
            vm.writePattern(7, BASE, LEN);
            assertEquals("1000000", vm.qtest.ok("clock_step 1000000"));
            long pid = vm.process.pid();
            Set<String> listening = listeningSockets(pid);
            // Half a command on one connection, half a line typed on the other: each is finished after the reload.
            half.sendRaw("{\"execute\": \"query-");
            hmp.await("(qemu) ", QtestVm.T);
            hmp.type("info sta");
            Thread.sleep(200); // read by the old molt before the reload starts
            Path state = dir.resolve("vm.state");
            Map<String, Object> r = reload(q, moltJar(), state, Map.of());
            assertTrue(r.containsKey("return"), r.toString());
            q.event("STOP", QtestVm.T);
            q.event("RESUME", QtestVm.T);
            GuestIT.waitFor(() -> "completed".equals(q.returned("query-migrate").get("status")), QtestVm.T);
            Map<String, Object> m = q.returned("query-migrate");
            assertEquals("running", q.returned("query-status").get("status"), "the same QMP connection answers");
            assertEquals(pid, vm.process.pid(), "same process");
            assertTrue(vm.process.alive());
            assertEquals(listening, listeningSockets(pid), "the same listening sockets");
            assertEquals(-1, vm.firstBadPage(7, BASE, LEN), "guest RAM byte for byte, over the same qtest connection");
            assertEquals("1000001", vm.qtest.ok("clock_step 1"), "the virtual clock went on from where it was");
            half.sendRaw("status\"}");
            assertEquals("running", ((Map<?, ?>) half.reply(QtestVm.T).get("return")).get("status"), "half a command finished after the reload");
            hmp.type("tus\r");
            hmp.await("VM status: running", QtestVm.T); // the line typed before the reload, finished after it
            System.out.printf("[molt-it] qtest: x-cpr-reload kept PID %d, the qtest/QMP/HMP connections, 8 MiB of RAM; downtime %s ms %s%n",
                    pid, m.get("downtime"), m.get("x-cpr-downtime-breakdown"));
        }
    }

    /** A 64 MiB qtest machine with -nographic: console and multiplexed monitor on molt's stdio. */
    private static List<String> nographicArgs(Path dir) {
        return List.of("-accel", "qtest", "-machine", "microvm,aux-ram-share=on", "-m", "64M", "-nographic",
                "-qmp", "unix:" + dir.resolve("vm.qmp") + ",server=on,wait=off",
                "-qtest", "unix:" + dir.resolve("vm-qtest.sock"), "-qtest-log", "none");
    }

    /**
     * -nographic: the console on molt's own stdin and stdout, multiplexed with the human monitor,
     * goes on through a reload: output before and after on the same stdout, a key typed after it
     * reaches the UART (the old molt's stdin reader read nothing more), and Ctrl-A c still reaches a
     * monitor.
     */
    @Test
    void aConsoleOnStdioGoesOn(@TempDir Path dir) throws Exception {
        List<String> args = nographicArgs(dir);
        try (QtestVm vm = QtestVm.start(dir, args); QmpClient q = vm.qmp()) {
            QtestCprExecIT.sendToConsole(vm.qtest, "before\r\n");
            vm.process.awaitLine(0, "before"::equals, QtestVm.T);
            vm.process.send("j");
            GuestIT.waitFor(() -> (Integer.decode(vm.qtest.ok("inb 0x3fd")) & 1) == 1, QtestVm.T);
            assertEquals("0x006a", vm.qtest.ok("inb 0x3f8"));
            assertTrue(reload(q, moltJar(), dir.resolve("vm.state"), Map.of()).containsKey("return"));
            GuestIT.waitFor(() -> "completed".equals(q.returned("query-migrate").get("status")), QtestVm.T);
            QtestCprExecIT.sendToConsole(vm.qtest, "after\r\n");
            vm.process.awaitLine(0, "after"::equals, QtestVm.T);
            vm.process.send("k");
            GuestIT.waitFor(() -> (Integer.decode(vm.qtest.ok("inb 0x3fd")) & 1) == 1, QtestVm.T);
            assertEquals("0x006b", vm.qtest.ok("inb 0x3f8"), "a key typed after the reload reaches the UART");
            vm.process.send("\u0001c"); // Ctrl-A c: the multiplexed monitor
            vm.process.send("info status\r");
            vm.process.awaitLine(0, l -> l.contains("VM status: running"), QtestVm.T);
        }
    }

    /**
     * -qmp stdio: the client on molt's own stdin and stdout goes on through two reloads, one asked
     * for over another connection, one over stdio itself: greeted once, capabilities as negotiated,
     * half a command sent before a reload finished after it, the events of both codes in order.
     */
    @Test
    void aQmpClientOnStdioGoesOn(@TempDir Path dir) throws Exception {
        try (QtestVm vm = QtestVm.start(dir, QtestVm.args(dir, "64M", "-qmp", "stdio")); QmpClient q = vm.qmp()) {
            MoltProcess molt = vm.process;
            molt.awaitLine(l -> l.startsWith("{\"QMP\""), QtestVm.T);
            molt.send("{\"execute\": \"qmp_capabilities\", \"id\": \"caps\"}\n");
            molt.awaitLine(l -> l.contains("\"id\": \"caps\""), QtestVm.T);
            vm.writePattern(8, BASE, LEN);
            long pid = molt.pid();
            molt.send("{\"execute\": \"query-");
            Thread.sleep(200); // read by the old molt before the reload starts
            reloadAndAwait(vm);
            molt.send("status\", \"id\": \"after\"}\n");
            int after = molt.awaitLine(l -> l.contains("\"id\": \"after\""), QtestVm.T);
            String status = molt.lines().get(after);
            assertTrue(status.contains("\"status\": \"running\""), "half a command finished by the new molt: " + status);
            int stop = molt.awaitLine(l -> l.contains("\"event\": \"STOP\""), QtestVm.T);
            molt.awaitLine(stop, l -> l.contains("\"event\": \"RESUME\""), QtestVm.T);
            // The second reload, asked for over stdio itself: the old code answers migrate, the new one what follows.
            molt.send("{\"execute\": \"migrate-set-parameters\", \"arguments\": {\"mode\": \"x-cpr-reload\", \"x-cpr-reload-jar\": \""
                    + moltJar() + "\"}, \"id\": \"p\"}\n");
            molt.awaitLine(l -> l.contains("\"id\": \"p\"") && l.contains("\"return\""), QtestVm.T);
            molt.send("{\"execute\": \"migrate\", \"arguments\": {\"uri\": \"file:" + dir.resolve("s1") + "\"}, \"id\": \"m\"}\n");
            int migrate = molt.awaitLine(l -> l.contains("\"id\": \"m\"") && l.contains("\"return\""), QtestVm.T);
            molt.awaitLine(molt.awaitLine(migrate, l -> l.contains("\"event\": \"STOP\""), QtestVm.T),
                    l -> l.contains("\"event\": \"RESUME\""), QtestVm.T);
            GuestIT.waitFor(() -> "completed".equals(q.returned("query-migrate").get("status")), QtestVm.T);
            molt.send("{\"execute\": \"query-status\", \"id\": \"last\"}\n");
            molt.awaitLine(l -> l.contains("\"id\": \"last\"") && l.contains("running"), QtestVm.T);
            assertEquals(1, molt.lines().stream().filter(l -> l.startsWith("{\"QMP\"")).count(), "greeted once: " + molt.lines());
            assertEquals(pid, molt.pid());
            assertEquals(-1, vm.firstBadPage(8, BASE, LEN));
            molt.send("{\"execute\": \"quit\"}\n");
            assertEquals(0, molt.awaitExit(QtestVm.T), "quit over stdio, to the new molt, ends the process");
            assertFalse(molt.stderr().contains("Exception in thread"), molt.stderr());
        }
    }

    /** -monitor stdio: the line typed before a reload is finished after it, with no second banner. */
    @Test
    void anHmpClientOnStdioGoesOn(@TempDir Path dir) throws Exception {
        try (QtestVm vm = QtestVm.start(dir, QtestVm.args(dir, "64M", "-monitor", "stdio"))) {
            MoltProcess molt = vm.process;
            molt.awaitLine(l -> l.contains("monitor - type 'help' for more information"), QtestVm.T);
            molt.send("info sta");
            Thread.sleep(200); // read by the old molt before the reload starts
            reloadAndAwait(vm);
            molt.send("tus\r");
            molt.awaitLine(l -> l.contains("VM status: running"), QtestVm.T);
            assertEquals(1, molt.lines().stream().filter(l -> l.contains("monitor - type 'help'")).count(), "one banner: " + molt.lines());
        }
    }

    /**
     * A new molt that would greet the stdio client again (one without stdio-monitor in its manifest's
     * Molt-Reload-Takes-Over, as 0.7.0 and earlier) is refused before the guest stops.
     */
    @Test
    void aNewMoltThatCannotGoOnWithStdioIsRefused(@TempDir Path dir) throws Exception {
        try (QtestVm vm = QtestVm.start(dir, QtestVm.args(dir, "64M", "-qmp", "stdio")); QmpClient q = vm.qmp()) {
            vm.process.awaitLine(l -> l.startsWith("{\"QMP\""), QtestVm.T);
            Path older = copyOfMolt(dir.resolve("older.jar"), mf -> mf.getMainAttributes().remove(new Attributes.Name("Molt-Reload-Takes-Over")), false);
            Map<String, Object> r = reload(q, older, dir.resolve("s0"), Map.of());
            assertTrue(String.valueOf(r.get("error")).contains("cannot go on with a monitor on stdio"), r.toString());
            assertFalse(q.pendingEvents().contains("STOP"), q.pendingEvents().toString());
            vm.process.send("{\"execute\": \"qmp_capabilities\", \"id\": 1}\n");
            vm.process.awaitLine(l -> l.contains("\"id\": 1"), QtestVm.T);
        }
    }

    /**
     * -nographic with the keyboard on the multiplexed monitor (Ctrl-A c) when the reload comes: it
     * stays on a monitor, the new molt's, so what the user types next is a monitor command and never
     * reaches the guest's UART.
     */
    @Test
    void aNographicMonitorKeepsTheKeyboard(@TempDir Path dir) throws Exception {
        List<String> args = nographicArgs(dir);
        try (QtestVm vm = QtestVm.start(dir, args)) {
            vm.process.send("\u0001c"); // Ctrl-A c: the keyboard to the monitor
            vm.process.awaitLine(0, l -> l.contains("monitor - type 'help' for more information"), QtestVm.T);
            reloadAndAwait(vm);
            int after = vm.process.lines().size();
            vm.process.send("info status\r");
            vm.process.awaitLine(after, l -> l.contains("VM status: running"), QtestVm.T);
            assertEquals(0, Integer.decode(vm.qtest.ok("inb 0x3fd")) & 1, "nothing typed reached the guest's UART");
        }
    }

    @Test
    void twoReloadsInARowThenQuitEndsTheProcess(@TempDir Path dir) throws Exception {
        List<String> args = QtestVm.args(dir, "64M");
        try (QtestVm vm = QtestVm.start(dir, args); QmpClient q = vm.qmp()) {
            vm.writePattern(5, BASE, LEN);
            for (int i = 0; i < 2; i++) {
                assertTrue(reload(q, moltJar(), dir.resolve("s" + i), Map.of()).containsKey("return"));
                GuestIT.waitFor(() -> "completed".equals(q.returned("query-migrate").get("status")), QtestVm.T);
                assertEquals(-1, vm.firstBadPage(5, BASE, LEN));
            }
            assertTrue(q.execute("quit").containsKey("return"));
            assertEquals(0, vm.process.awaitExit(QtestVm.T), "quit after reloads ends molt with status 0");
        }
    }

    record Refusal(String what, Path jar, String error) {}

    @Test
    void aNewMoltThatCannotTakeOverLeavesTheGuestRunningOnTheOldOne(@TempDir Path dir) throws Exception {
        List<String> args = QtestVm.args(dir, "128M");
        Path state = dir.resolve("vm.state");
        try (QtestVm vm = QtestVm.start(dir, args); QmpClient q = vm.qmp()) {
            vm.writePattern(3, BASE, LEN);
            long pid = vm.process.pid();
            // Refused before the guest stops.
            for (Refusal c : List.of(
                    new Refusal("no jar", dir.resolve("missing.jar"), "no molt jar at " + dir.resolve("missing.jar")),
                    new Refusal("not a molt that reloads", plainJar(dir), "has no Molt-Generation entry"),
                    new Refusal("another interface", faultyJar(dir, "OtherInterface"), "speaks reload interface version 2"),
                    new Refusal("prepare fails", faultyJar(dir, "NotReady"), "cannot take over: java.lang.IllegalStateException: needs a newer JDK"),
                    new Refusal("its command line", faultyJar(dir, "RefusesItsCommandLineEarly"), "cannot take over: java.lang.IllegalStateException: its command line: "))) {
                Map<String, Object> r = reload(q, c.jar(), state, Map.of());
                assertTrue(String.valueOf(r.get("error")).contains(c.error()), c.what() + " -> " + r);
                assertEquals("running", q.returned("query-status").get("status"));
            }
            // Fail after the guest stopped: the old molt resumes it; the same connections go on.
            for (String faulty : List.of("RefusesItsCommandLine", "Throws", "TooSlow")) {
                String error = failedReload(vm, q, faultyJar(dir, faulty), state);
                assertTrue(error.contains(switch (faulty) {
                    case "RefusesItsCommandLine" -> "-no-such-option";
                    case "Throws" -> "a bug in the new molt";
                    default -> "did not resume the guest within x-cpr-reload-timeout (1000 ms)";
                }), faulty + ": " + error);
                assertEquals("running", q.returned("query-status").get("status"), faulty);
                assertEquals(pid, vm.process.pid());
                assertEquals(-1, vm.firstBadPage(3, BASE, LEN), faulty + ": RAM, over the same qtest connection");
            }
            // The slow one gave up on its own once it saw the old molt kept the guest: one reload still works.
            Thread.sleep(3000);
            assertTrue(reload(q, moltJar(), state, Map.of()).containsKey("return"));
            GuestIT.waitFor(() -> "completed".equals(q.returned("query-migrate").get("status")), QtestVm.T);
            assertEquals(-1, vm.firstBadPage(3, BASE, LEN));
            assertFalse(vm.process.stderr().contains("Exception in thread"), vm.process.stderr());
        }
    }

    /**
     * A new molt built while the guest runs (two-phase) that fails: before the stop the guest never
     * stops at all; after it the old molt resumes it. Either way the same connections go on.
     */
    @Test
    void aTwoPhaseNewMoltThatFailsLeavesTheGuestRunningOnTheOldOne(@TempDir Path dir) throws Exception {
        List<String> args = QtestVm.args(dir, "128M");
        Path state = dir.resolve("vm.state");
        try (QtestVm vm = QtestVm.start(dir, args); QmpClient q = vm.qmp()) {
            vm.writePattern(4, BASE, LEN);
            long pid = vm.process.pid();
            for (String faulty : List.of("TwoPhaseRefusesItsCommandLine", "TwoPhaseTooSlowToBuild", "TwoPhaseRefusesTheState",
                    "TwoPhaseTooSlowAfterTheStop")) {
                boolean beforeTheStop = faulty.contains("CommandLine") || faulty.contains("Build");
                String error = failedReload(vm, q, faultyJar(dir, faulty), state);
                assertTrue(error.contains(switch (faulty) {
                    case "TwoPhaseRefusesItsCommandLine" -> "-no-such-option";
                    case "TwoPhaseTooSlowToBuild" -> "was not ready to take the guest over within x-cpr-reload-timeout (1000 ms)";
                    case "TwoPhaseRefusesTheState" -> "the new molt failed";
                    default -> "did not resume the guest within x-cpr-reload-timeout (1000 ms)";
                }), faulty + ": " + error);
                assertEquals(beforeTheStop ? List.of() : List.of("STOP", "RESUME"),
                        q.pendingEvents().stream().filter(e -> e.equals("STOP") || e.equals("RESUME")).toList(),
                        faulty + ": the guest " + (beforeTheStop ? "never stops" : "stops and resumes on the old molt"));
                while (q.nextEvent(java.time.Duration.ZERO) != null) { } // this case's events are seen
                assertEquals("running", q.returned("query-status").get("status"), faulty);
                assertEquals(pid, vm.process.pid());
                assertEquals(-1, vm.firstBadPage(4, BASE, LEN), faulty + ": RAM, over the same qtest connection");
            }
            Thread.sleep(3000); // the slow ones give up on their own
            Map<String, Object> m = reloadAndAwait(vm);
            assertEquals(-1, vm.firstBadPage(4, BASE, LEN));
            System.out.printf("[molt-it] qtest: two-phase x-cpr-reload after 4 failed ones: downtime %s ms %s%n", m.get("downtime"),
                    m.get("x-cpr-downtime-breakdown"));
            assertFalse(vm.process.stderr().contains("Exception in thread"), vm.process.stderr());
        }
    }

    /**
     * A console connection that comes while a two-phase new molt is built would be lost to it: the
     * reload is refused before the guest stops, and the next one hands the connection over.
     */
    @Test
    void aConnectionThatComesWhileTheNewMoltIsBuiltRefusesTheReload(@TempDir Path dir) throws Exception {
        Path console = dir.resolve("console.sock");
        List<String> args = new java.util.ArrayList<>(QtestVm.args(dir, "64M"));
        int serial = args.indexOf("-serial");
        args.set(serial + 1, "chardev:con0");
        args.addAll(List.of("-chardev", "socket,id=con0,path=" + console + ",server=on,wait=off"));
        try (QtestVm vm = QtestVm.start(dir, args); QmpClient q = vm.qmp()) {
            vm.writePattern(6, BASE, LEN);
            Map<String, Object> r = reload(q, faultyJar(dir, "TwoPhaseSlowToBuild"), dir.resolve("vm.state"), Map.of());
            assertTrue(r.containsKey("return"), r.toString());
            Thread.sleep(300); // the new molt builds for a second and a half
            try (var client = java.nio.channels.SocketChannel.open(java.net.UnixDomainSocketAddress.of(console))) {
                GuestIT.waitFor(() -> "failed".equals(q.returned("query-migrate").get("status")), QtestVm.T);
                String error = String.valueOf(q.returned("query-migrate").get("error-desc"));
                assertTrue(error.contains("live fds changed while the new molt was built"), error);
                assertFalse(q.pendingEvents().contains("STOP"), "the guest never stopped: " + q.pendingEvents());
                assertEquals("running", q.returned("query-status").get("status"));
                Thread.sleep(2000); // the slow one gives up
                reloadAndAwait(vm); // with the client connected all along: handed over
                assertEquals(-1, vm.firstBadPage(6, BASE, LEN));
                assertTrue(client.isConnected());
            }
            assertFalse(vm.process.stderr().contains("Exception in thread"), vm.process.stderr());
        }
    }

    /**
     * Reloads {@code vm} into {@code jar} (x-cpr-reload-timeout 1 s), which must fail after migrate
     * took it: waits for "failed" and returns query-migrate's error-desc.
     */
    private static String failedReload(QtestVm vm, QmpClient q, Path jar, Path state) throws Exception {
        Map<String, Object> r = reload(q, jar, state, Map.of("x-cpr-reload-timeout", 1000));
        assertTrue(r.containsKey("return"), r.toString());
        try {
            GuestIT.waitFor(() -> "failed".equals(q.returned("query-migrate").get("status")), QtestVm.T);
        } catch (AssertionError e) {
            throw new AssertionError(jar.getFileName() + ": " + q.returned("query-migrate") + "; molt said: " + vm.process.stderr(), e);
        }
        return String.valueOf(q.returned("query-migrate").get("error-desc"));
    }

    /** A jar with no Molt-Generation attribute. */
    private static Path plainJar(Path dir) throws IOException {
        Path jar = dir.resolve("plain.jar");
        Manifest mf = new Manifest();
        mf.getMainAttributes().put(Attributes.Name.MANIFEST_VERSION, "1.0");
        try (JarOutputStream out = new JarOutputStream(Files.newOutputStream(jar), mf)) {
            out.putNextEntry(new JarEntry("README"));
            out.write("not molt".getBytes());
        }
        return jar;
    }

    /** molt's jar with one of {@code dev.molt.it.reload.FaultyGenerations} added and named as its Molt-Generation. */
    static Path faultyJar(Path dir, String kind) throws IOException {
        // A two-phase kind is what a molt that has the two-phase type loads; any other replaces the
        // one-phase entry, and the jar then offers no two-phase one.
        String name = "dev.molt.it.reload.FaultyGenerations$" + kind;
        return copyOfMolt(dir.resolve(kind + ".jar"), mf -> {
            if (kind.startsWith("TwoPhase")) {
                mf.getMainAttributes().putValue("Molt-Generation-Two-Phase", name);
            } else {
                mf.getMainAttributes().putValue("Molt-Generation", name);
                mf.getMainAttributes().remove(new Attributes.Name("Molt-Generation-Two-Phase"));
            }
        }, true);
    }

    /** A copy of molt's jar at {@code jar}, its manifest changed by {@code edit}, with the faulty generations if asked. */
    private static Path copyOfMolt(Path jar, java.util.function.Consumer<Manifest> edit, boolean withFaulty) throws IOException {
        try (JarFile in = new JarFile(moltJar().toFile())) {
            Manifest mf = new Manifest(in.getManifest());
            edit.accept(mf);
            try (JarOutputStream out = new JarOutputStream(Files.newOutputStream(jar), mf)) {
                for (var e = in.entries(); e.hasMoreElements(); ) {
                    JarEntry entry = e.nextElement();
                    if (entry.getName().equals(JarFile.MANIFEST_NAME)) continue;
                    out.putNextEntry(new JarEntry(entry.getName()));
                    try (InputStream data = in.getInputStream(entry)) {
                        data.transferTo(out);
                    }
                }
                if (!withFaulty) return jar;
                Path classes = Project.root().resolve("target/test-classes/dev/molt/it/reload");
                try (var files = Files.list(classes)) {
                    for (Path c : files.toList()) {
                        out.putNextEntry(new JarEntry("dev/molt/it/reload/" + c.getFileName()));
                        Files.copy(c, (OutputStream) out);
                    }
                }
            }
        }
        return jar;
    }
}
