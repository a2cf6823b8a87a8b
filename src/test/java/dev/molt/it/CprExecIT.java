package dev.molt.it;

import org.junit.jupiter.api.BeforeEach;
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
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** cpr-exec live updates of molt under a running test guest, on real KVM. */
@Tag("kvm")
class CprExecIT {
    private static final Duration T = Duration.ofSeconds(90);

    @BeforeEach
    void host() {
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

    /** As {@link #vmArgs}, 256 MiB, with the console on a listening unix socket at {@code sock} instead of the log file. */
    static List<String> socketConsoleArgs(Path dir, int cpus, Path sock) {
        List<String> args = new ArrayList<>(vmArgs(dir, cpus, "256M"));
        args.set(args.indexOf("file,id=con,path=" + dir.resolve("console.log") + ",append=on"), "socket,id=con,path=" + sock + ",server=on,wait=off");
        return args;
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

    static Map<Integer, String> fds(long pid) throws Exception {
        Map<Integer, String> out = new TreeMap<>();
        try (Stream<Path> fds = Files.list(Path.of("/proc/" + pid + "/fd"))) {
            for (Path fd : fds.toList()) {
                try {
                    out.put(Integer.parseInt(fd.getFileName().toString()), Files.readSymbolicLink(fd).toString());
                } catch (Exception ignored) {
                    // Closed meanwhile.
                }
            }
        }
        return out;
    }

    /** The listening unix sockets {@code pid} holds, as its fds show them ("socket:[inode]"). */
    static Set<String> listeningSockets(long pid) throws Exception {
        Set<String> listening = new HashSet<>();
        List<String> lines = Files.readAllLines(Path.of("/proc/net/unix"));
        for (String line : lines.subList(1, lines.size())) {
            String[] f = line.trim().split("\\s+");
            // Flags has __SO_ACCEPTCON (0x10000) for a listening socket.
            if (f.length >= 7 && (Integer.parseInt(f[3], 16) & 0x10000) != 0) listening.add("socket:[" + f[6] + "]");
        }
        Set<String> held = new HashSet<>(fds(pid).values());
        held.retainAll(listening);
        return held;
    }

    /**
     * After a live update the process holds exactly what it needs: stdio, the JDK's own files,
     * KVM, the guest's RAM and console, the CPR state, and the monitors' listening sockets - the
     * very ones the old process had ({@code listening}) - with one wake-up eventfd each, and the
     * reload gate's eventfd that the first client's reader made (sys/ReadGate). No other
     * socket, pipe or file: nothing leaked through the exec. Sessions of clients that just left
     * close their sockets on threads of their own, so this waits a little for them.
     */
    static void assertOnlyExpectedFds(long pid, int cpus, Set<String> listening, Path dir) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (true) {
            Map<Integer, String> fds = fds(pid);
            Map<String, Integer> kinds = new TreeMap<>();
            List<String> unexpected = new ArrayList<>();
            fds.forEach((n, target) -> {
                String kind = n <= 2 && target.startsWith("pipe:") ? "stdio"
                        : target.equals("/dev/kvm") ? "kvm"
                        : target.equals("anon_inode:kvm-vm") ? "kvm-vm"
                        : target.startsWith("anon_inode:kvm-vcpu:") ? "kvm-vcpu"
                        : target.startsWith("/memfd:microvm.ram") ? "ram"
                        : target.startsWith("/memfd:MOLT_CPR_EXEC_STATE") ? "cpr-state"
                        : target.equals(dir.resolve("console.log").toString()) ? "console"
                        : target.endsWith("/lib/modules") || target.endsWith(".jar") || target.endsWith(".aot") ? "jdk"
                        : target.equals("anon_inode:[eventfd]") ? "eventfd"
                        : listening.contains(target) ? "listening" : null;
                if (kind == null) unexpected.add(n + " -> " + target);
                else kinds.merge(kind, 1, Integer::sum);
            });
            Map<String, Integer> expected = new TreeMap<>(Map.of("stdio", 3, "kvm", 1, "kvm-vm", 1, "kvm-vcpu", cpus, "ram", 1,
                    "console", 1, "eventfd", listening.size() + 1, "listening", listening.size()));
            kinds.remove("jdk"); // the JDK's modules image and molt's jar (and the AOT cache when there is one)
            if (kinds.getOrDefault("cpr-state", 0) == 1) kinds.remove("cpr-state"); // kept for going back
            if (listening.isEmpty()) expected.keySet().removeAll(Set.of("eventfd", "listening"));
            if (unexpected.isEmpty() && kinds.equals(expected)) return;
            if (System.nanoTime() > deadline) {
                throw new AssertionError("unexpected fds " + unexpected + "; by kind " + kinds + ", expected " + expected + "; all: " + fds);
            }
            Thread.sleep(100);
        }
    }

    @ParameterizedTest(name = "{0} vCPU(s)")
    @ValueSource(ints = {1, 2})
    void liveUpdateKeepsPidRamAndGuest(int cpus, @TempDir Path dir) throws Exception {
        List<String> args = vmArgs(dir, cpus, "1G");
        Path state = dir.resolve("vm.state");
        try (MoltProcess molt = MoltProcess.start(args.toArray(String[]::new))) {
            awaitMoreTicks(dir, cpus, 20);
            long pid = molt.pid();
            Set<String> listening = listeningSockets(pid);
            assertEquals(1, listening.size(), "the QMP socket: " + fds(pid));
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
            assertOnlyExpectedFds(pid, cpus, listening, dir);
        }
    }

    @Test
    void monitorClientsAreNeverRefusedAndReconnectedOnesSeeTheResume(@TempDir Path dir) throws Exception {
        Path qmpSocket = dir.resolve("vm.qmp");
        Path hmpSocket = dir.resolve("vm.hmp");
        List<String> args = vmArgs(dir, 2, "512M", "-monitor", "unix:" + hmpSocket + ",server=on,wait=off");
        Path state = dir.resolve("vm.state");
        try (MoltProcess molt = MoltProcess.start(args.toArray(String[]::new))) {
            awaitMoreTicks(dir, 2, 10);
            long pid = molt.pid();
            Set<String> listening = listeningSockets(pid);
            assertEquals(2, listening.size(), "QMP and HMP: " + fds(pid));
            QmpClient qmp = QmpClient.unix(qmpSocket, T).negotiated();
            HmpClient hmp = new HmpClient(connect(hmpSocket));
            hmp.await("(qemu) ", T);
            assertTrue(qmp.execute("migrate-set-parameters", Map.of("mode", "cpr-exec", "cpr-exec-command", newMolt(args, state)))
                    .containsKey("return"));
            // Both clients connect again the moment the exec drops them, as fast as they can.
            Reconnect qmpAgain = Reconnect.after(qmp::awaitClosed, qmpSocket, T);
            Reconnect hmpAgain = Reconnect.after(hmp::awaitClosed, hmpSocket, T);
            assertTrue(qmp.execute("migrate", Map.of("uri", "file:" + state)).containsKey("return"));

            try (QmpClient again = QmpClient.over(qmpAgain.channel(T)); HmpClient hmpAfter = new HmpClient(hmpAgain.channel(T))) {
                assertEquals(0, qmpAgain.failedAttempts(), "QMP connection attempts that failed during the update");
                assertEquals(0, hmpAgain.failedAttempts(), "HMP connection attempts that failed during the update");
                assertTrue(again.greeting.containsKey("QMP"), again.greeting.toString());
                again.negotiated();
                // It connected while the guest was paused, so it must learn that the guest runs again.
                again.event("RESUME", T);
                assertEquals("running", again.returned("query-status").get("status"));
                hmpAfter.await("(qemu) ", T);
                GuestIT.waitFor(() -> hmpAfter.command("info status", T).contains("VM status: running"), T);
            }
            Map<String, Object> done = awaitCompleted(dir);
            assertTrue(done.containsKey("x-cpr-downtime-breakdown"), "served by the new molt: " + done);
            assertEquals(pid, molt.pid());
            awaitMoreTicks(dir, 2, 10);
            assertConsecutive(dir);
            assertEquals(listening, listeningSockets(pid), "the very same listening sockets");
            assertOnlyExpectedFds(pid, 2, listening, dir);
        }
    }

    static java.nio.channels.SocketChannel connect(Path socket) throws java.io.IOException {
        java.nio.channels.SocketChannel c = java.nio.channels.SocketChannel.open(java.net.StandardProtocolFamily.UNIX);
        c.connect(java.net.UnixDomainSocketAddress.of(socket));
        return c;
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

    /** A cpr-exec that molt refuses before the guest stops, and the error it names. */
    record RefusedUpdate(List<String> command, String uri, String error) {}

    /** Every refusal of a cpr-exec update of a molt started with {@code args} (writes a non-executable file in {@code dir}). */
    static List<RefusedUpdate> refusedUpdates(Path dir, List<String> args, Path state) throws Exception {
        Path notExecutable = dir.resolve("not-executable");
        Files.writeString(notExecutable, "data");
        // A new install whose jar is not there: its launcher, asked what it would exec, says so while the guest runs.
        Path broken = Files.createDirectories(dir.resolve("broken/bin/lib"));
        Files.copy(Project.launcher(), broken.resolveSibling("molt"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        Files.copy(Project.launcher().resolveSibling("lib/jdk.sh"), broken.resolve("jdk.sh"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        broken.resolveSibling("molt").toFile().setExecutable(true);
        List<String> brokenInstall = new ArrayList<>(newMolt(args, state));
        brokenInstall.set(0, broken.resolveSibling("molt").toString());
        return List.of(
                new RefusedUpdate(brokenInstall, "file:" + state, "failed before the guest stopped: molt: "
                        + broken.resolveSibling("molt").getParent() + "/../target/molt.jar is missing"),
                new RefusedUpdate(List.of(), "file:" + state, "cpr-exec mode requires setting cpr-exec-command"),
                new RefusedUpdate(List.of("/nonexistent/molt"), "file:" + state, "does not exist"),
                new RefusedUpdate(List.of(notExecutable.toString()), "file:" + state, "is not an executable file"),
                new RefusedUpdate(newMolt(args, state), "unix:" + dir.resolve("x.sock"), "cpr-exec needs a file: or exec: migration URI"));
    }

    /** An executable file the kernel cannot exec (ENOEXEC): a cpr-exec to it fails at the exec itself. */
    static Path badFormatBinary(Path dir) throws Exception {
        Path badFormat = dir.resolve("bad-format");
        Files.writeString(badFormat, "\u0000\u0001 not a program");
        badFormat.toFile().setExecutable(true);
        return badFormat;
    }

    @Test
    void refusedUpdatesLeaveTheGuestRunning(@TempDir Path dir) throws Exception {
        Path state = dir.resolve("vm.state");
        Path badFormat = badFormatBinary(dir);
        List<String> args = vmArgs(dir, 1, "256M");
        try (MoltProcess molt = MoltProcess.start(args.toArray(String[]::new))) {
            awaitMoreTicks(dir, 1, 10);
            for (RefusedUpdate c : refusedUpdates(dir, args, state)) {
                try (QmpClient q = QmpClient.unix(dir.resolve("vm.qmp"), T).negotiated()) {
                    q.execute("migrate-set-parameters", Map.of("mode", "cpr-exec", "cpr-exec-command", c.command()));
                    Map<String, Object> r = q.execute("migrate", Map.of("uri", c.uri()));
                    assertTrue(String.valueOf(r.get("error")).contains(c.error()), c + " -> " + r);
                    assertEquals("running", q.returned("query-status").get("status"));
                }
            }
            // The exec itself fails (ENOEXEC): the old molt resumes the guest and reports it, and goes on
            // serving the same listening socket; a client connected through the attempt stays connected.
            Set<String> listening = listeningSockets(molt.pid());
            try (QmpClient q = QmpClient.unix(dir.resolve("vm.qmp"), T).negotiated()) {
                q.execute("migrate-set-parameters", Map.of("mode", "cpr-exec", "cpr-exec-command", List.of(badFormat.toString())));
                assertTrue(q.execute("migrate", Map.of("uri", "file:" + state)).containsKey("return"));
                q.event("STOP", T);
                q.event("RESUME", T);
                GuestIT.waitFor(() -> "failed".equals(q.returned("query-migrate").get("status")), T);
                Map<String, Object> m = q.returned("query-migrate");
                assertTrue(String.valueOf(m.get("error-desc")).contains("failed"), m.toString());
                assertEquals("running", q.returned("query-status").get("status"));
            }
            try (QmpClient q = QmpClient.connect(java.net.UnixDomainSocketAddress.of(dir.resolve("vm.qmp")),
                    java.net.StandardProtocolFamily.UNIX).negotiated()) { // one attempt: it must not be refused
                assertEquals("running", q.returned("query-status").get("status"));
                assertEquals("failed", q.returned("query-migrate").get("status"));
            }
            assertEquals(listening, listeningSockets(molt.pid()), "the same listening socket, not bound again");
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
            // 4. Its QMP socket elsewhere, and a different -m: it closes the inherited socket it has no use
            // for, then goes back, handing over a state that no longer names that socket; the old molt listens anew.
            List<String> moved = new ArrayList<>(otherRam);
            moved.set(moved.indexOf("-qmp") + 1, "unix:" + dir.resolve("moved.qmp") + ",server=on,wait=off");
            update(dir, newMolt(moved, state), "file:" + state);
            awaitCompleted(dir);
            awaitMoreTicks(dir, 2, 20);
            assertFalse(molt.stderr().contains("cannot be used"), molt.stderr());
            assertOnlyExpectedFds(pid, 2, listeningSockets(pid), dir);
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
            Set<String> listening = listeningSockets(pid);
            assertTrue(update(dir, List.of(broken.toString()), "file:" + state).containsKey("return"));
            molt.awaitExit(T); // the PID itself is gone: the new binary died in it
            Map<String, Object> done = awaitCompleted(dir);
            awaitMoreTicks(dir, 2, 20);
            assertConsecutive(dir);
            relaunched = Long.parseLong(Files.readString(pidfile).trim());
            assertTrue(relaunched != pid && ProcessHandle.of(relaunched).isPresent(), "relaunched as " + relaunched);
            assertEquals(listening, listeningSockets(relaunched), "the keeper kept the QMP socket listening for the previous molt");
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

    /**
     * A serial console on a unix socket carries on across the update: the client connected before
     * it stays connected (the socket crosses the exec), keeps receiving the guest's output, and its
     * input reaches the guest under the new molt.
     */
    @Test
    void aSocketConsoleClientStaysConnected(@TempDir Path dir) throws Exception {
        Path sock = dir.resolve("console.sock");
        List<String> args = socketConsoleArgs(dir, 1, sock);
        Path state = dir.resolve("vm.state");
        try (MoltProcess molt = MoltProcess.start(args.toArray(String[]::new))) {
            GuestIT.waitFor(() -> Files.exists(sock), T);
            try (java.nio.channels.SocketChannel client = java.nio.channels.SocketChannel.open(java.net.UnixDomainSocketAddress.of(sock))) {
                java.io.BufferedReader in = new java.io.BufferedReader(new java.io.InputStreamReader(
                        java.nio.channels.Channels.newInputStream(client), StandardCharsets.ISO_8859_1));
                List<Tick> before = new ArrayList<>();
                while (before.size() < 10) {
                    Tick t = Tick.parse(in.readLine().replace("\r", ""));
                    if (t != null) before.add(t);
                }
                assertTrue(update(dir, newMolt(args, state), "file:" + state).containsKey("return"));
                awaitCompleted(dir);
                // The same connection: the ticks go on, consecutive, after the update.
                Tick last = before.getLast();
                List<Tick> after = new ArrayList<>();
                while (after.size() < 30) {
                    String line = in.readLine();
                    assertTrue(line != null, "the console connection ended at the update");
                    Tick t = Tick.parse(line.replace("\r", ""));
                    if (t != null) after.add(t);
                }
                for (Tick t : after) {
                    assertTrue(t.n() == last.n() + 1 || t.n() == last.n() + 2, last + " then " + t);
                    assertTrue(t.ok(), t.toString());
                    last = t;
                }
                client.write(java.nio.ByteBuffer.wrap("after-update\n".getBytes(StandardCharsets.US_ASCII)));
                String line;
                do {
                    line = in.readLine();
                    assertTrue(line != null, "the console connection ended");
                } while (!line.contains("rx after-update"));
                System.out.printf("[CprExecIT] %s: socket console client stayed connected across cpr-exec; ticks %d..%d; input reached the guest%n",
                        KvmHost.FLAVOUR, before.getFirst().n(), last.n());
            }
        }
    }

    /**
     * Every port access the guest makes is a VM exit that KVM completes (the IN's value into RAX,
     * RIP past the instruction) only on the next KVM_RUN. A vCPU paused right after one, its state
     * captured then, would repeat the IN or OUT after the update: a console byte written twice, an
     * input byte lost. So, through 20 updates of a 2-vCPU guest writing ticks on the console, input
     * lines go in all the time; afterwards each must have been echoed exactly once, and every line
     * out of the console must be whole (a tick, or the echo of a line sent).
     */
    @Test
    void consoleBytesAreNeitherRepeatedNorLostAcrossUpdates(@TempDir Path dir) throws Exception {
        Path sock = dir.resolve("console.sock");
        List<String> args = socketConsoleArgs(dir, 2, sock);
        Path state = dir.resolve("vm.state");
        try (MoltProcess molt = MoltProcess.start(args.toArray(String[]::new))) {
            GuestIT.waitFor(() -> Files.exists(sock), T);
            try (java.nio.channels.SocketChannel client = java.nio.channels.SocketChannel.open(java.net.UnixDomainSocketAddress.of(sock))) {
                java.io.BufferedReader in = new java.io.BufferedReader(new java.io.InputStreamReader(
                        java.nio.channels.Channels.newInputStream(client), StandardCharsets.ISO_8859_1));
                List<String> lines = java.util.Collections.synchronizedList(new ArrayList<>());
                Thread reader = Thread.ofPlatform().daemon().start(() -> {
                    try {
                        for (String l; (l = in.readLine()) != null; ) lines.add(l.replace("\r", ""));
                    } catch (java.io.IOException ignored) {
                        // The test closed the connection.
                    }
                });
                GuestIT.waitFor(() -> Tick.all(List.copyOf(lines)).size() >= 4, T);
                java.util.concurrent.atomic.AtomicBoolean sending = new java.util.concurrent.atomic.AtomicBoolean(true);
                java.util.concurrent.atomic.AtomicInteger sent = new java.util.concurrent.atomic.AtomicInteger();
                Thread writer = Thread.ofPlatform().daemon().start(() -> {
                    try {
                        while (sending.get()) {
                            client.write(java.nio.ByteBuffer.wrap(("in-" + sent.get() + "\r").getBytes(StandardCharsets.US_ASCII)));
                            sent.incrementAndGet();
                            Thread.sleep(3);
                        }
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                });
                for (int i = 0; i < 20; i++) {
                    assertTrue(update(dir, newMolt(args, state), "file:" + state).containsKey("return"), "update " + i);
                    awaitCompleted(dir);
                    // The console is this socket, not console.log: count the ticks the client read.
                    int seen = Tick.all(List.copyOf(lines)).size();
                    GuestIT.waitFor(() -> Tick.all(List.copyOf(lines)).size() >= seen + 6, T);
                }
                sending.set(false);
                writer.join(10_000);
                client.write(java.nio.ByteBuffer.wrap("done\r".getBytes(StandardCharsets.US_ASCII)));
                GuestIT.waitFor(() -> lines.contains("rx done"), T);
                int first = 0;
                List<String> all = List.copyOf(lines);
                while (Tick.parse(all.get(first)) == null) first++; // boot lines come before the first tick
                Map<Integer, Integer> echoed = new TreeMap<>();
                List<String> broken = new ArrayList<>();
                for (String l : all.subList(first, all.size())) {
                    if (Tick.parse(l) != null || l.equals("rx done")) continue;
                    java.util.regex.Matcher m = java.util.regex.Pattern.compile("rx in-(\\d+)").matcher(l);
                    if (m.matches()) echoed.merge(Integer.parseInt(m.group(1)), 1, Integer::sum);
                    else broken.add(l);
                }
                List<Integer> wrong = new ArrayList<>();
                for (int k = 0; k < sent.get(); k++) if (echoed.getOrDefault(k, 0) != 1) wrong.add(k);
                assertTrue(broken.isEmpty(), "console lines not whole (a byte repeated or lost?): " + broken);
                assertTrue(wrong.isEmpty(), "input lines not echoed exactly once: " + wrong + " of " + sent.get());
                System.out.printf("[CprExecIT] %s: 20 updates, %d input lines each echoed once, %d console lines all whole%n",
                        KvmHost.FLAVOUR, sent.get(), all.size() - first);
                client.close();
                reader.join(10_000);
            }
        }
    }

    /**
     * The test guest's block workload (blk=1: every tick each vCPU writes its next sequence-stamped
     * block to a virtio-blk disk, reads it back and compares) across 10 updates: every "blk" line ok,
     * their sequence numbers contiguous per vCPU, and the last blocks on the image stamped as the
     * guest says it wrote them.
     */
    @Test
    void aGuestWritingItsDiskAllTheTimeSeesEveryBlockAcrossUpdates(@TempDir Path dir) throws Exception {
        Path image = dir.resolve("disk.raw");
        try (java.io.RandomAccessFile f = new java.io.RandomAccessFile(image.toFile(), "rw")) {
            f.setLength(1 << 20);
        }
        List<String> args = new ArrayList<>(vmArgs(dir, 2, "256M", "-drive", "if=none,id=d0,file=" + image + ",format=raw",
                "-device", "virtio-blk-device,drive=d0"));
        args.set(args.indexOf("mem=64M"), "mem=64M blk=1");
        Path state = dir.resolve("vm.state");
        try (MoltProcess molt = MoltProcess.start(args.toArray(String[]::new))) {
            awaitMoreTicks(dir, 2, 5);
            for (int i = 0; i < 10; i++) {
                assertTrue(update(dir, newMolt(args, state), "file:" + state).containsKey("return"), "update " + i);
                awaitCompleted(dir);
                awaitMoreTicks(dir, 2, 3);
            }
            // Whole lines only: the guest runs on, and the file's last line may be half written yet.
            String console = Files.readString(dir.resolve("console.log"), StandardCharsets.US_ASCII);
            List<String> lines = console.substring(0, console.lastIndexOf('\n') + 1).lines().toList();
            Map<Integer, Long> last = new HashMap<>();
            long blocks = 0;
            for (String l : lines) {
                if (!l.startsWith("blk ")) continue;
                String[] w = l.trim().split(" ");
                assertEquals(4, w.length, "a blk line that is not whole: '" + l + "'");
                assertEquals("ok", w[3], "a block that did not read back as written: " + l);
                int cpu = Integer.parseInt(w[1]);
                long n = Long.parseLong(w[2]);
                Long before = last.put(cpu, n);
                assertTrue(before == null || n == before + 1, "vCPU " + cpu + "'s blocks " + before + " then " + n);
                blocks++;
            }
            assertEquals(Set.of(0, 1), last.keySet(), "both vCPUs wrote: " + last);
            assertTrue(blocks > 20, "blocks: " + blocks);
            System.out.printf("[CprExecIT] %s: %d disk blocks written and read back ok across 10 cpr-exec updates%n", KvmHost.FLAVOUR, blocks);
        }
    }
}
