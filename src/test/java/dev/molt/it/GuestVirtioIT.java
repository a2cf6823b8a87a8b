package dev.molt.it;

import dev.molt.testsupport.NetNs;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The test guest's disk and network workloads (blk=1 net=1, guest/README.md) on real KVM across live
 * updates and a live migration: every vCPU writes a stamped block and reads it back each tick, and sends
 * a numbered UDP datagram through a tap to scripts/lib/echo_net.py's responder (in a network namespace
 * with a bridge at 10.99.0.1, where molt runs too) and counts the answers. No block may be lost or read
 * back wrong; a datagram may be lost only during a pause (at most one per vCPU and pause: the one in
 * flight), and none is answered twice or damaged. Across a cpr-exec the same process keeps the same
 * image and the same tap.
 */
@Tag("kvm")
class GuestVirtioIT {
    private static final Duration T = Duration.ofSeconds(90);
    private static final int CPUS = 2;

    @BeforeEach
    void host() {
        KvmHost.require();
        String why = NetNs.unusableBecause();
        Assumptions.assumeTrue(why == null, "skipped: " + why);
    }

    /** A namespace with a bridge at 10.99.0.1/24, taps on it, and the echo responder. */
    private record Net(NetNs ns, Process responder) implements AutoCloseable {
        static Net start(String... taps) throws Exception {
            NetNs ns = NetNs.create("guestnet");
            try {
                ns.ip("link", "add", "br0", "type", "bridge");
                ns.ip("addr", "add", "10.99.0.1/24", "dev", "br0");
                ns.ip("link", "set", "br0", "up");
                for (String tap : taps) {
                    ns.ip("tuntap", "add", "dev", tap, "mode", "tap");
                    ns.ip("link", "set", tap, "master", "br0");
                    ns.ip("link", "set", tap, "up");
                }
                List<String> cmd = new ArrayList<>(ns.execPrefix());
                cmd.addAll(List.of("python3", "-u", Project.root().resolve("scripts/lib/echo_net.py").toString(), "serve"));
                Process responder = new ProcessBuilder(cmd).redirectErrorStream(true).start();
                assertEquals("ready\n", new String(responder.getInputStream().readNBytes(6)), "the responder did not start");
                return new Net(ns, responder);
            } catch (Exception | AssertionError e) {
                ns.close();
                throw e;
            }
        }

        /** The interface index of {@code tap} in the namespace. */
        int ifindex(String tap) throws Exception {
            Process p = new ProcessBuilder("ip", "-n", ns.name, "-o", "link", "show", tap).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            p.waitFor();
            return Integer.parseInt(out.substring(0, out.indexOf(':')));
        }

        @Override
        public void close() throws Exception {
            responder.destroyForcibly();
            responder.waitFor();
            ns.close();
        }
    }

    private static List<String> args(Path dir, Path image, String tap, String console, String qmp, String... extra) {
        List<String> a = new ArrayList<>(List.of("-machine", "microvm,aux-ram-share=on", "-m", "256M", "-smp", String.valueOf(CPUS),
                "-kernel", Project.testGuest().toString(), "-append", "mem=64M blk=1 net=1",
                "-chardev", "file,id=con,path=" + dir.resolve(console) + ",append=on", "-serial", "chardev:con",
                "-display", "none", "-qmp", "unix:" + dir.resolve(qmp) + ",server=on,wait=off",
                "-drive", "if=none,id=d0,file=" + image + ",format=raw", "-device", "virtio-blk-device,drive=d0",
                "-netdev", "tap,id=n0,ifname=" + tap + ",script=no,downscript=no", "-device", "virtio-net-device,netdev=n0"));
        a.addAll(List.of(extra));
        return a;
    }

    private static Path image(Path dir) throws Exception {
        Path image = dir.resolve("disk.raw");
        try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
            f.setLength(1 << 20);
        }
        return image;
    }

    private static List<Tick> ticks(Path... consoles) throws Exception {
        List<Tick> all = new ArrayList<>();
        for (Path c : consoles) {
            if (Files.exists(c)) all.addAll(Tick.all(Files.readAllLines(c, StandardCharsets.ISO_8859_1).stream().map(l -> l.replace("\r", "")).toList()));
        }
        return all;
    }

    private static void awaitMoreTicks(long more, Path... consoles) throws Exception {
        Map<Integer, Long> base = last(ticks(consoles));
        GuestIT.waitFor(() -> {
            Map<Integer, Long> now = last(ticks(consoles));
            return now.size() == CPUS && now.entrySet().stream().allMatch(e -> e.getValue() >= base.getOrDefault(e.getKey(), 0L) + more);
        }, T);
    }

    private static Map<Integer, Long> last(List<Tick> ticks) {
        Map<Integer, Long> m = new HashMap<>();
        for (Tick t : ticks) m.put(t.cpu(), t.n());
        return m;
    }

    /**
     * The workloads' totals on every tick line: blocks all ok (one a tick), datagrams one a tick, none
     * answered twice or damaged, and at the end at most {@code pauses} per vCPU unanswered; the guest
     * is stopped first, so the image holds each vCPU's last 8 blocks as it says it wrote them.
     * Returns the datagrams lost.
     */
    private static long assertWorkloads(Path image, int pauses, QmpClient q, Path... consoles) throws Exception {
        awaitMoreTicks(20, consoles); // answers that waited in a tap are in by now
        assertTrue(q.execute("stop").containsKey("return"));
        Thread.sleep(200);
        Map<Integer, Tick> last = new HashMap<>();
        for (Tick t : ticks(consoles)) {
            assertTrue(t.ok(), "memory: " + t);
            assertEquals(new Tick.Blk(t.n(), 0, 0), t.blk(), "every block read back as written: " + t);
            assertEquals(t.n(), t.net().sent(), "a datagram a tick: " + t);
            assertEquals(0, t.net().dup() + t.net().bad(), "no answer twice or damaged: " + t);
            last.put(t.cpu(), t);
        }
        long lost = 0;
        byte[] disk = Files.readAllBytes(image);
        for (Tick t : last.values()) {
            lost += t.net().unanswered();
            assertTrue(t.net().unanswered() <= pauses, "datagrams lost beyond one per pause: " + t);
            for (long seq = t.n() - 7; seq <= t.n(); seq++) {
                ByteBuffer b = ByteBuffer.wrap(disk, (int) ((t.cpu() * 8 + seq % 8) * 512), 24).order(ByteOrder.LITTLE_ENDIAN);
                List<Long> found = List.of(b.getLong(), b.getLong(), b.getLong());
                // The stop may come between a tick's write and its line: the oldest slot then holds that next block.
                long want = seq == t.n() - 7 && found.get(2) == t.n() + 1 ? t.n() + 1 : seq;
                assertEquals(List.of(0x316b6c62746c6f6dL, (long) t.cpu(), want), found, "block " + seq + " of vCPU " + t.cpu() + " on the image");
            }
        }
        assertEquals(CPUS, last.size());
        return lost;
    }

    @Test
    void blocksAndDatagramsAcrossCprExecWithTheSameImageAndTap(@TempDir Path dir) throws Exception {
        Path image = image(dir), state = dir.resolve("vm.state"), console = dir.resolve("console.log");
        String tap = NetNs.tapName("gv");
        try (Net net = Net.start(tap)) {
            List<String> args = args(dir, image, tap, "console.log", "vm.qmp");
            try (MoltProcess molt = MoltProcess.start(net.ns.execPrefix(), args.toArray(String[]::new))) {
                awaitMoreTicks(10, console);
                long pid = molt.pid();
                Held before = Held.of(pid, image, tap, net);
                int updates = 3;
                for (int i = 0; i < updates; i++) {
                    assertTrue(CprExecIT.update(dir, CprExecIT.newMolt(args, state), "file:" + state).containsKey("return"), "update " + i);
                    CprExecIT.awaitCompleted(dir);
                    awaitMoreTicks(5, console);
                }
                assertEquals(before, Held.of(pid, image, tap, net), "the same process holds the same image and tap");
                try (QmpClient q = QmpClient.unix(dir.resolve("vm.qmp"), T).negotiated()) {
                    long lost = assertWorkloads(image, updates, q, console);
                    System.out.printf("[GuestVirtioIT] %s: %d cpr-exec updates, every block ok, %d datagrams lost while paused%n",
                            KvmHost.FLAVOUR, updates, lost);
                }
            }
        }
    }

    /** What a molt process holds: the image's inode (through its fd) and the tap's fd number and ifindex. */
    private record Held(long pid, long imageInode, int tapFd, int ifindex) {
        static Held of(long pid, Path image, String tap, Net net) throws Exception {
            long inode = -1;
            int tapFd = -1;
            for (Map.Entry<Integer, String> fd : CprExecIT.fds(pid).entrySet()) {
                Path link = Path.of("/proc/" + pid + "/fd/" + fd.getKey());
                if (fd.getValue().equals(image.toString())) inode = (Long) Files.getAttribute(link, "unix:ino");
                if (fd.getValue().equals("/dev/net/tun")
                        && Files.readString(Path.of("/proc/" + pid + "/fdinfo/" + fd.getKey())).contains("iff:\t" + tap + "\n")) {
                    tapFd = fd.getKey();
                }
            }
            assertTrue(inode > 0 && tapFd >= 0, "molt " + pid + " holds no image or tap: " + CprExecIT.fds(pid));
            return new Held(pid, inode, tapFd, net.ifindex(tap));
        }
    }

    @Test
    void blocksAndDatagramsAcrossCprTransfer(@TempDir Path dir) throws Exception {
        Path image = image(dir), console = dir.resolve("console.log");
        String tap = NetNs.tapName("gv");
        try (Net net = Net.start(tap);
             MoltProcess old = MoltProcess.start(net.ns.execPrefix(), args(dir, image, tap, "console.log", "old.qmp").toArray(String[]::new));
             MoltProcess neu = MoltProcess.start(net.ns.execPrefix(), args(dir, image, tap, "console.log", "new.qmp",
                     "-incoming", "unix:" + dir.resolve("main.sock"), "-incoming", CprTransferIT.unixCpr(dir)).toArray(String[]::new))) {
            awaitMoreTicks(10, console);
            GuestIT.waitFor(() -> Files.exists(dir.resolve("cpr.sock")) || !neu.alive(), T);
            assertTrue(neu.alive(), "the new molt died: " + neu.stderr());
            try (QmpClient q = QmpClient.unix(dir.resolve("old.qmp"), T).negotiated()) {
                assertTrue(q.execute("migrate-set-parameters", Map.of("mode", "cpr-transfer")).containsKey("return"));
                assertTrue(q.execute("migrate", Map.of("channels", CprTransferIT.channels(dir))).containsKey("return"));
                MigrationIT.awaitStatus(q, "completed");
            }
            try (QmpClient q = QmpClient.unix(dir.resolve("new.qmp"), T).negotiated()) {
                GuestIT.waitFor(() -> "running".equals(q.returned("query-status").get("status")), T);
                long lost = assertWorkloads(image, 1, q, console);
                System.out.printf("[GuestVirtioIT] %s: cpr-transfer, every block ok, %d datagrams lost while paused%n", KvmHost.FLAVOUR, lost);
            }
        }
    }

    @Test
    void blocksAndDatagramsAcrossALiveMigrationToAnotherTap(@TempDir Path dir) throws Exception {
        Path image = image(dir), srcLog = dir.resolve("src.log"), dstLog = dir.resolve("dst.log");
        String srcTap = NetNs.tapName("gv"), dstTap = NetNs.tapName("gv"), uri = "unix:" + dir.resolve("mig.sock");
        try (Net net = Net.start(srcTap, dstTap);
             MoltProcess src = MoltProcess.start(net.ns.execPrefix(), args(dir, image, srcTap, "src.log", "src.qmp").toArray(String[]::new));
             MoltProcess dst = MoltProcess.start(net.ns.execPrefix(), args(dir, image, dstTap, "dst.log", "dst.qmp", "-incoming", uri).toArray(String[]::new))) {
            awaitMoreTicks(10, srcLog);
            try (QmpClient q = QmpClient.unix(dir.resolve("src.qmp"), T).negotiated()) {
                assertTrue(q.execute("migrate", Map.of("uri", uri)).containsKey("return"));
                MigrationIT.awaitStatus(q, "completed");
            }
            try (QmpClient q = QmpClient.unix(dir.resolve("dst.qmp"), T).negotiated()) {
                GuestIT.waitFor(() -> "running".equals(q.returned("query-status").get("status")), T);
                // An answer on its way to the source's tap when the source stopped is lost with it.
                long lost = assertWorkloads(image, 1, q, srcLog, dstLog);
                System.out.printf("[GuestVirtioIT] %s: live migration to another tap, every block ok, %d datagrams lost while paused%n",
                        KvmHost.FLAVOUR, lost);
            }
        }
    }
}
