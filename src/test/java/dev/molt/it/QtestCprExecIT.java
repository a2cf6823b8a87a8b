package dev.molt.it;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static dev.molt.it.CprExecIT.awaitCompleted;
import static dev.molt.it.CprExecIT.listeningSockets;
import static dev.molt.it.CprExecIT.newMolt;
import static dev.molt.it.CprExecIT.update;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
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

    /**
     * -S in cpr-exec-command does not hold the guest: a cpr-exec updates it in place, and unlike a
     * migration's destination nobody waits to cont it (libvirt does not drive cpr-exec).
     */
    @Test
    void minusSInTheNewCommandLineDoesNotPauseTheUpdatedGuest(@TempDir Path dir) throws Exception {
        List<String> args = QtestVm.args(dir, "64M");
        try (QtestVm vm = QtestVm.start(dir, args)) {
            vm.writePattern(8, BASE, LEN);
            Path state = dir.resolve("vm.state");
            List<String> withS = new ArrayList<>(CprExecIT.newMolt(args, state));
            withS.add("-S");
            assertTrue(CprExecIT.update(dir, withS, "file:" + state).containsKey("return"));
            CprExecIT.awaitCompleted(dir); // completed and running
            vm.reconnect();
            assertEquals(-1, vm.firstBadPage(8, BASE, LEN));
        }
    }

    /** After a failed or refused update: the old molt runs the guest, its RAM untouched, its QMP socket the same. */
    private static void assertStillRunsTheGuest(QtestVm vm, long pid, Set<String> listening) throws Exception {
        assertEquals(pid, vm.process.pid());
        assertTrue(vm.process.alive());
        assertEquals(listening, listeningSockets(pid), "the same listening QMP socket");
        try (QmpClient q = vm.qmp()) {
            assertEquals("running", q.returned("query-status").get("status"));
        }
    }

    @Test
    void refusedAndFailedUpdatesLeaveTheGuestRunning(@TempDir Path dir) throws Exception {
        Path state = dir.resolve("vm.state");
        Path badFormat = CprExecIT.badFormatBinary(dir);
        List<String> args = QtestVm.args(dir, "128M");
        try (QtestVm vm = QtestVm.start(dir, args)) {
            vm.writePattern(3, BASE, LEN);
            long pid = vm.process.pid();
            Set<String> listening = listeningSockets(pid);
            for (CprExecIT.RefusedUpdate c : CprExecIT.refusedUpdates(dir, args, state)) {
                try (QmpClient q = vm.qmp()) {
                    q.execute("migrate-set-parameters", Map.of("mode", "cpr-exec", "cpr-exec-command", c.command()));
                    Map<String, Object> r = q.execute("migrate", Map.of("uri", c.uri()));
                    assertTrue(String.valueOf(r.get("error")).contains(c.error()), c + " -> " + r);
                }
                assertStillRunsTheGuest(vm, pid, listening);
            }
            // The exec itself fails (ENOEXEC): the old molt resumes the guest, reports it, serves the same socket.
            try (QmpClient q = vm.qmp()) {
                q.execute("migrate-set-parameters", Map.of("mode", "cpr-exec", "cpr-exec-command", List.of(badFormat.toString())));
                assertTrue(q.execute("migrate", Map.of("uri", "file:" + state)).containsKey("return"));
                q.event("STOP", QtestVm.T);
                q.event("RESUME", QtestVm.T);
                GuestIT.waitFor(() -> "failed".equals(q.returned("query-migrate").get("status")), QtestVm.T);
            }
            assertStillRunsTheGuest(vm, pid, listening);
            // The qtest connection survived the failed attempt: the same process never exec'd.
            assertEquals(-1, vm.firstBadPage(3, BASE, LEN));
        }
        // Private RAM cannot be preserved: refused before the guest stops.
        Path dir2 = Files.createDirectories(dir.resolve("private"));
        List<String> privateRam = new ArrayList<>(QtestVm.args(dir2, "128M"));
        privateRam.set(privateRam.indexOf("microvm,aux-ram-share=on"), "microvm");
        try (QtestVm vm = QtestVm.start(dir2, privateRam)) {
            vm.writePattern(4, BASE, LEN);
            Map<String, Object> r = update(dir2, newMolt(privateRam, state), "file:" + state);
            assertTrue(String.valueOf(r.get("error")).contains("is not compatible with CPR"), r.toString());
            assertStillRunsTheGuest(vm, vm.process.pid(), listeningSockets(vm.process.pid()));
            assertEquals(-1, vm.firstBadPage(4, BASE, LEN));
        }
    }

    /**
     * A new molt that cannot resume the guest re-executes the previous command on the same state:
     * no -incoming, a different -m, a state file that is not there. Each time the guest's RAM is
     * intact in the same process afterwards.
     */
    @Test
    void aNewMoltThatCannotResumeGoesBackToTheOldOne(@TempDir Path dir) throws Exception {
        List<String> args = QtestVm.args(dir, "128M");
        Path state = dir.resolve("vm.state");
        try (QtestVm vm = QtestVm.start(dir, args)) {
            vm.writePattern(5, BASE, LEN);
            long pid = vm.process.pid();
            List<String> noIncoming = new ArrayList<>(List.of(Project.launcher().toString()));
            noIncoming.addAll(args);
            List<String> otherRam = new ArrayList<>(args);
            otherRam.set(otherRam.indexOf("128M"), "256M");
            List<String> wrongState = new ArrayList<>(noIncoming);
            wrongState.addAll(List.of("-incoming", "file:" + dir.resolve("no-such.state")));
            for (List<String> command : List.of(noIncoming, newMolt(otherRam, state), wrongState)) {
                assertTrue(update(dir, command, "file:" + state).containsKey("return"));
                awaitCompleted(dir);
                vm.reconnect();
                assertEquals(pid, vm.process.pid());
                assertEquals(-1, vm.firstBadPage(5, BASE, LEN), "RAM intact after going back: " + command);
            }
            assertTrue(vm.process.stderr().contains("going back to the previous molt"), vm.process.stderr());
            System.out.println("[molt-it] qtest: three new molts that could not resume went back to the previous one, RAM intact");
        }
    }

    /**
     * The new binary dies before any of molt's code runs: the keeper becomes the previous molt, which
     * resumes the guest from the same RAM (in the keeper's PID: the original process is gone) and
     * connects to the test's qtest socket.
     */
    @ParameterizedTest(name = "new binary: {0}")
    @ValueSource(strings = {"kill -SEGV $$", "exit 3"})
    void aNewBinaryThatDiesAtStartIsReplacedByThePreviousMolt(String body, @TempDir Path dir) throws Exception {
        Path pidfile = dir.resolve("molt.pid");
        List<String> args = QtestVm.args(dir, "128M", "-pidfile", pidfile.toString());
        Path state = dir.resolve("vm.state");
        Path broken = dir.resolve("broken-molt");
        Files.writeString(broken, "#!/bin/sh\n" + body + "\n");
        broken.toFile().setExecutable(true);
        long relaunched = -1;
        try (QtestVm vm = QtestVm.start(dir, args)) {
            vm.writePattern(6, BASE, LEN);
            long pid = vm.process.pid();
            Set<String> listening = listeningSockets(pid);
            assertTrue(update(dir, List.of(broken.toString()), "file:" + state).containsKey("return"));
            vm.process.awaitExit(QtestVm.T);
            awaitCompleted(dir);
            vm.reconnect();
            relaunched = Long.parseLong(Files.readString(pidfile).trim());
            assertTrue(relaunched != pid && ProcessHandle.of(relaunched).isPresent(), "relaunched as " + relaunched);
            assertEquals(listening, listeningSockets(relaunched), "the keeper kept the QMP socket listening for the previous molt");
            assertEquals(-1, vm.firstBadPage(6, BASE, LEN), "RAM intact under the relaunched molt");
            System.out.printf("[molt-it] qtest: new binary '%s' died; the keeper resumed the guest under the previous molt in PID %d%n",
                    body, relaunched);
        } finally {
            if (relaunched > 0) ProcessHandle.of(relaunched).ifPresent(ProcessHandle::destroyForcibly);
        }
    }

    /** A serial console on a socket keeps its client across the update, both ways. */
    @Test
    void aSocketConsoleClientStaysConnected(@TempDir Path dir) throws Exception {
        Path sock = dir.resolve("console.sock");
        List<String> args = socketConsoleArgs(dir, sock);
        Path state = dir.resolve("vm.state");
        try (QtestVm vm = QtestVm.start(dir, args);
             SocketChannel client = SocketChannel.open(UnixDomainSocketAddress.of(sock))) {
            BufferedReader in = new BufferedReader(new InputStreamReader(Channels.newInputStream(client), StandardCharsets.ISO_8859_1));
            awaitConsoleClient(vm, client);
            sendToConsole(vm.qtest, "before\n");
            assertEquals("before", in.readLine());
            assertTrue(update(dir, newMolt(args, state), "file:" + state).containsKey("return"));
            awaitCompleted(dir);
            vm.reconnect();
            sendToConsole(vm.qtest, "after\n");
            assertEquals("after", in.readLine(), "the same connection carries the console after the update");
            client.write(ByteBuffer.wrap("k".getBytes(StandardCharsets.US_ASCII)));
            GuestIT.waitFor(() -> (Integer.decode(vm.qtest.ok("inb 0x3fd")) & 1) == 1, QtestVm.T); // LSR: data ready
            assertEquals("0x006b", vm.qtest.ok("inb 0x3f8"), "input typed after the update reaches the UART");
        }
    }

    /**
     * A console client that connects and never reads: once molt's queue for it passes its mark, the
     * UART's THRE clears (the guest waits in its own code, as with QEMU) instead of a guest write
     * blocking inside molt; the machine still stops and resumes, an update completes with the client
     * still stalled (its queued output waits at most the flush bound), and the client, reading at last,
     * gets the console's output again on the same connection.
     */
    @Test
    void aConsoleClientThatStopsReadingBlocksNeitherTheMachineNorTheUpdate(@TempDir Path dir) throws Exception {
        Path sock = dir.resolve("console.sock");
        List<String> args = socketConsoleArgs(dir, sock);
        Path state = dir.resolve("vm.state");
        try (QtestVm vm = QtestVm.start(dir, args);
             SocketChannel client = SocketChannel.open(UnixDomainSocketAddress.of(sock))) {
            vm.writePattern(8, BASE, LEN);
            awaitConsoleClient(vm, client);
            List<String> batch = new ArrayList<>();
            for (int i = 0; i < 4096; i++) batch.add("outb 0x3f8 0x41");
            batch.add("inb 0x3fd");
            java.util.concurrent.CompletableFuture<Long> filled = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
                try {
                    for (long sent = 0; sent < (64L << 20); sent += 4096) {
                        List<String> replies = vm.qtest.pipeline(batch);
                        if ((Integer.decode(replies.getLast().substring(3)) & 0x20) == 0) return sent + 4096;
                    }
                    return -1L;
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            long sent = filled.get(QtestVm.T.toSeconds(), java.util.concurrent.TimeUnit.SECONDS);
            assertTrue(sent > 0, "THRE never cleared with a reader that reads nothing");
            try (QmpClient q = vm.qmp()) {
                assertTrue(q.execute("stop").containsKey("return"));
                assertEquals("paused", q.returned("query-status").get("status"));
                assertTrue(q.execute("cont").containsKey("return"));
            }
            assertTrue(update(dir, newMolt(args, state), "file:" + state).containsKey("return"));
            awaitCompleted(dir);
            vm.reconnect();
            assertEquals(-1, vm.firstBadPage(8, BASE, LEN), "RAM byte for byte");
            // The client reads at last: what was queued (less what the flush bound let go), then new output.
            BufferedReader in = new BufferedReader(new InputStreamReader(Channels.newInputStream(client), StandardCharsets.ISO_8859_1));
            GuestIT.waitFor(() -> (Integer.decode(vm.qtest.ok("inb 0x3fd")) & 0x20) != 0, QtestVm.T);
            sendToConsole(vm.qtest, "\nafter\n");
            long received = 0;
            for (String line; !"after".equals(line = in.readLine()); ) {
                assertTrue(line != null, "the console connection ended");
                received += line.length();
            }
            System.out.printf("[molt-it] qtest: a console client that read nothing: THRE cleared after %d bytes; stop, cont and"
                    + " cpr-exec went on; %d bytes reached it afterwards, then new output%n", sent, received);
        }
    }

    /** A qtest machine of 128 MiB whose serial console is a listening unix socket at {@code sock}. */
    private static List<String> socketConsoleArgs(Path dir, Path sock) {
        List<String> args = new ArrayList<>(QtestVm.args(dir, "128M"));
        int at = args.indexOf("file:" + dir.resolve("vm-console.log"));
        args.set(at - 1, "-chardev");
        args.set(at, "socket,id=con,path=" + sock + ",server=on,wait=off");
        args.addAll(List.of("-serial", "chardev:con"));
        return args;
    }

    /**
     * Waits until molt's socket console has accepted {@code client} (accepting runs on a thread of
     * its own; output before it goes nowhere): a byte the client sends reaches the UART only then.
     */
    static void awaitConsoleClient(QtestVm vm, SocketChannel client) throws Exception {
        client.write(ByteBuffer.wrap("k".getBytes(StandardCharsets.US_ASCII)));
        GuestIT.waitFor(() -> (Integer.decode(vm.qtest.ok("inb 0x3fd")) & 1) == 1, QtestVm.T); // LSR: data ready
        assertEquals("0x006b", vm.qtest.ok("inb 0x3f8"));
    }

    /** Writes {@code text} to COM1 the way a driver would: wait for the transmitter, then the data port. */
    static void sendToConsole(QtestClient qtest, String text) throws Exception {
        for (byte b : text.getBytes(StandardCharsets.US_ASCII)) qtest.ok("outb 0x3f8 " + (b & 0xFF));
    }

    /**
     * 100 updates of one machine in a row, RAM checked byte for byte after each, 20 QMP clients
     * querying all along: the process's fd count and resident memory are recorded after each update
     * and must not grow; every client is answered (the slowest answer is reported).
     */
    @Test
    void aHundredUpdatesInARowWithTwentyQmpClients(@TempDir Path dir) throws Exception {
        int updates = Integer.getInteger("molt.soak.updates", 100);
        List<String> args = QtestVm.args(dir, "128M");
        Path state = dir.resolve("vm.state");
        try (QtestVm vm = QtestVm.start(dir, args); QmpLoad load = QmpLoad.start(dir.resolve("vm.qmp"), 20)) {
            vm.writePattern(9, BASE, LEN);
            long pid = vm.process.pid();
            List<Integer> fds = new ArrayList<>();
            List<Long> rss = new ArrayList<>();
            for (int i = 0; i < updates; i++) {
                assertTrue(update(dir, newMolt(args, state), "file:" + state).containsKey("return"), "update " + i);
                awaitCompleted(dir);
                vm.reconnect();
                assertEquals(-1, vm.firstBadPage(9, BASE, LEN), "RAM after update " + (i + 1));
                assertEquals(pid, vm.process.pid());
                fds.add(CprExecIT.fds(pid).size());
                rss.add(residentKib(pid));
            }
            QmpLoad.Result clients = load.stop();
            assertEquals(0, clients.unanswered(), "every QMP query was answered: " + clients);
            int settled = Math.min(5, fds.size() - 1);
            assertTrue(fds.getLast() <= fds.get(settled), "fd count does not grow: " + fds);
            assertTrue(rss.getLast() < rss.get(settled) + 64 * 1024, "resident memory does not grow: " + rss);
            System.out.printf("[molt-it] qtest soak: %d cpr-exec updates, RAM intact after each; fds after each: %s; RSS KiB: first %d, "
                            + "max %d, last %d; %d QMP queries by 20 clients, slowest answer %d ms%n", updates, compress(fds),
                    rss.getFirst(), rss.stream().mapToLong(Long::longValue).max().orElse(0), rss.getLast(), clients.answered(),
                    clients.slowestMillis());
        }
    }

    static long residentKib(long pid) throws Exception {
        for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
            if (line.startsWith("VmRSS:")) return Long.parseLong(line.replaceAll("\\D", ""));
        }
        throw new AssertionError("no VmRSS for " + pid);
    }

    /** "12 x5, 13 x95": a run-length summary of a series. */
    static String compress(List<Integer> values) {
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < values.size(); ) {
            int j = i;
            while (j < values.size() && values.get(j).equals(values.get(i))) j++;
            if (!out.isEmpty()) out.append(", ");
            out.append(values.get(i)).append(" x").append(j - i);
            i = j;
        }
        return out.toString();
    }
}
