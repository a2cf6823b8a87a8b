package dev.molt.it;

import dev.molt.devices.net.MacAddress;
import dev.molt.testsupport.EthFrames;
import dev.molt.testsupport.NetNs;
import dev.molt.testsupport.VirtioDriver;
import dev.molt.testsupport.VirtioNetFrames;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * virtio-net on virtio-mmio under -accel qtest, the test acting as the guest's driver over qtest,
 * molt running in a network namespace whose bridge holds its tap(s) and the responder's address:
 * numbered UDP datagrams go out through the transmit queue, the responder logs and echoes each,
 * and the echoes come back through the receive queue, checked byte for byte, across a cpr-exec
 * and a live migration. The responder's log shows each datagram left molt exactly once.
 */
@Tag("qtest")
class QtestVirtioNetIT {
    private static final long SLOT0 = 0xFEB0_0000L, AREA = 0x100000;
    /** VERSION_1, MAC, STATUS, CSUM, GUEST_CSUM, GUEST_TSO4, HOST_TSO4, MRG_RXBUF, CTRL_VQ, GUEST_ANNOUNCE, and the ring features. */
    private static final long FEATURES = VirtioDriver.VERSION_1 | 1L << 5 | 1L << 16 | 1 | 1L << 1 | 1L << 7 | 1L << 11
            | 1L << 15 | 1L << 17 | 1L << 21 | VirtioDriver.INDIRECT_DESC | VirtioDriver.EVENT_IDX;
    /** VIRTIO_NET_F_CTRL_RX: the rx modes and the MAC table. */
    private static final long CTRL_RX = 1L << 18;
    private static final String GUEST_MAC = "52:54:00:ab:cd:01";
    private static final byte[] MAC = {0x52, 0x54, 0, (byte) 0xab, (byte) 0xcd, 1};
    private static final byte[] GUEST_IP = EthFrames.ip("10.99.0.2"), HOST_IP = EthFrames.ip("10.99.0.1");
    private static final int PORT = 7000;

    /**
     * Echoes every datagram on 10.99.0.1:7000 and logs its number (its first 4 bytes), one line
     * each; numbers from argv[2] to argv[3] are echoed 0.5 s late (into a live update's pause).
     */
    private static final String RESPONDER = """
            import queue, socket, struct, sys, threading, time
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(('10.99.0.1', 7000))
            log = open(sys.argv[1], 'a')
            late = range(int(sys.argv[2]), int(sys.argv[3]) + 1)
            delayed = queue.Queue()
            def send_late():  # one thread, so the late echoes keep their order
                while True:
                    due, data, peer = delayed.get()
                    time.sleep(max(0, due - time.monotonic()))
                    s.sendto(data, peer)
            threading.Thread(target=send_late, daemon=True).start()
            print('ready', flush=True)
            while True:
                data, peer = s.recvfrom(65535)
                seq = struct.unpack('>I', data[:4])[0]
                log.write('%d\\n' % seq); log.flush()
                if seq in late:
                    delayed.put((time.monotonic() + 0.5, data, peer))
                else:
                    s.sendto(data, peer)
            """;

    /** Starts molt with the tap mt0 open as fd 42, as libvirt hands a tap over (the test's args say fd=42). */
    private static final String TAP_LAUNCHER = """
            import fcntl, os, struct, sys
            fd = os.open('/dev/net/tun', os.O_RDWR)
            fcntl.ioctl(fd, 0x400454ca, struct.pack('16sH', sys.argv[1].encode(), 0x0002 | 0x1000 | 0x4000))
            os.dup2(fd, 42)
            os.close(fd)
            os.execvp(sys.argv[2], sys.argv[2:])
            """;

    @BeforeAll
    static void tapsWork() {
        String why = NetNs.unusableBecause();
        Assumptions.assumeTrue(why == null, "skipped: " + why);
    }

    /** A namespace with a bridge at 10.99.0.1/24, persistent taps on it for molt, and the responder. */
    private static final class Net implements AutoCloseable {
        final NetNs ns;
        final Path log;
        Process responder;

        Net(Path dir, String... taps) throws Exception {
            this(dir, 0, 0, taps);
        }

        /** As {@link #Net(Path, String...)}, the responder echoing numbers {@code lateFrom} to {@code lateTo} 0.5 s late. */
        Net(Path dir, int lateFrom, int lateTo, String... taps) throws Exception {
            ns = NetNs.create("net-it");
            log = dir.resolve("responder.log");
            try {
                ns.ip("link", "add", "br0", "type", "bridge");
                ns.ip("addr", "add", "10.99.0.1/24", "dev", "br0");
                ns.ip("link", "set", "br0", "up");
                // The test's guest answers no ARP: a permanent neighbour keeps the kernel from probing it and
                // then dropping echoes once the entry failed (after about 8 s, which a loaded host reaches).
                ns.ip("neigh", "replace", "10.99.0.2", "lladdr", GUEST_MAC, "dev", "br0", "nud", "permanent");
                for (String tap : taps) {
                    ns.ip("tuntap", "add", "dev", tap, "mode", "tap");
                    ns.ip("link", "set", tap, "master", "br0");
                    ns.ip("link", "set", tap, "up");
                }
                List<String> cmd = new ArrayList<>(ns.execPrefix());
                cmd.addAll(List.of("python3", "-u", "-c", RESPONDER, log.toString(), String.valueOf(lateFrom), String.valueOf(lateTo)));
                responder = new ProcessBuilder(cmd).redirectErrorStream(true).start();
                String ready = new String(responder.getInputStream().readNBytes(6));
                assertEquals("ready\n", ready, "the responder did not start");
            } catch (Exception | AssertionError e) {
                close();
                throw e;
            }
        }

        /** The numbers the responder saw, in order. */
        List<Integer> seen() throws Exception {
            if (!Files.exists(log)) return List.of();
            return Files.readAllLines(log).stream().map(Integer::parseInt).toList();
        }

        @Override
        public void close() throws Exception {
            if (responder != null) {
                responder.destroyForcibly();
                responder.waitFor();
            }
            ns.close(); // the bridge and the taps go with it
        }
    }

    private static List<String> nicArgs(String tap) {
        return List.of("-netdev", "tap,id=n0,ifname=" + tap + ",script=no,downscript=no", "-device", "virtio-net-device,netdev=n0,mac=" + GUEST_MAC);
    }

    private static String[] all(List<String> a) {
        return a.toArray(String[]::new);
    }

    private static byte[] payload(int seq) {
        byte[] p = new byte[64 + seq * 37 % 1300];
        new Random(seq).nextBytes(p);
        ByteBuffer.wrap(p).putInt(seq);
        return p;
    }

    private static byte[] resolveHost(VirtioNetFrames f) throws Exception {
        f.send(EthFrames.arpRequest(MAC, GUEST_IP, HOST_IP));
        return EthFrames.arpReplyMac(f.receive(fr -> EthFrames.arpReplyMac(fr, HOST_IP) != null, 30_000).frame(), HOST_IP);
    }

    private static void send(VirtioNetFrames f, byte[] hostMac, int seq) throws Exception {
        f.send(EthFrames.udp(MAC, hostMac, GUEST_IP, HOST_IP, 5000, PORT, payload(seq)));
    }

    /** The next echo: it must be number {@code seq}, byte for byte. */
    private static void expectEcho(VirtioNetFrames f, int seq) throws Exception {
        byte[] frame = f.receive(fr -> EthFrames.ipProto(fr) == 17, 30_000).frame();
        assertArrayEquals(payload(seq), EthFrames.l4Payload(frame), "echo " + seq);
    }

    private static void exchange(VirtioNetFrames f, byte[] hostMac, int from, int to) throws Exception {
        for (int seq = from; seq <= to; seq++) {
            send(f, hostMac, seq);
            expectEcho(f, seq);
        }
    }

    /** The guest's driver on {@code vm}: both queues up, 32 receive buffers, the host's MAC resolved. */
    private record Guest(VirtioNetFrames nic, byte[] hostMac) {
        static Guest start(QtestVm vm) throws Exception {
            VirtioNetFrames f = new VirtioNetFrames(new QtestBus(vm), SLOT0, AREA, 2048);
            f.init(FEATURES);
            f.postRx(32);
            return new Guest(f, resolveHost(f));
        }
    }

    /** A cpr-exec of {@code vm} into a molt with the same {@code args}; the test's qtest client reconnects. */
    private static void cprExec(Path dir, QtestVm vm, List<String> args) throws Exception {
        long pid = vm.process.pid();
        Map<String, Object> r = CprExecIT.update(dir, CprExecIT.newMolt(args, dir.resolve("vm.state")), "file:" + dir.resolve("vm.state"));
        assertTrue(r.containsKey("return"), r.toString());
        CprExecIT.awaitCompleted(dir);
        vm.reconnect();
        assertEquals(pid, vm.process.pid(), "the same process");
    }

    /**
     * QEMU's self-announce from the destination's tap: 5 RARPs with the guest's MAC, at 0, 50, 200,
     * 450 and 800 ms (the default announce-* parameters), and no more.
     */
    private static void assertSelfAnnounce(NetNs.Capture capture) throws Exception {
        ByteBuffer expected = ByteBuffer.allocate(60);
        expected.put(EthFrames.BROADCAST).put(MAC).putShort((short) 0x8035).putShort((short) 1).putShort((short) 0x0800)
                .put((byte) 6).put((byte) 4).putShort((short) 3).put(MAC).putInt(0).put(MAC).putInt(0);
        List<Double> at = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            NetNs.Capture.Frame f = capture.next(5_000);
            assertTrue(f != null, "RARP " + (i + 1) + " of 5 missing");
            assertArrayEquals(expected.array(), f.bytes(), "RARP " + (i + 1));
            at.add(f.at());
        }
        long[] expectedGaps = {50, 150, 250, 350};
        for (int i = 0; i < 4; i++) {
            double gap = (at.get(i + 1) - at.get(i)) * 1000;
            assertTrue(gap >= expectedGaps[i] - 5 && gap < expectedGaps[i] + 200, "gap " + (i + 1) + ": " + gap + " ms, not about " + expectedGaps[i]);
        }
        assertEquals(null, capture.next(600), "no sixth RARP");
    }

    private static void assertSeenOnce(Net net, int last) throws Exception {
        Thread.sleep(200); // a duplicate would come now
        assertEquals(IntStream.rangeClosed(1, last).boxed().toList(), net.seen(), "each datagram reached the responder once, in order");
    }

    private interface Update {
        void run(Path dir, QtestVm vm, List<String> args) throws Exception;
    }

    /**
     * 20 datagrams echoed, 10 sent right before {@code update} (their echoes land in the ring meanwhile),
     * 30 after it through the tap the new molt took over: each echoed once, byte for byte, through the
     * same tap (ifindex).
     */
    private static void datagramsInFlightAcross(Path dir, String what, Update update) throws Exception {
        try (Net net = new Net(dir, "mt0")) {
            List<String> args = QtestVm.args(dir, "64M", all(nicArgs("mt0")));
            try (QtestVm vm = QtestVm.start(dir, net.ns.execPrefix(), args)) {
                Guest g = Guest.start(vm);
                VirtioNetFrames f = g.nic();
                byte[] hostMac = g.hostMac();
                exchange(f, hostMac, 1, 20);
                String ifindex = net.ns.ifindex("mt0");
                for (int seq = 21; seq <= 30; seq++) send(f, hostMac, seq);
                update.run(dir, vm, args);
                for (int seq = 21; seq <= 30; seq++) expectEcho(f, seq);
                exchange(f, hostMac, 31, 60);
                assertSeenOnce(net, 60);
                assertEquals(ifindex, net.ns.ifindex("mt0"), "the same tap (ifindex)");
                assertEquals(Integer.toUnsignedLong(0xab005452), Integer.toUnsignedLong(f.rx().readl(0x100)), "the MAC, restored");
                assertTrue(!vm.process.stderr().contains("needs a reset"), vm.process.stderr());
                System.out.println("[molt-it] qtest: 60 virtio-net datagrams, 10 in flight across " + what + ", each echoed once, byte for byte");
            }
        }
    }

    @Test
    void datagramsInFlightAcrossACprExecComeBackOnce(@TempDir Path dir) throws Exception {
        datagramsInFlightAcross(dir, "cpr-exec", QtestVirtioNetIT::cprExec);
    }

    /** x-cpr-reload: the tap never closes (its fd is duplicated for the new code in the same process). */
    @Test
    void datagramsInFlightAcrossAReloadComeBackOnce(@TempDir Path dir) throws Exception {
        datagramsInFlightAcross(dir, "x-cpr-reload", (d, vm, args) -> QtestReloadIT.reloadAndAwait(vm));
    }

    /**
     * The receive filter the guest's driver programs (PROMISC off, a MAC table of one unicast and
     * one multicast address) keeps from it the frames it did not ask for, and holds across a
     * cpr-exec and an x-cpr-reload: it is in the device state. Probes to five addresses go into the
     * tap from the namespace after each step; three reach the guest, in order.
     */
    @Test
    void theReceiveFilterHoldsAcrossACprExecAndAReload(@TempDir Path dir) throws Exception {
        try (Net net = new Net(dir, "mt0")) {
            List<String> args = QtestVm.args(dir, "64M", all(nicArgs("mt0")));
            try (QtestVm vm = QtestVm.start(dir, net.ns.execPrefix(), args)) {
                VirtioNetFrames f = new VirtioNetFrames(new QtestBus(vm), SLOT0, AREA, 2048);
                f.init(FEATURES | CTRL_RX);
                f.postRx(32);
                programFilter(f);
                int m = 1;
                for (String step : List.of("start", "cpr-exec", "x-cpr-reload")) {
                    if (step.equals("cpr-exec")) cprExec(dir, vm, args);
                    if (step.equals("x-cpr-reload")) QtestReloadIT.reloadAndAwait(vm);
                    assertEquals(List.of(m + 1, m + 3, m + 4), probe(net, f, m), "the table's and the NIC's own, after " + step);
                    m += PROBED.size();
                }
                exchange(f, resolveHost(f), 1, 5);
                assertSeenOnce(net, 5);
                assertTrue(!vm.process.stderr().contains("needs a reset"), vm.process.stderr());
                System.out.println("[molt-it] qtest: the guest's receive filter (PROMISC off, a MAC table) kept 2 of 5 probes from it"
                        + " before and after a cpr-exec and an x-cpr-reload");
            }
        }
    }

    /**
     * What libvirt's trustGuestRxFilters reads: NIC_RX_FILTER_CHANGED once when the guest changes
     * its filter, not again until query-rx-filter read it, and query-rx-filter's answer as QEMU's
     * (tables newest first, "broadcast-allowed" being QEMU's nobcast flag, every VLAN listed without
     * CTRL_VLAN), with QEMU's errors. The first answer is QEMU 10.2's for the same -netdev and -device.
     */
    @Test
    void queryRxFilterAndItsEventAsLibvirtReadsThem(@TempDir Path dir) throws Exception {
        try (Net net = new Net(dir, "mt0")) {
            List<String> args = QtestVm.args(dir, "64M", all(nicArgs("mt0")));
            try (QtestVm vm = QtestVm.start(dir, net.ns.execPrefix(), args); QmpClient q = vm.qmp()) {
                assertEquals(List.of(Map.ofEntries(Map.entry("name", "virtio-net-device.0"), Map.entry("promiscuous", true),
                        Map.entry("multicast", "normal"), Map.entry("unicast", "normal"), Map.entry("vlan", "all"),
                        Map.entry("broadcast-allowed", false), Map.entry("multicast-overflow", false), Map.entry("unicast-overflow", false),
                        Map.entry("main-mac", GUEST_MAC), Map.entry("vlan-table", java.util.stream.IntStream.rangeClosed(0, 4095)
                                .mapToObj(v -> (Object) (long) (4095 - v)).toList()), Map.entry("unicast-table", List.of()),
                        Map.entry("multicast-table", List.of()))), q.execute("query-rx-filter").get("return"), "after reset: QEMU's defaults");
                VirtioNetFrames f = new VirtioNetFrames(new QtestBus(vm), SLOT0, AREA, 2048);
                f.init(FEATURES | CTRL_RX | 1L << 20); // and CTRL_RX_EXTRA, for NOBCAST
                programFilter(f);
                Map<String, Object> e = q.event("NIC_RX_FILTER_CHANGED", QtestVm.T);
                assertEquals(Map.of("name", "virtio-net-device.0", "path", "/machine/peripheral-anon/device[0]"), e.get("data"));
                assertEquals(VirtioNetFrames.CTRL_OK, f.control(1, 0, VirtioNetFrames.macTable(
                        List.of(PROBED.get(1), PROBED.get(0)), List.of(PROBED.get(3), PROBED.get(2)))), "a second table");
                assertEquals(null, q.nextEvent(java.time.Duration.ofMillis(300)), "no second event before a query");
                @SuppressWarnings("unchecked")
                Map<String, Object> info = ((List<Map<String, Object>>) q.execute("query-rx-filter", Map.of("name", "virtio-net-device.0"))
                        .get("return")).getFirst();
                assertEquals(false, info.get("promiscuous"));
                assertEquals(List.of("52:54:00:ab:cd:02", "52:54:00:ab:cd:03"), info.get("unicast-table"), "newest first, as QEMU lists them");
                assertEquals(List.of("33:33:00:00:00:01", "01:00:5e:00:00:fb"), info.get("multicast-table"));
                assertEquals(VirtioNetFrames.CTRL_OK, f.control(0, 5, new byte[] {1}), "NOBCAST on");
                assertEquals("virtio-net-device.0", ((Map<?, ?>) q.event("NIC_RX_FILTER_CHANGED", QtestVm.T).get("data")).get("name"),
                        "told again once queried");
                @SuppressWarnings("unchecked")
                Map<String, Object> nobcast = ((List<Map<String, Object>>) q.execute("query-rx-filter").get("return")).getFirst();
                assertEquals(true, nobcast.get("broadcast-allowed"), "QEMU reports its nobcast flag under this name");
                assertEquals("net client(n0) isn't a NIC", String.valueOf(((Map<?, ?>) q.execute("query-rx-filter", Map.of("name", "n0"))
                        .get("error")).get("desc")));
                assertEquals("invalid net client name: nope", String.valueOf(((Map<?, ?>) q.execute("query-rx-filter", Map.of("name", "nope"))
                        .get("error")).get("desc")));
                System.out.println("[molt-it] qtest: query-rx-filter and NIC_RX_FILTER_CHANGED as QEMU answers them");
            }
        }
    }

    /** The probes' destinations: another NIC's, the table's unicast, another group, the table's group, the NIC's own. */
    private static final List<MacAddress> PROBED = List.of(MacAddress.parse("52:54:00:ab:cd:02").orElseThrow(),
            MacAddress.parse("52:54:00:ab:cd:03").orElseThrow(), MacAddress.parse("33:33:00:00:00:01").orElseThrow(),
            MacAddress.parse("01:00:5e:00:00:fb").orElseThrow(), MacAddress.of(MAC));

    /** What Linux's driver does: PROMISC off, a table of the second and fourth probed addresses. */
    private static void programFilter(VirtioNetFrames f) throws Exception {
        assertEquals(VirtioNetFrames.CTRL_OK, f.control(0, 0, new byte[] {0}), "PROMISC off");
        assertEquals(VirtioNetFrames.CTRL_OK, f.control(1, 0, VirtioNetFrames.macTable(List.of(PROBED.get(1)), List.of(PROBED.get(3)))), "MAC_TABLE_SET");
    }

    /** Probes to each {@link #PROBED} address into the tap, marked from {@code first}: the markers of those the guest receives. */
    private static List<Integer> probe(Net net, VirtioNetFrames f, int first) throws Exception {
        List<byte[]> probes = new ArrayList<>();
        for (MacAddress to : PROBED) probes.add(EthFrames.probe(to.bytes(), first + probes.size()));
        net.ns.inject("mt0", probes);
        return f.probesUntil(first + PROBED.size() - 1);
    }

    /** x-cpr-reload of {@code vm} into {@code jar}: query-migrate's answer once it is over. */
    private static Map<String, Object> reloadInto(QtestVm vm, Path jar) throws Exception {
        try (QmpClient q = vm.qmp()) {
            Map<String, Object> p = q.execute("migrate-set-parameters", Map.of("mode", "x-cpr-reload", "x-cpr-reload-jar", jar.toString()));
            assertTrue(p.containsKey("return"), p.toString());
            assertTrue(q.execute("migrate", Map.of("uri", "file:" + vm.dir.resolve("vm.state"))).containsKey("return"));
            GuestIT.waitFor(() -> !List.of("setup", "active").contains(q.returned("query-migrate").get("status")), QtestVm.T);
            return q.returned("query-migrate");
        }
    }

    /**
     * The filter between releases, by x-cpr-reload (one process, so one tap and one test driver
     * throughout): molt 0.6.0 filters nothing and its state has no filter, which today's molt
     * loads as the reset state (promiscuous: every frame, as 0.6.0 gave) until the driver programs
     * it again. 0.6.0 refuses a state with a programmed filter (an unknown subsection), and the
     * reload rolls back: today's molt goes on, filtering. A filter back at its reset state is not
     * sent, and 0.6.0 takes the guest.
     */
    @Test
    void theReceiveFilterBetweenMolt060AndTodayByReload(@TempDir Path dir) throws Exception {
        Path old = CrossReleaseIT.release("v0.6.0");
        Path oldJar = old.getParent().resolve("../target/molt.jar").normalize(), todaysJar = QtestReloadIT.moltJar();
        List<Integer> all = List.of(0, 1, 2, 3, 4), asked = List.of(1, 3, 4);
        try (Net net = new Net(dir, "mt0");
             QtestVm vm = QtestVm.start(dir, net.ns.execPrefix(), old, QtestVm.args(dir, "64M", all(nicArgs("mt0"))))) {
            VirtioNetFrames f = new VirtioNetFrames(new QtestBus(vm), SLOT0, AREA, 2048);
            f.init(FEATURES | CTRL_RX);
            f.postRx(32);
            programFilter(f); // acknowledged, not applied
            int m = 1;
            assertEquals(offset(all, m), probe(net, f, m), "0.6.0 filters nothing");
            m += PROBED.size();
            assertEquals("completed", reloadInto(vm, todaysJar).get("status"));
            assertEquals(offset(all, m), probe(net, f, m), "0.6.0's state: promiscuous");
            m += PROBED.size();
            programFilter(f);
            assertEquals(offset(asked, m), probe(net, f, m), "programmed again");
            m += PROBED.size();
            Map<String, Object> back = reloadInto(vm, oldJar);
            assertEquals("failed", back.get("status"), back.toString());
            assertTrue(String.valueOf(back.get("error-desc")).contains("unknown subsection 'rx-filter'"), back.toString());
            assertEquals(offset(asked, m), probe(net, f, m), "today's molt goes on, filtering");
            m += PROBED.size();
            assertEquals(VirtioNetFrames.CTRL_OK, f.control(0, 0, new byte[] {1}), "PROMISC on");
            assertEquals(VirtioNetFrames.CTRL_OK, f.control(1, 0, VirtioNetFrames.macTable(List.of(), List.of())), "an empty table");
            assertEquals("completed", reloadInto(vm, oldJar).get("status"), "the reset filter is not sent");
            assertEquals(offset(all, m), probe(net, f, m), "under 0.6.0 again");
            System.out.println("[molt-it] qtest: the receive filter across x-cpr-reload v0.6.0 -> today (loaded promiscuous) -> v0.6.0"
                    + " (refused while programmed, rolled back; taken once reset)");
        }
    }

    private static List<Integer> offset(List<Integer> markers, int by) {
        return markers.stream().map(x -> x + by).toList();
    }

    @Test
    void aTapHandedOverAsAnFdStaysOpenAcrossACprExecAndLosesNothing(@TempDir Path dir) throws Exception {
        try (Net net = new Net(dir, 21, 30, "mt0")) {
            List<String> args = QtestVm.args(dir, "64M", "-netdev", "tap,id=n0,fd=42",
                    "-device", "virtio-net-device,netdev=n0,mac=" + GUEST_MAC);
            List<String> prefix = new ArrayList<>(net.ns.execPrefix());
            prefix.addAll(List.of("python3", "-c", TAP_LAUNCHER, "mt0"));
            try (QtestVm vm = QtestVm.start(dir, prefix, args)) {
                Guest g = Guest.start(vm);
                VirtioNetFrames f = g.nic();
                exchange(f, g.hostMac(), 1, 20);
                String tapBefore = Files.readSymbolicLink(Path.of("/proc/" + vm.process.pid() + "/fd/42")).toString();
                // Echoed 0.5 s late, while the new molt starts: they wait in the tap, which stays open.
                for (int seq = 21; seq <= 30; seq++) send(f, g.hostMac(), seq);
                cprExec(dir, vm, args);
                assertEquals(tapBefore, Files.readSymbolicLink(Path.of("/proc/" + vm.process.pid() + "/fd/42")).toString(),
                        "the same tap fd, held by the same process");
                for (int seq = 21; seq <= 30; seq++) expectEcho(f, seq);
                exchange(f, g.hostMac(), 31, 50);
                assertSeenOnce(net, 50);
                System.out.println("[molt-it] qtest: a tap passed as fd=42 kept open across cpr-exec: 10 echoes that arrived"
                        + " during the update waited in it, none lost, 50 datagrams each echoed once");
            }
        }
    }

    /**
     * cpr-transfer hands the tap itself to the new process over the cpr channel (the registry's
     * {@code netdev:n0}): the new molt's -netdev names the same interface, which the old molt still
     * holds (a second open would fail with EBUSY). Echoes sent while the guest changes process wait in
     * the tap and reach the new molt; after the old one quits, the interface is still there.
     */
    @Test
    void aCprTransferHandsTheTapItselfToTheNewProcess(@TempDir Path dir) throws Exception {
        try (Net net = new Net(dir, 21, 30, "mt0")) {
            List<String> oldArgs = QtestVm.named(dir, "old", "64M", all(nicArgs("mt0")));
            List<String> newArgs = new ArrayList<>(QtestVm.named(dir, "new", "64M", all(nicArgs("mt0"))));
            newArgs.addAll(List.of("-incoming", "unix:" + dir.resolve("main.sock"), "-incoming", CprTransferIT.unixCpr(dir)));
            try (QtestVm old = QtestVm.start(dir, net.ns.execPrefix(), oldArgs);
                 QtestClient.Listener newQtest = new QtestClient.Listener(dir.resolve("new-qtest.sock"));
                 MoltProcess neu = MoltProcess.start(net.ns.execPrefix(), newArgs.toArray(String[]::new));
                 QmpClient q = old.qmp()) {
                Guest g = Guest.start(old);
                VirtioNetFrames f = g.nic();
                exchange(f, g.hostMac(), 1, 20);
                GuestIT.waitFor(() -> Files.exists(dir.resolve("cpr.sock")) || !neu.alive(), QtestVm.T);
                for (int seq = 21; seq <= 30; seq++) send(f, g.hostMac(), seq); // echoed 0.5 s late, during the transfer
                assertTrue(q.execute("migrate-set-parameters", Map.of("mode", "cpr-transfer")).containsKey("return"));
                assertTrue(q.execute("migrate", Map.of("channels", CprTransferIT.channels(dir))).containsKey("return"));
                QtestMigrationIT.awaitMigration(q, "completed");
                try (QtestClient n = newQtest.accept(QtestVm.T)) {
                    VirtioNetFrames moved = f.movedTo(new QtestBus(() -> n));
                    for (int seq = 21; seq <= 30; seq++) expectEcho(moved, seq);
                    q.execute("quit");
                    old.process.awaitExit(QtestVm.T);
                    exchange(moved, g.hostMac(), 31, 50); // the tap outlived the process that opened it
                    assertSeenOnce(net, 50);
                }
                assertTrue(!neu.stderr().contains("EBUSY") && !neu.stderr().contains("needs a reset"), neu.stderr());
                System.out.println("[molt-it] qtest: cpr-transfer handed the tap itself to the new process: 10 echoes sent during it waited"
                        + " in the tap, none lost; the tap outlived the old molt; 50 datagrams each echoed once");
            }
        }
    }

    @Test
    void datagramsAcrossALiveMigrationComeBackOnce(@TempDir Path dir) throws Exception {
        try (Net net = new Net(dir, "mt0", "mt1")) {
            String uri = "unix:" + dir.resolve("mig.sock");
            List<String> srcArgs = QtestVm.named(dir, "src", "64M", all(nicArgs("mt0")));
            List<String> dstArgs = new ArrayList<>(QtestVm.named(dir, "dst", "64M", all(nicArgs("mt1"))));
            dstArgs.addAll(List.of("-incoming", uri));
            try (QtestVm src = QtestVm.start(dir, net.ns.execPrefix(), srcArgs);
                 QtestVm dst = QtestVm.start(dir, net.ns.execPrefix(), dstArgs);
                 QmpClient q = src.qmp();
                 NetNs.Capture announces = net.ns.capture("mt1", EthFrames.ETHERTYPE_RARP)) {
                Guest g = Guest.start(src);
                VirtioNetFrames f = g.nic();
                byte[] hostMac = g.hostMac();
                exchange(f, hostMac, 1, 20);
                for (int seq = 21; seq <= 25; seq++) send(f, hostMac, seq);
                Thread.sleep(100); // their echoes land in the source's ring, in RAM that migrates
                assertTrue(q.execute("migrate", Map.of("uri", uri)).containsKey("return"));
                QtestMigrationIT.awaitMigration(q, "completed");
                try (QmpClient d = dst.qmp()) {
                    GuestIT.waitFor(() -> "running".equals(d.returned("query-status").get("status")), QtestVm.T);
                }
                assertSelfAnnounce(announces);
                VirtioNetFrames moved = f.movedTo(new QtestBus(dst));
                // And QEMU's guest announce: the destination asks the guest to announce itself (VIRTIO_NET_S_ANNOUNCE,
                // a configuration change), which the guest acknowledges on the control queue.
                assertEquals(1 | 2, moved.rx().readl(0x104) >>> 16 & 0xFF, "status: link up, announce");
                assertEquals(2, moved.rx().readl(0x60) & 2, "a configuration-change interrupt");
                assertEquals(VirtioNetFrames.CTRL_OK, moved.control(3, 0, new byte[0]), "VIRTIO_NET_CTRL_ANNOUNCE_ACK");
                assertEquals(1, moved.rx().readl(0x104) >>> 16 & 0xFF, "status: link up");
                for (int seq = 21; seq <= 25; seq++) expectEcho(moved, seq);
                exchange(moved, hostMac, 26, 50); // out through the destination's tap, mt1
                assertSeenOnce(net, 50);
                assertTrue(!dst.process.stderr().contains("needs a reset"), dst.process.stderr());
                System.out.println("[molt-it] qtest: 50 virtio-net datagrams across a live migration (tap mt0 to mt1), each echoed once, byte for byte;"
                        + " the destination announced the guest with QEMU's 5 RARPs and asked the guest to announce itself");
            }
        }
    }

    @Test
    void setLinkOverQmpAndHmpAndTheLinkStateAcrossACprExec(@TempDir Path dir) throws Exception {
        try (Net net = new Net(dir, "mt0")) {
            List<String> args = QtestVm.args(dir, "64M", all(nicArgs("mt0")));
            try (QtestVm vm = QtestVm.start(dir, net.ns.execPrefix(), args)) {
                Guest g = Guest.start(vm);
                VirtioNetFrames f = g.nic();
                byte[] hostMac = g.hostMac();
                exchange(f, hostMac, 1, 3);
                try (QmpClient q = vm.qmp()) {
                    Map<String, Object> missing = q.execute("set_link", Map.of("name", "nope", "up", false));
                    assertEquals(Map.of("class", "DeviceNotFound", "desc", "Device 'nope' not found"), missing.get("error"), missing.toString());
                    assertTrue(q.execute("set_link", Map.of("name", "n0", "up", false)).containsKey("return"));
                }
                assertEquals(0, f.rx().readl(0x104) >>> 16, "status: link down");
                assertEquals(2, f.rx().ackInterrupt() & 2, "a configuration-change interrupt");
                send(f, hostMac, 4); // dropped: the link is down
                cprExec(dir, vm, args);
                assertEquals(0, f.rx().readl(0x104) >>> 16, "still down in the new molt");
                try (QmpClient q = vm.qmp()) {
                    Map<String, Object> hmp = q.execute("human-monitor-command", Map.of("command-line", "set_link virtio-net-device.0 on"));
                    assertEquals("", hmp.get("return"), hmp.toString());
                }
                assertEquals(1, f.rx().readl(0x104) >>> 16, "status: link up");
                exchange(f, hostMac, 5, 8);
                Thread.sleep(200);
                assertEquals(List.of(1, 2, 3, 5, 6, 7, 8), net.seen(), "nothing sent while the link was down");
                System.out.println("[molt-it] qtest: set_link over QMP and HMP; a link down stays down across cpr-exec and sends nothing");
            }
        }
    }
}
