package dev.molt.devices.net;

import dev.molt.devices.virtio.InterruptLine;
import dev.molt.devices.virtio.VirtioMmio;
import dev.molt.sys.EventFd;
import dev.molt.testsupport.EthFrames;
import dev.molt.testsupport.NetNs;
import dev.molt.testsupport.TestRam;
import dev.molt.testsupport.VirtioDriver;
import dev.molt.testsupport.VirtioNetFrames;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * virtio-net behind its virtio-mmio transport, driven as a guest driver would over native memory,
 * with a real tap whose interface lives in a network namespace: the kernel there answers ARP and
 * ICMP echo, so frames go out through the transmit queue and come back through the receive queue.
 */
class VirtioNetTest {
    private static final long BASE = 0xFEB0_0000L, AREA = 0x10000;
    static final long VERSION_1 = VirtioDriver.VERSION_1, MAC = 1L << 5, STATUS = 1L << 16, CSUM = 1, GUEST_CSUM = 2,
            GUEST_TSO4 = 1L << 7, MRG_RXBUF = 1L << 15, CTRL_VQ = 1L << 17, CTRL_RX = 1L << 18, CTRL_RX_EXTRA = 1L << 20,
            GUEST_ANNOUNCE = 1L << 21, CTRL_MAC_ADDR = 1L << 23;
    static final byte[] GUEST_IP = EthFrames.ip("10.99.0.2"), HOST_IP = EthFrames.ip("10.99.0.1");
    static final MacAddress GUEST_MAC = MacAddress.parse("52:54:00:ab:cd:01").orElseThrow();

    private NetNs ns;
    private String tapName;
    private TestRam ram;
    private VirtioNet device;
    private VirtioMmio transport;

    @BeforeAll
    static void tapsWork() {
        String why = NetNs.unusableBecause();
        Assumptions.assumeTrue(why == null, "skipped: " + why);
    }

    @BeforeEach
    void setUp() throws Exception {
        ns = NetNs.create("net-unit");
        tapName = NetNs.tapName("mt");
        TapBackend tap = TapBackend.open(new NetdevConfig("n0", new NetdevConfig.Source.Ifname(tapName), false), Optional.empty());
        device = new VirtioNet(new VirtioNetConfig(tap.config(), GUEST_MAC, "nic0", "/machine/peripheral/nic0"), tap, 0);
        ns.ip("link", "set", "lo", "up");
        NetNs.check("ip", "netns", "exec", ns.name, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1");
        ns.adopt(tapName, "10.99.0.1/24"); // the fd stays attached: the interface moved, not the file
        // The test answers no ARP: a permanent neighbour keeps the kernel from probing the guest and failing it.
        ns.ip("neigh", "replace", "10.99.0.2", "lladdr", GUEST_MAC.toString(), "dev", tapName, "nud", "permanent");
        ram = new TestRam(4 << 20, BASE);
        transport = new VirtioMmio(0, BASE, device, ram.memory, (gpa, len) -> { }, new InterruptLine.Level(level -> { }), new EventFd("kick"));
        ram.attach(transport);
        transport.setRunning(true);
    }

    @AfterEach
    void tearDown() throws Exception {
        if (transport != null) transport.close();
        if (ram != null) ram.close();
        if (ns != null) ns.close();
    }

    private VirtioNetFrames frames(int bufSize, long features) throws Exception {
        VirtioNetFrames f = new VirtioNetFrames(ram, BASE, AREA, bufSize);
        f.init(features);
        return f;
    }

    /** ARP for the host: its MAC (the kernel also learns ours from the request, so it can answer pings). */
    private static byte[] resolveHost(VirtioNetFrames f) throws Exception {
        f.send(EthFrames.arpRequest(GUEST_MAC.bytes(), GUEST_IP, HOST_IP));
        byte[] reply = f.receive(fr -> EthFrames.arpReplyMac(fr, HOST_IP) != null, 10_000).frame();
        return EthFrames.arpReplyMac(reply, HOST_IP);
    }

    private static byte[] ping(byte[] hostMac, int seq, byte[] payload) {
        return EthFrames.icmpEcho(GUEST_MAC.bytes(), hostMac, GUEST_IP, HOST_IP, 0x4d4f, seq, payload);
    }

    private static boolean isEchoReply(byte[] frame) {
        return EthFrames.ipProto(frame) == 1 && frame[EthFrames.ETH + 20] == 0;
    }

    private static int seqOf(byte[] frame) {
        return (frame[EthFrames.ETH + 26] & 0xFF) << 8 | frame[EthFrames.ETH + 27] & 0xFF;
    }

    private static byte[] payload(int seq, int len) {
        byte[] p = new byte[len];
        new Random(seq).nextBytes(p);
        return p;
    }

    @Test
    void configurationSpaceAndFeatures() throws Exception {
        VirtioDriver d = new VirtioDriver(ram, BASE, AREA, 64);
        assertEquals(1, d.readl(0x008), "network device");
        long offered = d.deviceFeatures();
        for (long bit : new long[] {VERSION_1, MAC, STATUS, CSUM, GUEST_CSUM, GUEST_TSO4, 1L << 8, 1L << 11, 1L << 12}) {
            assertTrue((offered & bit) != 0, "offers bit " + Long.numberOfTrailingZeros(bit) + " in " + Long.toHexString(offered));
        }
        assertEquals(1L << 28 | 1L << 29, offered & (1L << 28 | 1L << 29), "indirect descriptors and event index");
        long merged = MRG_RXBUF | CTRL_VQ | CTRL_RX | CTRL_RX_EXTRA | GUEST_ANNOUNCE | CTRL_MAC_ADDR;
        assertEquals(merged, offered & merged, "mergeable buffers and the control queue with rx modes (QEMU's extra ones too), announce and MAC");
        assertEquals(0, offered & (1L << 19 | 1L << 22), "no VLAN filter, no multiqueue");
        int lo = d.readl(0x100), hi = d.readl(0x104);
        byte[] mac = {(byte) lo, (byte) (lo >>> 8), (byte) (lo >>> 16), (byte) (lo >>> 24), (byte) hi, (byte) (hi >>> 8)};
        assertArrayEquals(GUEST_MAC.bytes(), mac);
        assertEquals(1, hi >>> 16, "status: link up");
        d.writel(0x30, 1);
        assertEquals(256, d.readl(0x034), "a transmit queue");
        d.writel(0x30, 2);
        assertEquals(256, d.readl(0x034), "a control queue");
        d.writel(0x30, 3);
        assertEquals(0, d.readl(0x034), "no fourth queue");
    }

    @Test
    void pingsThroughTheTapComeBackByteForByte() throws Exception {
        VirtioNetFrames f = frames(2048, VERSION_1 | MAC | STATUS);
        f.postRx(16);
        byte[] hostMac = resolveHost(f);
        assertNotNull(hostMac);
        for (int seq = 1; seq <= 50; seq++) {
            byte[] sent = payload(seq, seq * 29 % 1400);
            f.send(ping(hostMac, seq, sent));
            VirtioNetFrames.Received r = f.receive(VirtioNetTest::isEchoReply, 10_000);
            assertEquals(seq, seqOf(r.frame()));
            assertArrayEquals(sent, EthFrames.l4Payload(r.frame()), "echo " + seq);
            assertEquals(1, r.numBuffers(), "num_buffers without MRG_RXBUF");
            assertArrayEquals(GUEST_MAC.bytes(), Arrays.copyOf(r.frame(), 6), "to the guest's MAC");
        }
        assertEquals(0, device.rxDropped());
    }

    @Test
    void framesGoBothWaysThroughIndirectTables() throws Exception {
        VirtioNetFrames f = frames(2048, VERSION_1 | MAC | VirtioDriver.INDIRECT_DESC);
        f.useIndirect();
        f.postRx(16);
        byte[] hostMac = resolveHost(f);
        for (int seq = 1; seq <= 10; seq++) {
            byte[] sent = payload(seq, 100 * seq);
            f.send(ping(hostMac, seq, sent));
            VirtioNetFrames.Received r = f.receive(VirtioNetTest::isEchoReply, 10_000);
            assertEquals(seq, seqOf(r.frame()));
            assertArrayEquals(sent, EthFrames.l4Payload(r.frame()), "echo " + seq);
            assertEquals(1, r.numBuffers());
        }
        assertEquals(0, f.rx().readl(0x70) & VirtioDriver.NEEDS_RESET);
    }

    @Test
    void withMergeableBuffersAFrameSpreadsOverSeveralChains() throws Exception {
        VirtioNetFrames f = frames(512, VERSION_1 | MAC | MRG_RXBUF);
        f.postRx(2);
        byte[] hostMac = resolveHost(f);
        assertEquals(1, f.lastLengths().size(), "the ARP reply fits one buffer");
        // 1024 bytes in the ring: the 1454-byte echo waits (in molt, the tap no longer read) until the guest adds a buffer.
        int before = f.rx().usedIdx();
        f.send(ping(hostMac, 1, payload(1, 1400)));
        Thread.sleep(300);
        assertEquals(before, f.rx().usedIdx(), "not enough room yet: nothing used");
        assertEquals(0, device.rxDropped(), "and nothing dropped");
        f.postRx(30);
        VirtioNetFrames.Received r = f.receive(VirtioNetTest::isEchoReply, 10_000);
        assertEquals(3, r.numBuffers(), "num_buffers");
        assertEquals(List.of(512, 512, 1454 - 1024), f.lastLengths());
        assertArrayEquals(payload(1, 1400), EthFrames.l4Payload(r.frame()));
        for (int seq = 2; seq <= 20; seq++) {
            byte[] sent = payload(seq, seq * 71 % 1400);
            f.send(ping(hostMac, seq, sent));
            r = f.receive(VirtioNetTest::isEchoReply, 10_000);
            assertEquals(seq, seqOf(r.frame()));
            assertArrayEquals(sent, EthFrames.l4Payload(r.frame()), "echo " + seq);
            assertEquals((12 + 42 + sent.length + 511) / 512, r.numBuffers(), "echo " + seq + " of " + sent.length + " bytes");
        }
        assertEquals(0, device.rxDropped());
    }

    @Test
    void withRoomForTheLargestFrameTheTapIsReadStraightIntoSeveralChains() throws Exception {
        ns.ip("link", "set", tapName, "mtu", "9000");
        VirtioNetFrames f = frames(2048, VERSION_1 | MAC | MRG_RXBUF);
        f.postRx(48); // 96 KiB: more than a 64 KiB GSO frame
        byte[] hostMac = resolveHost(f);
        for (int seq = 1; seq <= 5; seq++) {
            byte[] sent = payload(seq, 3000 + 1000 * seq);
            f.send(ping(hostMac, seq, sent));
            VirtioNetFrames.Received r = f.receive(VirtioNetTest::isEchoReply, 10_000);
            assertArrayEquals(sent, EthFrames.l4Payload(r.frame()), "echo " + seq);
            int total = 12 + 42 + sent.length;
            assertEquals((total + 2047) / 2048, r.numBuffers());
            assertEquals(total, f.lastLengths().stream().mapToInt(Integer::intValue).sum());
        }
        assertEquals(0, device.rxDropped());
    }

    @Test
    void theControlQueueAnswersRxModeMacAndAnnounce() throws Exception {
        VirtioNetFrames f = frames(2048, VERSION_1 | MAC | STATUS | CTRL_VQ | CTRL_RX | CTRL_MAC_ADDR | GUEST_ANNOUNCE);
        assertEquals(VirtioNetFrames.CTRL_OK, f.control(0, 0, new byte[] {1}), "PROMISC on");
        assertEquals(VirtioNetFrames.CTRL_OK, f.control(0, 1, new byte[] {0}), "ALLMULTI off");
        assertEquals(VirtioNetFrames.CTRL_ERR, f.control(0, 0, new byte[] {1, 1}), "PROMISC with two bytes");
        assertEquals(VirtioNetFrames.CTRL_ERR, f.control(0, 2, new byte[] {1}), "ALLUNI: the driver did not take CTRL_RX_EXTRA");
        byte[] table = java.nio.ByteBuffer.allocate(4 + 6 + 4 + 12).order(java.nio.ByteOrder.LITTLE_ENDIAN)
                .putInt(1).put(new byte[] {2, 0, 0, 0, 0, 1}).putInt(2).put(new byte[12]).array();
        assertEquals(VirtioNetFrames.CTRL_OK, f.control(1, 0, table), "MAC_TABLE_SET, one unicast and two multicast");
        assertEquals(VirtioNetFrames.CTRL_ERR, f.control(1, 0, Arrays.copyOf(table, table.length - 1)), "a table one byte short");
        assertEquals(VirtioNetFrames.CTRL_ERR, f.control(7, 0, new byte[0]), "an unknown class");
        byte[] newMac = {0x52, 0x54, 0, 0x11, 0x22, 0x33};
        assertEquals(VirtioNetFrames.CTRL_OK, f.control(1, 1, newMac), "MAC_ADDR_SET");
        int lo = f.rx().readl(0x100), hi = f.rx().readl(0x104);
        assertArrayEquals(newMac, new byte[] {(byte) lo, (byte) (lo >>> 8), (byte) (lo >>> 16), (byte) (lo >>> 24), (byte) hi, (byte) (hi >>> 8)});
        assertEquals(MacAddress.of(newMac), device.snapshot().mac(), "the MAC that migrates");
        // Self-announce after a migration: the guest is asked (status VIRTIO_NET_S_ANNOUNCE), announces, acknowledges.
        assertEquals(VirtioNetFrames.CTRL_ERR, f.control(3, 0, new byte[0]), "an acknowledgement nobody asked for");
        assertTrue(device.announce(), "a configuration change for the driver");
        assertEquals(1 | 2, f.rx().readl(0x104) >>> 16 & 0xFF, "link up, announce");
        assertEquals(VirtioNetFrames.CTRL_OK, f.control(3, 0, new byte[0]), "ANNOUNCE_ACK");
        assertEquals(1, f.rx().readl(0x104) >>> 16 & 0xFF, "link up only");
        // Without the features the commands are refused, and announce asks nothing of the guest.
        f.init(VERSION_1 | MAC | CTRL_VQ);
        assertEquals(VirtioNetFrames.CTRL_ERR, f.control(0, 0, new byte[] {1}), "PROMISC without CTRL_RX");
        assertEquals(VirtioNetFrames.CTRL_ERR, f.control(1, 1, newMac), "MAC_ADDR_SET without CTRL_MAC_ADDR");
        assertTrue(!device.announce());
        // A command without an ack byte is a broken driver.
        f.ctrl().add(List.of(new VirtioDriver.Buf(AREA + 0x3400, 3, false)));
        f.ctrl().notifyQueue();
        awaitNeedsReset(f, "a control command without an ack byte");
    }

    // ---- the receive filter ----

    static final MacAddress OTHER = MacAddress.parse("52:54:00:ab:cd:02").orElseThrow(), LISTED = MacAddress.parse("52:54:00:ab:cd:03").orElseThrow();
    static final MacAddress GROUP = MacAddress.parse("01:00:5e:00:00:fb").orElseThrow(), OTHER_GROUP = MacAddress.parse("33:33:00:00:00:01").orElseThrow();
    /** Sends probes to {@code to} out of the namespace into molt's tap, in order, marked from {@link #nextMarker}. */
    private void inject(MacAddress... to) throws Exception {
        List<byte[]> frames = new java.util.ArrayList<>();
        for (MacAddress m : to) frames.add(EthFrames.probe(m.bytes(), nextMarker++));
        ns.inject(tapName, frames);
    }

    private int nextMarker = 1;

    private static void rxMode(VirtioNetFrames f, RxFilter.Mode mode, boolean on) throws Exception {
        assertEquals(VirtioNetFrames.CTRL_OK, f.control(0, mode.ordinal(), new byte[] {(byte) (on ? 1 : 0)}), mode + (on ? " on" : " off"));
    }

    @Test
    void theFilterTheDriverProgramsDecidesWhichFramesReachIt() throws Exception {
        VirtioNetFrames f = frames(2048, VERSION_1 | MAC | CTRL_VQ | CTRL_RX | CTRL_RX_EXTRA | CTRL_MAC_ADDR);
        f.postRx(16);
        inject(OTHER, GUEST_MAC); // 1, 2
        assertEquals(List.of(1, 2), f.probesUntil(2), "promiscuous until the driver says otherwise");
        rxMode(f, RxFilter.Mode.PROMISC, false);
        assertEquals(VirtioNetFrames.CTRL_OK, f.control(1, 0, VirtioNetFrames.macTable(List.of(LISTED), List.of(GROUP))), "MAC_TABLE_SET");
        inject(OTHER, LISTED, GROUP, OTHER_GROUP, MacAddress.BROADCAST, GUEST_MAC); // 3..8
        assertEquals(List.of(4, 5, 7, 8), f.probesUntil(8), "the table's, broadcast and the NIC's own");
        assertEquals(2, device.rxFiltered());
        rxMode(f, RxFilter.Mode.ALLMULTI, true);
        rxMode(f, RxFilter.Mode.NOBCAST, true);
        inject(OTHER_GROUP, MacAddress.BROADCAST, GUEST_MAC); // 9..11
        assertEquals(List.of(9, 11), f.probesUntil(11), "ALLMULTI, NOBCAST");
        rxMode(f, RxFilter.Mode.NOUNI, true);
        inject(GUEST_MAC, LISTED, GROUP); // 12..14
        assertEquals(List.of(14), f.probesUntil(14), "NOUNI");
        rxMode(f, RxFilter.Mode.NOUNI, false);
        rxMode(f, RxFilter.Mode.ALLUNI, true);
        rxMode(f, RxFilter.Mode.NOMULTI, true);
        inject(OTHER, GROUP, GUEST_MAC); // 15..17
        assertEquals(List.of(15, 17), f.probesUntil(17), "ALLUNI, NOMULTI");
        assertEquals(2 + 1 + 2 + 1, device.rxFiltered());
        assertEquals(0, device.rxDropped(), "filtered is not dropped for want of room");
        // The NIC's own address is the one the driver set.
        rxMode(f, RxFilter.Mode.ALLUNI, false);
        assertEquals(VirtioNetFrames.CTRL_OK, f.control(1, 1, OTHER.bytes()), "MAC_ADDR_SET");
        inject(GUEST_MAC, OTHER); // 18, 19
        assertEquals(List.of(19), f.probesUntil(19));
        // A reset forgets it all, as QEMU's: promiscuous again, the configured MAC.
        f.init(VERSION_1 | MAC | CTRL_VQ | CTRL_RX);
        f.postRx(16);
        assertEquals(RxFilter.RESET, device.rxFilter());
        assertEquals(GUEST_MAC, device.mac());
        inject(OTHER, OTHER_GROUP); // 20, 21
        assertEquals(List.of(20, 21), f.probesUntil(21));
        for (RxFilter.Mode m : List.of(RxFilter.Mode.ALLUNI, RxFilter.Mode.NOMULTI, RxFilter.Mode.NOUNI, RxFilter.Mode.NOBCAST)) {
            assertEquals(VirtioNetFrames.CTRL_ERR, f.control(0, m.ordinal(), new byte[] {1}), m + " without CTRL_RX_EXTRA");
        }
        assertEquals(RxFilter.RESET, device.rxFilter(), "refused commands change nothing");
    }

    @Test
    void malformedTablesAreAnsweredErrAndChangeNothing() throws Exception {
        VirtioNetFrames f = frames(2048, VERSION_1 | MAC | CTRL_VQ | CTRL_RX);
        assertEquals(VirtioNetFrames.CTRL_OK, f.control(1, 0, VirtioNetFrames.macTable(List.of(LISTED), List.of(GROUP))));
        RxFilter programmed = device.rxFilter();
        byte[] good = VirtioNetFrames.macTable(List.of(LISTED), List.of(GROUP, OTHER_GROUP));
        List<byte[]> bad = List.of(new byte[0], new byte[3], Arrays.copyOf(good, good.length - 1), Arrays.copyOf(good, good.length + 5),
                java.nio.ByteBuffer.allocate(14).order(java.nio.ByteOrder.LITTLE_ENDIAN).putInt(-1).put(LISTED.bytes()).putInt(0).array(),
                java.nio.ByteBuffer.allocate(14).order(java.nio.ByteOrder.LITTLE_ENDIAN).putInt(0).putInt(0x2AAA_AAAB).put(GROUP.bytes()).array(),
                new byte[VirtioNet.CTRL_MAX]); // more than a command may carry, with its class and command bytes
        for (byte[] data : bad) {
            assertEquals(VirtioNetFrames.CTRL_ERR, f.control(1, 0, data), data.length + " bytes");
            assertEquals(programmed, device.rxFilter());
        }
        // 200 unicast and 50 multicast addresses: not an error but QEMU's overflow, in one command of 1510 bytes.
        List<MacAddress> many = java.util.stream.IntStream.range(0, 250).mapToObj(i -> new MacAddress((i < 200 ? 0x02L : 0x01L) << 40 | i)).toList();
        assertEquals(VirtioNetFrames.CTRL_OK, f.control(1, 0, VirtioNetFrames.macTable(many.subList(0, 200), many.subList(200, 250))));
        assertTrue(device.rxFilter().uniOverflow() && !device.rxFilter().multiOverflow(), device.rxFilter().toString());
        assertEquals(many.subList(200, 250), device.rxFilter().multicast(), "the multicast entries take the room");
        // 1000 multicast addresses (6 KiB, more than the 4 KiB a command could carry before): the multicast overflow.
        List<MacAddress> groups = java.util.stream.IntStream.range(0, 1000).mapToObj(i -> new MacAddress(0x01L << 40 | i)).toList();
        assertEquals(VirtioNetFrames.CTRL_OK, f.control(1, 0, VirtioNetFrames.macTable(List.of(LISTED), groups)));
        assertTrue(!device.rxFilter().uniOverflow() && device.rxFilter().multiOverflow(), device.rxFilter().toString());
        assertEquals(List.of(LISTED), device.rxFilter().unicast());
        assertEquals(0, f.rx().readl(0x70) & VirtioDriver.NEEDS_RESET, "the device goes on");
    }

    /**
     * With mergeable buffers a refused frame is dropped before it waits for buffers and before it
     * reaches guest RAM when the ring is short (read into the native buffer), and when it was read
     * straight into the chains, no used entry shows it and they take the next frame.
     */
    @Test
    void withMergeableBuffersARefusedFrameNeverReachesTheGuest() throws Exception {
        for (int chains : new int[] {2, 48}) {
            VirtioNetFrames f = frames(2048, VERSION_1 | MAC | MRG_RXBUF | CTRL_VQ | CTRL_RX);
            byte[] canary = new byte[64 * 2048];
            Arrays.fill(canary, (byte) 0x5A);
            ram.write(AREA + 0x8000, canary); // the receive buffers
            f.postRx(chains);
            rxMode(f, RxFilter.Mode.PROMISC, false);
            long filtered = device.rxFiltered();
            int before = f.rx().usedIdx();
            inject(OTHER, GROUP, OTHER_GROUP);
            long deadline = System.currentTimeMillis() + 10_000;
            while (device.rxFiltered() < filtered + 3) {
                assertTrue(System.currentTimeMillis() < deadline, "the refused frames were not filtered with " + chains + " chains");
                Thread.sleep(5);
            }
            assertEquals(before, f.rx().usedIdx(), "no used entry for a refused frame, " + chains + " chains");
            if (chains == 2) assertArrayEquals(canary, ram.read(AREA + 0x8000, canary.length), "the short ring's buffers untouched");
            int marker = nextMarker;
            inject(GUEST_MAC);
            VirtioNetFrames.Received r = f.receive(fr -> EthFrames.type(fr) == EthFrames.ETHERTYPE_PROBE, 10_000);
            assertArrayEquals(EthFrames.probe(GUEST_MAC.bytes(), marker), r.frame(), "the next frame, whole, " + chains + " chains");
            assertEquals(1, r.numBuffers());
            assertEquals((before + 1) & 0xFFFF, f.rx().usedIdx());
            assertEquals(0, device.rxDropped());
        }
    }

    @Test
    void theFilterMovesWithTheDeviceState() throws Exception {
        VirtioNetFrames f = frames(2048, VERSION_1 | MAC | CTRL_VQ | CTRL_RX | CTRL_RX_EXTRA);
        rxMode(f, RxFilter.Mode.PROMISC, false);
        rxMode(f, RxFilter.Mode.NOBCAST, true);
        assertEquals(VirtioNetFrames.CTRL_OK, f.control(1, 0, VirtioNetFrames.macTable(List.of(LISTED), List.of(GROUP))));
        VirtioNet.State s = device.snapshot();
        byte[] saved = VirtioNet.VMSTATE.encode(s);
        f.init(VERSION_1 | MAC | CTRL_VQ | CTRL_RX); // a reset: the filter gone
        assertEquals(RxFilter.RESET, device.rxFilter());
        device.restore(VirtioNet.VMSTATE.decode(saved, 1));
        assertEquals(s.filter(), device.rxFilter());
        f.postRx(16);
        inject(OTHER, LISTED, GROUP, MacAddress.BROADCAST, GUEST_MAC);
        assertEquals(List.of(2, 3, 5), f.probesUntil(5), "the table, NOBCAST and the NIC's own address after the restore");
    }

    @Test
    void aStateWithoutTheControlQueueLoadsAndOneWithMoreQueuesDoesNot() throws Exception {
        frames(2048, VERSION_1 | MAC | CTRL_VQ);
        dev.molt.devices.virtio.VirtioMmioState s = transport.snapshot();
        assertTrue(s.queues().get(2).ready(), "the driver set up its control queue");
        transport.restore(withQueues(s, s.queues().subList(0, 2))); // an older molt's virtio-net
        assertTrue(!transport.snapshot().queues().get(2).ready(), "the control queue the older state did not have is reset");
        List<dev.molt.devices.virtio.Virtqueue.State> four = new java.util.ArrayList<>(s.queues());
        four.add(s.queues().getLast());
        IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> transport.restore(withQueues(s, four)));
        assertTrue(e.getMessage().contains("the state has 4 queues, virtio-net-device has 3"), e.getMessage());
    }

    private static dev.molt.devices.virtio.VirtioMmioState withQueues(dev.molt.devices.virtio.VirtioMmioState s,
                                                                    List<dev.molt.devices.virtio.Virtqueue.State> queues) {
        return new dev.molt.devices.virtio.VirtioMmioState(s.deviceId(), s.status(), s.deviceFeaturesSel(), s.driverFeaturesSel(),
                s.driverFeatures(), s.queueSel(), s.isr(), s.configGeneration(), queues);
    }

    @Test
    void framesWaitInTheTapWhileTheGuestHasNoBuffers() throws Exception {
        VirtioNetFrames f = frames(2048, VERSION_1 | MAC);
        f.postRx(1);
        byte[] hostMac = resolveHost(f); // receive() posts the buffer again: one buffer for the 20 replies below
        int before = f.rx().usedIdx();
        for (int seq = 1; seq <= 20; seq++) f.send(ping(hostMac, seq, payload(seq, 200)));
        Thread.sleep(300);
        assertEquals((before + 1) & 0xFFFF, f.rx().usedIdx(), "one buffer, one frame: the other replies wait in the tap");
        f.postRx(32);
        int next = 1;
        for (int i = 0; i < 20; i++) {
            byte[] frame = f.receive(VirtioNetTest::isEchoReply, 10_000).frame();
            assertEquals(next, seqOf(frame), "in order, none lost");
            assertArrayEquals(payload(next, 200), EthFrames.l4Payload(frame));
            next++;
        }
        assertEquals(0, device.rxDropped());
    }

    @Test
    void aFrameLongerThanTheBuffersIsDroppedAndNothingPastThemIsWritten() throws Exception {
        VirtioNetFrames f = frames(256, VERSION_1 | MAC);
        f.postRx(1);
        byte[] hostMac = resolveHost(f);
        // The buffer posted again is the only one (descriptor 1); every buffer after it holds a canary.
        byte[] fill = new byte[62 * 256];
        Arrays.fill(fill, (byte) 0x5A);
        ram.write(AREA + 0x8000 + 2 * 256, fill); // every buffer not posted
        f.send(ping(hostMac, 1, payload(1, 1000)));
        long deadline = System.currentTimeMillis() + 10_000;
        while (device.rxDropped() == 0) {
            assertTrue(System.currentTimeMillis() < deadline, "the long reply was not dropped");
            Thread.sleep(5);
        }
        f.send(ping(hostMac, 2, payload(2, 100)));
        byte[] frame = f.receive(VirtioNetTest::isEchoReply, 10_000).frame();
        assertEquals(2, seqOf(frame), "the next frame that fits uses the buffer");
        assertArrayEquals(payload(2, 100), EthFrames.l4Payload(frame));
        assertEquals(1, device.rxDropped());
        assertArrayEquals(fill, ram.read(AREA + 0x8000 + 2 * 256, 62 * 256), "nothing written past the buffers");
    }

    @Test
    void theGuestsChecksumOffloadReachesTheTap() throws Exception {
        VirtioNetFrames f = frames(2048, VERSION_1 | MAC | CSUM | GUEST_CSUM | GUEST_TSO4);
        f.postRx(16);
        resolveHost(f);
        // A datagram from the namespace's stack: with GUEST_CSUM the tap hands it over with its checksum
        // left to the guest (VIRTIO_NET_HDR_F_NEEDS_CSUM), which only TUNSETOFFLOAD TUN_F_CSUM allows.
        NetNs.check("ip", "netns", "exec", ns.name, "python3", "-c",
                "import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto(b'offload-probe', ('10.99.0.2', 7777))");
        VirtioNetFrames.Received r = f.receive(fr -> EthFrames.ipProto(fr) == 17, 10_000);
        assertArrayEquals("offload-probe".getBytes(), EthFrames.l4Payload(r.frame()));
        assertEquals(1, r.header()[0] & 1, "VIRTIO_NET_HDR_F_NEEDS_CSUM: the checksum is the guest's to finish");
    }

    /** A datagram whose UDP checksum the guest left to the host (CSUM): the tap completes it as the header says. */
    @Test
    void theHostCompletesAChecksumTheGuestLeftPartial() throws Exception {
        VirtioNetFrames f = frames(2048, VERSION_1 | MAC | CSUM);
        f.postRx(16);
        byte[] hostMac = resolveHost(f);
        List<String> cmd = new java.util.ArrayList<>(ns.execPrefix());
        cmd.addAll(List.of("python3", "-u", "-c", "import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM);"
                + " s.bind(('10.99.0.1', 7777)); s.settimeout(10); print('ready', flush=True); print(s.recvfrom(2000)[0].decode(), flush=True)"));
        Process listener = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        try {
            var out = new java.io.BufferedReader(new java.io.InputStreamReader(listener.getInputStream()));
            assertEquals("ready", out.readLine());
            byte[] frame = EthFrames.udp(GUEST_MAC.bytes(), hostMac, GUEST_IP, HOST_IP, 5000, 7777, "partial-checksum".getBytes());
            int udp = EthFrames.ETH + EthFrames.IP;
            // What a guest leaves with CHECKSUM_PARTIAL: the pseudo-header's folded sum, not inverted.
            int pseudo = 0;
            for (int i = 0; i < 4; i += 2) pseudo += ((GUEST_IP[i] & 0xFF) << 8 | GUEST_IP[i + 1] & 0xFF) + ((HOST_IP[i] & 0xFF) << 8 | HOST_IP[i + 1] & 0xFF);
            pseudo += 17 + frame.length - udp;
            while ((pseudo >>> 16) != 0) pseudo = (pseudo & 0xFFFF) + (pseudo >>> 16);
            frame[udp + 6] = (byte) (pseudo >>> 8);
            frame[udp + 7] = (byte) pseudo;
            java.nio.ByteBuffer hdr = java.nio.ByteBuffer.allocate(VirtioNetFrames.HDR).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            hdr.put(0, (byte) 1).putShort(6, (short) udp).putShort(8, (short) 6); // NEEDS_CSUM, csum_start, csum_offset
            f.send(hdr.array(), frame);
            assertEquals("partial-checksum", out.readLine(), "the namespace's stack took the datagram");
        } finally {
            listener.destroyForcibly();
            listener.waitFor();
        }
    }

    @Test
    void withoutGuestCsumEveryChecksumIsComplete() throws Exception {
        VirtioNetFrames f = frames(2048, VERSION_1 | MAC);
        f.postRx(16);
        resolveHost(f);
        NetNs.check("ip", "netns", "exec", ns.name, "python3", "-c",
                "import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto(b'no-offload', ('10.99.0.2', 7777))");
        VirtioNetFrames.Received r = f.receive(fr -> EthFrames.ipProto(fr) == 17, 10_000);
        assertEquals(0, r.header()[0] & 1, "no NEEDS_CSUM");
        assertArrayEquals("no-offload".getBytes(), EthFrames.l4Payload(r.frame()));
    }

    @Test
    void aLinkDownSendsAndReceivesNothingAndTheDriverIsTold() throws Exception {
        VirtioNetFrames f = frames(2048, VERSION_1 | MAC | STATUS);
        f.postRx(16);
        byte[] hostMac = resolveHost(f);
        int generation = f.rx().readl(0x0FC);
        assertTrue(device.setLink(false));
        transport.configChanged();
        assertEquals(0, f.rx().readl(0x104) >>> 16, "status: link down");
        assertEquals(2, f.rx().ackInterrupt() & 2, "a configuration-change interrupt");
        assertTrue(f.rx().readl(0x0FC) != generation, "a new configuration generation");
        int before = f.rx().usedIdx();
        f.send(ping(hostMac, 1, payload(1, 100))); // taken from the ring, not sent
        Thread.sleep(300);
        assertEquals(before, f.rx().usedIdx(), "no echo: nothing went out");
        assertTrue(device.setLink(true));
        transport.configChanged();
        f.send(ping(hostMac, 2, payload(2, 100)));
        assertEquals(2, seqOf(f.receive(VirtioNetTest::isEchoReply, 10_000).frame()), "up again: only the echo sent while up");
    }

    @Test
    void theSelfAnnounceIsQemusRarpFromTheGuestsMac() throws Exception {
        try (NetNs.Capture capture = ns.capture(tapName, EthFrames.ETHERTYPE_RARP)) {
            device.announce();
            NetNs.Capture.Frame f = capture.next(5_000);
            assertNotNull(f, "no RARP on the tap");
            byte[] m = GUEST_MAC.bytes();
            java.nio.ByteBuffer expected = java.nio.ByteBuffer.allocate(60);
            expected.put(EthFrames.BROADCAST).put(m).putShort((short) 0x8035).putShort((short) 1).putShort((short) 0x0800)
                    .put((byte) 6).put((byte) 4).putShort((short) 3).put(m).putInt(0).put(m).putInt(0);
            assertArrayEquals(expected.array(), f.bytes(), "announce_self_create's frame");
        }
    }

    @Test
    void aTapThatVanishesStopsReceivingWithoutSpinning() throws Exception {
        VirtioNetFrames f = frames(2048, VERSION_1 | MAC);
        f.postRx(16);
        byte[] hostMac = resolveHost(f);
        ns.ip("link", "del", tapName);
        f.send(ping(hostMac, 1, payload(1, 100))); // the transmit queue goes on: the frame is lost, as on a cut wire
        Thread io = Thread.getAllStackTraces().keySet().stream().filter(t -> t.getName().equals("virtio-net-device@feb00000"))
                .findFirst().orElseThrow();
        var threads = java.lang.management.ManagementFactory.getThreadMXBean();
        long cpu = threads.getThreadCpuTime(io.threadId());
        Thread.sleep(500);
        long used = threads.getThreadCpuTime(io.threadId()) - cpu;
        assertTrue(used < 50_000_000L, "the I/O thread used " + used / 1_000_000 + " ms of CPU in 500 ms: it spins on a dead tap");
        assertEquals(null, device.backendFd(), "the tap is no longer polled");
        f.send(ping(hostMac, 2, payload(2, 100)));
        assertEquals(VirtioDriver.ACKNOWLEDGE | VirtioDriver.DRIVER | VirtioDriver.FEATURES_OK | VirtioDriver.DRIVER_OK, f.rx().readl(0x70),
                "the device goes on (no reset needed): the guest sees a link that carries nothing");
    }

    @Test
    void brokenChainsNeedAReset() throws Exception {
        VirtioNetFrames f = frames(2048, VERSION_1 | MAC);
        f.tx().add(java.util.List.of(new VirtioDriver.Buf(AREA + 0x40000, 4, false))); // shorter than the header
        f.tx().notifyQueue();
        long deadline = System.currentTimeMillis() + 5_000;
        while ((f.rx().readl(0x70) & VirtioDriver.NEEDS_RESET) == 0) {
            assertTrue(System.currentTimeMillis() < deadline, "no NEEDS_RESET");
            Thread.sleep(5);
        }
        f.init(VERSION_1 | MAC);
        f.rx().add(java.util.List.of(new VirtioDriver.Buf(AREA + 0x40000, 2048, false))); // a receive buffer the device may not write
        f.rx().notifyQueue();
        awaitNeedsReset(f, "a read-only receive buffer");
        // An indirect table that is not whole descriptors, on either queue; the device serves again after a reset.
        for (VirtioDriver q : new VirtioDriver[] {f.tx(), f.rx()}) {
            f.init(VERSION_1 | MAC | VirtioDriver.INDIRECT_DESC);
            q.writeDesc(0, AREA + 0x40000, 24, VirtioDriver.INDIRECT, 0);
            q.publish(0);
            q.notifyQueue();
            awaitNeedsReset(f, "an indirect table of 24 bytes");
        }
        f.init(VERSION_1 | MAC | VirtioDriver.INDIRECT_DESC);
        f.useIndirect();
        f.postRx(4);
        assertNotNull(resolveHost(f), "served again after the reset");
    }

    private static void awaitNeedsReset(VirtioNetFrames f, String why) throws Exception {
        long deadline = System.currentTimeMillis() + 5_000;
        while ((f.rx().readl(0x70) & VirtioDriver.NEEDS_RESET) == 0) {
            assertTrue(System.currentTimeMillis() < deadline, "no NEEDS_RESET for " + why);
            Thread.sleep(5);
        }
    }
}
