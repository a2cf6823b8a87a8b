package dev.molt.it;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * 100 x-cpr-reloads in a row of one molt whose RAM is written all the time: every write survives,
 * the same QMP client stays connected throughout, and the process does not grow: each old
 * implementation's threads end, its fds close and its classes are unloaded (one reload class
 * loader alive at a time; metaspace, heap after GC, threads and fds flat), and the QMP clients on a
 * socket and on stdio go on through all of it.
 */
@Tag("qtest")
class QtestReloadSoakIT {
    private static final int RELOADS = Integer.getInteger("molt.reload.soak", 100);
    private static final long BASE = 1L << 20;
    private static final int PAGES = 256;

    record Sample(int reload, int threads, int fds, int loaders, long metaspaceKb, long heapKb) {}

    @Test
    void aHundredReloadsLoseNoWriteAndLeaveNothingBehind(@TempDir Path dir) throws Exception {
        // A second QMP client on molt's stdio: handed over by every reload too (greeted once, never cut off).
        try (QtestVm vm = QtestVm.start(dir, QtestVm.args(dir, "64M", "-qmp", "stdio")); QmpClient q = vm.qmp()) {
            long pid = vm.process.pid();
            vm.process.awaitLine(l -> l.startsWith("{\"QMP\""), QtestVm.T);
            vm.process.send("{\"execute\": \"qmp_capabilities\", \"id\": \"caps\"}\n");
            vm.process.awaitLine(l -> l.contains("\"id\": \"caps\""), QtestVm.T);
            long[] stamps = new long[PAGES];
            long written = 0;
            List<Sample> curve = new java.util.ArrayList<>();
            for (int i = 1; i <= RELOADS; i++) {
                Map<String, Object> p = q.execute("migrate-set-parameters", Map.of("mode", "x-cpr-reload",
                        "x-cpr-reload-jar", QtestReloadIT.moltJar().toString()));
                assertTrue(p.containsKey("return"), p.toString());
                assertTrue(q.execute("migrate", Map.of("uri", "file:" + dir.resolve("state"))).containsKey("return"));
                // The guest's RAM is written while the reload runs: the writes of its pause wait, none is lost.
                long deadline = System.nanoTime() + QtestVm.T.toNanos();
                while (true) {
                    for (int k = 0; k < 8; k++) {
                        int page = (int) (written % PAGES);
                        stamps[page] = ++written;
                        vm.qtest.write(BASE + page * 4096L, stamp(stamps[page], page));
                    }
                    Object status = q.returned("query-migrate").get("status");
                    if ("completed".equals(status)) break;
                    assertTrue(!"failed".equals(status), "reload " + i + ": " + q.returned("query-migrate"));
                    assertTrue(System.nanoTime() < deadline, "reload " + i + " did not complete");
                }
                byte[] ram = vm.qtest.read(BASE, PAGES * 4096);
                for (int page = 0; page < PAGES; page++) {
                    if (stamps[page] == 0) continue;
                    ByteBuffer b = ByteBuffer.wrap(ram, page * 4096, 16).order(ByteOrder.LITTLE_ENDIAN);
                    assertEquals(stamps[page], b.getLong(), "reload " + i + ": page " + page + " lost a write");
                    assertEquals(page, b.getLong(), "reload " + i + ": page " + page);
                }
                if (i % 10 == 0 || i == 1) {
                    Sample s = sample(pid, i);
                    System.out.printf("[molt-it] reload %3d: threads %d, fds %d, reload loaders %d, metaspace %d KB, heap after GC %d KB, downtime %s ms%n",
                            i, s.threads(), s.fds(), s.loaders(), s.metaspaceKb(), s.heapKb(), q.returned("query-migrate").get("downtime"));
                    if (i >= 10) curve.add(s);
                }
            }
            assertEquals(pid, vm.process.pid());
            assertEquals("running", q.returned("query-status").get("status"), "the QMP client connected before reload 1 still answers");
            vm.process.send("{\"execute\": \"query-status\", \"id\": \"after\"}\n");
            vm.process.awaitLine(l -> l.contains("\"id\": \"after\"") && l.contains("running"), QtestVm.T);
            assertEquals(1, vm.process.lines().stream().filter(l -> l.startsWith("{\"QMP\"")).count(), "the stdio client was greeted once");
            // Flat: the second half of the curve rises no higher than the first half did. (The heap after a
            // full GC swings by a few MB as soft references age and are cleared; that is not growth.)
            if (curve.size() >= 4) {
                List<Sample> early = curve.subList(0, curve.size() / 2), late = curve.subList(curve.size() / 2, curve.size());
                for (Sample s : curve) assertEquals(1, s.loaders(), "one reload class loader alive: the older ones were collected: " + s);
                assertTrue(max(late, Sample::threads) <= max(early, Sample::threads), "threads: " + curve);
                assertTrue(max(late, Sample::fds) <= max(early, Sample::fds), "fds: " + curve);
                assertTrue(max(late, Sample::metaspaceKb) <= max(early, Sample::metaspaceKb) + 512, "metaspace: " + curve);
                // The heap after a full GC is a sawtooth (soft references kept, then cleared, over some 40
                // reloads): a leak raises its floor, which must not move; its peaks may differ by a tooth.
                assertTrue(min(late, Sample::heapKb) <= min(early, Sample::heapKb) + 2048, "heap after GC, its floor: " + curve);
                assertTrue(max(late, Sample::heapKb) <= max(early, Sample::heapKb) + 8192, "heap after GC, its peaks: " + curve);
            }
        }
    }

    private static long max(List<Sample> samples, java.util.function.ToLongFunction<Sample> f) {
        return samples.stream().mapToLong(f).max().orElseThrow();
    }

    private static long min(List<Sample> samples, java.util.function.ToLongFunction<Sample> f) {
        return samples.stream().mapToLong(f).min().orElseThrow();
    }

    private static byte[] stamp(long value, int page) {
        return ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(value).putLong(page).array();
    }

    private static Sample sample(long pid, int reload) throws Exception {
        jcmd(pid, "GC.run"); // full collection: unloads the classes of the loaders nothing reaches
        int threads;
        int fds;
        try (var t = Files.list(Path.of("/proc/" + pid + "/task")); var f = Files.list(Path.of("/proc/" + pid + "/fd"))) {
            threads = (int) t.count();
            fds = (int) f.count();
        }
        int loaders = (int) jcmd(pid, "VM.classloaders").lines().filter(l -> l.contains("\"molt-reload\"")).count();
        long metaspace = kb(find(jcmd(pid, "VM.metaspace"), "Both:.*?committed,\\s+([\\d.]+) (KB|MB|GB) \\(\\s*\\d+%\\) used"));
        long heap = 0;
        for (String line : jcmd(pid, "GC.heap_info").lines().filter(l -> l.matches("^\\S.* total \\d+K, used \\d+K.*")).toList()) {
            Matcher m = Pattern.compile("used (\\d+)K").matcher(line); // SerialGC's generations: DefNew and Tenured
            if (m.find()) heap += Long.parseLong(m.group(1));
        }
        return new Sample(reload, threads, fds, loaders, metaspace, heap);
    }

    private static Matcher find(String text, String regex) {
        Matcher m = Pattern.compile(regex).matcher(text);
        if (!m.find()) throw new AssertionError("no '" + regex + "' in: " + text);
        return m;
    }

    private static long kb(Matcher m) {
        double v = Double.parseDouble(m.group(1));
        return (long) switch (m.group(2)) {
            case "KB" -> v;
            case "MB" -> v * 1024;
            default -> v * 1024 * 1024;
        };
    }

    private static String jcmd(long pid, String command) throws Exception {
        Path jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd");
        Process p = new ProcessBuilder(List.of(jcmd.toString(), Long.toString(pid), command)).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.waitFor(), "jcmd " + command + ": " + out);
        return out;
    }
}
