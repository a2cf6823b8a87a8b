package dev.molt.devices.net;

import dev.molt.devices.virtio.DescriptorChain;
import dev.molt.devices.virtio.HostileQueue;
import dev.molt.devices.virtio.VirtqueueException;
import dev.molt.fuzz.FuzzTarget;
import dev.molt.fuzz.Outcome;
import dev.molt.sys.Posix;
import dev.molt.testsupport.EthFrames;
import dev.molt.testsupport.NetNs;
import dev.molt.testsupport.TestRam;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Random;

/**
 * What a hostile guest driver can put in virtio-net's queues, served as the transport's I/O thread
 * would, with a real tap whose interface is in a network namespace that answers pings: random
 * descriptor tables on the receive or the transmit queue (addresses in RAM, at its edges, in the
 * rings, anywhere in 64 bits; random lengths, flags and links), available rings and indexes, and
 * echo replies waiting in the tap. Each case must end in chains used, given back untaken, or a
 * {@link VirtqueueException} with a message (the device then needs a reset), never another
 * exception, and the device must write guest RAM only inside the writable buffers of the chains it
 * was given and its used ring: a frame longer than them is dropped, never written past them.
 * Needs root (a namespace and a tap): {@link #unusableBecause()} says why not.
 */
public final class NetQueueFuzzTarget implements FuzzTarget<NetQueueFuzzTarget.Case>, AutoCloseable {
    static final int RAM = 64 * 1024;
    static final byte[] GUEST_MAC = {0x52, 0x54, 0, 0x12, 0x34, 0x56}, GUEST_IP = EthFrames.ip("10.98.0.2"), HOST_IP = EthFrames.ip("10.98.0.1");

    /**
     * A queue ({@code queue} 0 receive, 1 transmit, 2 control) as the driver left it, after
     * {@code pings} echo requests sent, the driver having taken {@code features} (mergeable receive
     * buffers, the control queue's).
     */
    public record Case(int queue, HostileQueue.Rings rings, int pings, long features, long seed) {}

    private static final long[] FEATURES = {0, VirtioNet.F_MRG_RXBUF,
            VirtioNet.F_MRG_RXBUF | VirtioNet.F_CTRL_VQ | VirtioNet.F_CTRL_RX | VirtioNet.F_CTRL_MAC_ADDR | VirtioNet.F_GUEST_ANNOUNCE};

    private final TestRam ram = new TestRam(RAM, 0xFEB0_0000L);
    private NetNs ns;
    private VirtioNet net;
    private byte[] hostMac;
    private long received;

    public static String unusableBecause() {
        return NetNs.unusableBecause();
    }

    @Override
    public String name() {
        return "netqueue";
    }

    /** The namespace, the tap moved into it, a static neighbour for the guest (so replies need no ARP), and the device. */
    private void start() throws Exception {
        ns = NetNs.create("fuzz");
        // A campaign (FuzzMain) ends with System.exit, never closing its targets: the namespace goes then.
        NetNs made = ns;
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                made.close();
            } catch (Exception e) {
                // Already gone (closed by the test).
            }
        }));
        String tapName = NetNs.tapName("mtz");
        TapBackend tap = TapBackend.open(new NetdevConfig("fz", new NetdevConfig.Source.Ifname(tapName), false), Optional.empty());
        net = new VirtioNet(new VirtioNetConfig(tap.config(), MacAddress.qemuDefault(0x56), "fuzz", "/machine/peripheral/fuzz"), tap, 0);
        NetNs.check("ip", "netns", "exec", ns.name, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1");
        ns.adopt(tapName, "10.98.0.1/24");
        ns.ip("neigh", "add", "10.98.0.2", "lladdr", "52:54:00:12:34:56", "dev", tapName);
        hostMac = hostMacOf(tapName);
    }

    /** The namespace side's address of the tap (the destination of the guest's pings), from {@code ip -br link}. */
    private byte[] hostMacOf(String tapName) throws Exception {
        Process p = new ProcessBuilder("ip", "-n", ns.name, "-br", "link", "show", tapName).redirectErrorStream(true).start();
        String[] words = new String(p.getInputStream().readAllBytes()).trim().split("\\s+");
        p.waitFor();
        return java.util.HexFormat.ofDelimiter(":").parseHex(words[2]);
    }

    @Override
    public Case generate(Random r) {
        int queue = r.nextInt(3);
        int size = 1 << r.nextInt(5);
        List<HostileQueue.Desc> descs = new ArrayList<>();
        List<Integer> heads = new ArrayList<>();
        while (descs.size() < size) {
            int head = descs.size();
            int len = 1 + r.nextInt(Math.min(size - head, 3));
            for (int k = 0; k < len; k++) {
                boolean last = k == len - 1;
                int bytes = switch (queue) {
                    case VirtioNet.RX -> r.nextBoolean() ? 2048 : 12 + r.nextInt(200);
                    case VirtioNet.TX -> k == 0 ? 12 + r.nextInt(100) : r.nextInt(1500);
                    default -> last ? 1 : r.nextInt(40); // a command (class, command, data) and its ack byte
                };
                boolean writable = queue == VirtioNet.RX || queue == VirtioNet.CTRL && last;
                descs.add(new HostileQueue.Desc(dataAddress(r), bytes, (last ? 0 : 1) | (writable ? 2 : 0), last ? 0 : head + k + 1));
            }
            heads.add(head);
        }
        return new Case(queue, HostileQueue.corrupt(size, descs, heads, RAM, r), r.nextInt(4), FEATURES[r.nextInt(FEATURES.length)], r.nextLong());
    }

    private static long dataAddress(Random r) {
        return HostileQueue.DATA + 16L * r.nextInt((RAM - (int) HostileQueue.DATA - 2048) / 16);
    }

    @Override
    public Outcome run(Case c, Progress progress) throws Exception {
        if (net == null) start();
        setUp(c);
        net.setFeatures(c.features()); // also drops a frame an earlier case left waiting for buffers
        sendPings(c);
        byte[] before = ram.read(0, RAM);
        List<DescriptorChain.Buffer> writable = new ArrayList<>();
        String error = null;
        try {
            int used = HostileQueue.serve(ram.memory, c.rings(), net, c.queue(), writable);
            if (c.queue() == VirtioNet.RX) received += used;
        } catch (VirtqueueException e) {
            error = e.getMessage();
        }
        HostileQueue.assertWroteOnlyInside(before, ram.read(0, RAM), writable, c.rings());
        return error == null ? Outcome.ACCEPTED : FuzzTarget.cleanError(error);
    }

    /** Echo requests written to the tap as the guest would send them: their replies wait in the tap for the receive queue. */
    private void sendPings(Case c) {
        Random r = new Random(c.seed() ^ 0x5A);
        try (Arena a = Arena.ofConfined()) {
            for (int i = 0; i < c.pings(); i++) {
                byte[] payload = new byte[r.nextInt(1400)];
                r.nextBytes(payload);
                byte[] frame = EthFrames.icmpEcho(GUEST_MAC, hostMac, GUEST_IP, HOST_IP, 7, i, payload);
                MemorySegment buf = a.allocate(TapBackend.VNET_HDR + frame.length);
                MemorySegment.copy(frame, 0, buf, java.lang.foreign.ValueLayout.JAVA_BYTE, TapBackend.VNET_HDR, frame.length);
                Posix.write(net.tap().fd().num(), buf, buf.byteSize());
            }
        }
    }

    private void setUp(Case c) {
        Random r = new Random(c.seed());
        byte[] fill = new byte[RAM];
        r.nextBytes(fill);
        HostileQueue.write(ByteBuffer.wrap(fill).order(ByteOrder.LITTLE_ENDIAN), c.rings());
        ram.write(0, fill);
    }

    /** Frames the receive queue took in, and those it dropped as longer than their chains: that the cases reached both. */
    long received() {
        return received;
    }

    long dropped() {
        return net == null ? 0 : net.rxDropped();
    }

    @Override
    public String describe(Case c) {
        return c.toString();
    }

    @Override
    public void close() throws Exception {
        if (net != null) net.close();
        if (ns != null) ns.close();
        ram.close();
    }
}
