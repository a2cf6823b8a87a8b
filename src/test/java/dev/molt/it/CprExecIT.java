package dev.molt.it;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** cpr-exec live updates of molt under a running test guest, on real KVM. */
@Tag("kvm")
class CprExecIT {
    private static final Duration T = Duration.ofSeconds(90);

    @BeforeAll
    static void host() {
        KvmHost.require();
    }

    /** molt's arguments for a guest whose console is appended to {@code log} (so it survives the update). */
    static List<String> vmArgs(Path dir, int cpus, String ram, String... extra) {
        List<String> a = new ArrayList<>(List.of("-machine", "microvm,aux-ram-share=on", "-m", ram, "-smp", String.valueOf(cpus),
                "-kernel", Project.testGuest().toString(), "-append", "mem=64M",
                "-chardev", "file,id=con,path=" + dir.resolve("console.log") + ",append=on", "-serial", "chardev:con",
                "-display", "none", "-qmp", "unix:" + dir.resolve("vm.qmp") + ",server=on,wait=off"));
        a.addAll(List.of(extra));
        return a;
    }

    static List<Tick> ticks(Path dir) throws Exception {
        Path log = dir.resolve("console.log");
        if (!Files.exists(log)) return List.of();
        return Tick.all(Files.readAllLines(log, StandardCharsets.ISO_8859_1).stream().map(l -> l.replace("\r", "")).toList());
    }

    /** Every vCPU's ticks are consecutive across the whole log (the update included) and ok. */
    static Map<Integer, Long> assertConsecutive(Path dir) throws Exception {
        Map<Integer, Tick> last = new HashMap<>();
        for (Tick t : ticks(dir)) {
            Tick prev = last.get(t.cpu());
            if (prev != null) {
                assertTrue(t.n() == prev.n() + 1 || t.n() == prev.n() + 2, "vCPU " + t.cpu() + ": " + prev + " then " + t);
                assertTrue(t.guestNs() > prev.guestNs(), "guest time goes forward: " + prev + " then " + t);
            }
            assertTrue(t.ok(), "memory integrity: " + t);
            last.put(t.cpu(), t);
        }
        Map<Integer, Long> n = new HashMap<>();
        last.forEach((c, t) -> n.put(c, t.n()));
        return n;
    }

    static void awaitMoreTicks(Path dir, int cpus, long more) throws Exception {
        Map<Integer, Long> base = new HashMap<>();
        for (Tick t : ticks(dir)) base.put(t.cpu(), t.n());
        GuestIT.waitFor(() -> {
            Map<Integer, Long> now = new HashMap<>();
            for (Tick t : ticks(dir)) now.put(t.cpu(), t.n());
            if (now.size() < cpus) return false;
            for (int c = 0; c < cpus; c++) if (now.get(c) < base.getOrDefault(c, 0L) + more) return false;
            return true;
        }, T);
    }

    static Map<String, Object> update(Path dir, List<String> newCommand, String uri) throws Exception {
        try (QmpClient q = QmpClient.unix(dir.resolve("vm.qmp"), T).negotiated()) {
            Map<String, Object> p = q.execute("migrate-set-parameters", Map.of("mode", "cpr-exec", "cpr-exec-command", newCommand));
            assertTrue(p.containsKey("return"), p.toString());
            return q.execute("migrate", Map.of("uri", uri));
        }
    }

    static List<String> newMolt(List<String> args, Path state) {
        List<String> cmd = new ArrayList<>();
        cmd.add(Project.launcher().toString());
        cmd.addAll(args);
        cmd.addAll(List.of("-incoming", "file:" + state));
        return cmd;
    }

    static Map<String, Object> awaitCompleted(Path dir) throws Exception {
        long deadline = System.nanoTime() + T.toNanos();
        while (true) {
            try (QmpClient q = QmpClient.unix(dir.resolve("vm.qmp"), Duration.ofSeconds(5)).negotiated()) {
                Map<String, Object> m = q.returned("query-migrate");
                if ("completed".equals(m.get("status")) && "running".equals(q.returned("query-status").get("status"))) return m;
            } catch (Exception | AssertionError e) {
                // The new process is still starting.
            }
            if (System.nanoTime() > deadline) throw new AssertionError("the new molt did not resume the guest");
            Thread.sleep(100);
        }
    }

    static List<String> fdTargets(long pid) throws Exception {
        List<String> out = new ArrayList<>();
        try (Stream<Path> fds = Files.list(Path.of("/proc/" + pid + "/fd"))) {
            for (Path fd : fds.toList()) {
                try {
                    out.add(Files.readSymbolicLink(fd).toString());
                } catch (Exception ignored) {
                    // Closed meanwhile.
                }
            }
        }
        return out;
    }

    @ParameterizedTest(name = "{0} vCPU(s)")
    @ValueSource(ints = {1, 2})
    void liveUpdateKeepsPidRamAndGuest(int cpus, @TempDir Path dir) throws Exception {
        List<String> args = vmArgs(dir, cpus, "1G");
        Path state = dir.resolve("vm.state");
        try (MoltProcess molt = MoltProcess.start(args.toArray(String[]::new))) {
            awaitMoreTicks(dir, cpus, 20);
            long pid = molt.pid();
            Instant started = ProcessHandle.of(pid).orElseThrow().info().startInstant().orElseThrow();
            assertTrue(update(dir, newMolt(args, state), "file:" + state).containsKey("return"));
            Map<String, Object> done = awaitCompleted(dir);
            assertTrue(((Number) done.get("downtime")).longValue() > 0, done.toString());
            assertTrue(done.containsKey("x-cpr-downtime-breakdown"), done.toString());
            awaitMoreTicks(dir, cpus, 30);
            assertTrue(molt.alive());
            assertEquals(started, ProcessHandle.of(pid).orElseThrow().info().startInstant().orElseThrow(), "same process");
            assertTrue(Files.size(state) < (1 << 20), "no RAM in the state file: " + Files.size(state) + " bytes");
            assertConsecutive(dir);
            List<String> fds = fdTargets(pid);
            assertEquals(1, fds.stream().filter(f -> f.contains("kvm-vm")).count(), fds.toString());
            assertEquals(cpus, fds.stream().filter(f -> f.contains("kvm-vcpu")).count(), fds.toString());
            assertEquals(1, fds.stream().filter(f -> f.startsWith("/memfd:microvm.ram")).count(), fds.toString());
            assertTrue(fds.stream().filter(f -> f.contains("MOLT_CPR_EXEC_STATE")).count() <= 1, fds.toString());
        }
    }

    @Test
    void twentyUpdatesInARow(@TempDir Path dir) throws Exception {
        List<String> args = vmArgs(dir, 2, "512M");
        Path state = dir.resolve("vm.state");
        try (MoltProcess molt = MoltProcess.start(args.toArray(String[]::new))) {
            long pid = molt.pid();
            for (int i = 0; i < 20; i++) {
                awaitMoreTicks(dir, 2, 5);
                assertTrue(update(dir, newMolt(args, state), "file:" + state).containsKey("return"), "update " + i);
                awaitCompleted(dir);
            }
            awaitMoreTicks(dir, 2, 10);
            assertEquals(pid, molt.pid());
            assertTrue(molt.alive());
            assertConsecutive(dir);
        }
    }

    @Test
    void refusedUpdatesLeaveTheGuestRunning(@TempDir Path dir) throws Exception {
        Path state = dir.resolve("vm.state");
        Path notExecutable = dir.resolve("not-executable");
        Files.writeString(notExecutable, "data");
        Path badFormat = dir.resolve("bad-format");
        Files.writeString(badFormat, "\u0000\u0001 not a program");
        badFormat.toFile().setExecutable(true);
        List<String> args = vmArgs(dir, 1, "256M");
        try (MoltProcess molt = MoltProcess.start(args.toArray(String[]::new))) {
            awaitMoreTicks(dir, 1, 10);
            record Case(List<String> command, String uri, String error) {}
            List<Case> cases = List.of(
                    new Case(List.of(), "file:" + state, "cpr-exec mode requires setting cpr-exec-command"),
                    new Case(List.of("/nonexistent/molt"), "file:" + state, "does not exist"),
                    new Case(List.of(notExecutable.toString()), "file:" + state, "is not an executable file"),
                    new Case(newMolt(args, state), "unix:" + dir.resolve("x.sock"), "cpr-exec needs a file: migration URI"));
            for (Case c : cases) {
                try (QmpClient q = QmpClient.unix(dir.resolve("vm.qmp"), T).negotiated()) {
                    q.execute("migrate-set-parameters", Map.of("mode", "cpr-exec", "cpr-exec-command", c.command()));
                    Map<String, Object> r = q.execute("migrate", Map.of("uri", c.uri()));
                    assertTrue(String.valueOf(r.get("error")).contains(c.error()), c + " -> " + r);
                    assertEquals("running", q.returned("query-status").get("status"));
                }
            }
            // The exec itself fails (ENOEXEC): the old molt resumes the guest and reports it.
            assertTrue(update(dir, List.of(badFormat.toString()), "file:" + state).containsKey("return"));
            // The monitor stops accepting around the exec attempt (as connections drop at an exec), so reconnect.
            Map<String, Object> m = null;
            long deadline = System.nanoTime() + T.toNanos();
            while (m == null) {
                try (QmpClient q = QmpClient.unix(dir.resolve("vm.qmp"), T).negotiated()) {
                    Map<String, Object> now = q.returned("query-migrate");
                    if ("failed".equals(now.get("status")) && "running".equals(q.returned("query-status").get("status"))) m = now;
                } catch (java.io.IOException | AssertionError e) {
                    if (System.nanoTime() > deadline) throw e;
                }
                Thread.sleep(100);
            }
            assertTrue(String.valueOf(m.get("error-desc")).contains("failed"), m.toString());
            awaitMoreTicks(dir, 1, 20);
            assertConsecutive(dir);
        }
        // Private RAM cannot be preserved: refused before the guest stops.
        Path dir2 = dir.resolve("private");
        Files.createDirectories(dir2);
        List<String> privateRam = new ArrayList<>(vmArgs(dir2, 1, "256M"));
        privateRam.set(1, "microvm");
        try (MoltProcess molt = MoltProcess.start(privateRam.toArray(String[]::new))) {
            awaitMoreTicks(dir2, 1, 10);
            Map<String, Object> r = update(dir2, newMolt(privateRam, state), "file:" + state);
            assertTrue(String.valueOf(r.get("error")).contains("is not compatible with CPR"), r.toString());
            awaitMoreTicks(dir2, 1, 10);
        }
    }

    @Test
    void aNewMoltThatCannotResumeGoesBackToTheOldOne(@TempDir Path dir) throws Exception {
        List<String> args = vmArgs(dir, 2, "512M");
        Path state = dir.resolve("vm.state");
        try (MoltProcess molt = MoltProcess.start(args.toArray(String[]::new))) {
            long pid = molt.pid();
            // 1. A new command line without -incoming: QEMU boots a fresh guest here; molt goes back.
            awaitMoreTicks(dir, 2, 10);
            List<String> noIncoming = new ArrayList<>(List.of(Project.launcher().toString()));
            noIncoming.addAll(args);
            update(dir, noIncoming, "file:" + state);
            awaitCompleted(dir);
            awaitMoreTicks(dir, 2, 20);
            // 2. A different -m.
            List<String> otherRam = new ArrayList<>(args);
            otherRam.set(otherRam.indexOf("512M"), "1G");
            update(dir, newMolt(otherRam, state), "file:" + state);
            awaitCompleted(dir);
            awaitMoreTicks(dir, 2, 20);
            // 3. A new molt that cannot load the state (here: it is pointed at the wrong file).
            List<String> wrongState = new ArrayList<>(List.of(Project.launcher().toString()));
            wrongState.addAll(args);
            wrongState.addAll(List.of("-incoming", "file:" + dir.resolve("no-such.state")));
            update(dir, wrongState, "file:" + state);
            awaitCompleted(dir);
            awaitMoreTicks(dir, 2, 20);
            assertEquals(pid, molt.pid());
            assertTrue(molt.alive());
            assertConsecutive(dir);
            assertTrue(molt.stderr().contains("going back to the previous molt"), molt.stderr());
        }
    }

    /**
     * The new binary dies before any of molt's code runs (a crash at start, a wrapper that exits):
     * the keeper started by the old molt sees its pipe close with no word and becomes the previous
     * molt, which resumes the guest from the same RAM and state (in the keeper's PID: the original
     * process is gone).
     */
    @ParameterizedTest(name = "new binary: {0}")
    @ValueSource(strings = {"kill -SEGV $$", "exit 3"})
    void aNewBinaryThatDiesAtStartIsReplacedByThePreviousMolt(String body, @TempDir Path dir) throws Exception {
        Path pidfile = dir.resolve("molt.pid");
        List<String> args = vmArgs(dir, 2, "512M", "-pidfile", pidfile.toString());
        Path state = dir.resolve("vm.state");
        Path broken = dir.resolve("broken-molt");
        Files.writeString(broken, "#!/bin/sh\n" + body + "\n");
        broken.toFile().setExecutable(true);
        long relaunched = -1;
        try (MoltProcess molt = MoltProcess.start(args.toArray(String[]::new))) {
            awaitMoreTicks(dir, 2, 10);
            long pid = molt.pid();
            assertTrue(update(dir, List.of(broken.toString()), "file:" + state).containsKey("return"));
            molt.awaitExit(T); // the PID itself is gone: the new binary died in it
            Map<String, Object> done = awaitCompleted(dir);
            awaitMoreTicks(dir, 2, 20);
            assertConsecutive(dir);
            relaunched = Long.parseLong(Files.readString(pidfile).trim());
            assertTrue(relaunched != pid && ProcessHandle.of(relaunched).isPresent(), "relaunched as " + relaunched);
            assertTrue(molt.stderr().contains("going back to the previous molt"), molt.stderr());
            System.out.printf("[CprExecIT] %s: new binary '%s' died in PID %d; the keeper resumed the guest under the previous molt in PID %d (%s)%n",
                    KvmHost.FLAVOUR, body, pid, relaunched, done.get("status"));
        } finally {
            if (relaunched > 0) ProcessHandle.of(relaunched).ifPresent(ProcessHandle::destroyForcibly);
        }
    }

    /** After a good update the keeper is gone (released and reaped): no process is left holding guest RAM. */
    @Test
    void theKeeperLeavesOnceTheNewMoltHasTheGuest(@TempDir Path dir) throws Exception {
        List<String> args = vmArgs(dir, 1, "256M");
        Path state = dir.resolve("vm.state");
        try (MoltProcess molt = MoltProcess.start(args.toArray(String[]::new))) {
            awaitMoreTicks(dir, 1, 10);
            assertTrue(update(dir, newMolt(args, state), "file:" + state).containsKey("return"));
            awaitCompleted(dir);
            GuestIT.waitFor(() -> ProcessHandle.of(molt.pid()).orElseThrow().children().findAny().isEmpty(), T);
            assertTrue(ProcessHandle.of(molt.pid()).orElseThrow().children().findAny().isEmpty());
            // A zombie would still be listed in /proc as the molt's child with state Z.
            try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
                for (Path p : procs.filter(x -> x.getFileName().toString().matches("\\d+")).toList()) {
                    try {
                        String st = Files.readString(p.resolve("stat"));
                        String[] f = st.substring(st.lastIndexOf(')') + 2).split(" ");
                        assertTrue(!(f[1].equals(String.valueOf(molt.pid())) && f[0].equals("Z")), "zombie child " + p);
                    } catch (java.io.IOException ignored) {
                        // Gone meanwhile.
                    }
                }
            }
        }
    }
}
