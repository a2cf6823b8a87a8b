package dev.molt.devices.net;

import dev.molt.devices.GuestWrites;
import dev.molt.devices.Snapshottable;
import dev.molt.devices.virtio.DescriptorChain;
import dev.molt.devices.virtio.Spans;
import dev.molt.devices.virtio.VirtioDevice;
import dev.molt.devices.virtio.VirtqueueException;
import dev.molt.memory.GuestMemory;
import dev.molt.migration.vmstate.VmStateDescription;
import dev.molt.sys.Errno;
import dev.molt.sys.Fd;
import dev.molt.sys.IoVec;
import dev.molt.sys.Tun;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicLong;

/**
 * virtio-net (virtio 1.x 5.1) over a tap: queue 0 receives, queue 1 transmits; no control queue,
 * no mergeable receive buffers (a frame fills one chain, so a chain must hold the largest frame
 * the negotiated offloads allow, as Linux's driver gives without MRG_RXBUF).
 *
 * <p>Frames move between the tap and guest RAM with readv/writev on RAM's own addresses; the
 * 12-byte virtio_net_hdr_v1 is the tap's vnet header, passed through unchanged, so checksum and
 * segmentation offloads are the tap's once TUNSETOFFLOAD says what the guest takes.
 *
 * <p>Receiving: the transport offers a chain only when the guest made one available; the device
 * reads one frame into it, or answers {@link #NOT_USED} when the tap is empty, and the transport
 * then waits on the tap's fd. With no chain available the tap is not read at all: frames wait in
 * the tap's queue (the kernel's, as for any slow reader) until the guest adds buffers.
 */
public final class VirtioNet implements VirtioDevice, Snapshottable<VirtioNet.State> {
    public static final int DEVICE_ID = 1;
    public static final int QUEUE_SIZE = 256;
    public static final int RX = 0, TX = 1;

    // Feature bits (5.1.3).
    static final long F_CSUM = 1L << 0, F_GUEST_CSUM = 1L << 1, F_MAC = 1L << 5, F_GUEST_TSO4 = 1L << 7, F_GUEST_TSO6 = 1L << 8,
            F_GUEST_UFO = 1L << 10, F_HOST_TSO4 = 1L << 11, F_HOST_TSO6 = 1L << 12, F_HOST_UFO = 1L << 14, F_STATUS = 1L << 16;
    static final int S_LINK_UP = 1;
    /** mac and status (struct virtio_net_config up to status: the fields the offered features make valid). */
    static final int CONFIG_SIZE = 8;
    /** num_buffers' offset in virtio_net_hdr_v1. */
    static final int NUM_BUFFERS = 10;
    /** Room for the largest frame a tap gives: a 64 KiB GSO frame, its header and a VLAN tag. */
    static final int SCRATCH = 128 * 1024;
    /** A self-announce RARP frame: Ethernet's minimum without the FCS. */
    static final int RARP_FRAME = 60;

    /** What moves with the guest besides the transport's state: the address the guest was given and the link. */
    public record State(MacAddress mac, boolean linkUp) {}

    public static final VmStateDescription<State> VMSTATE = VmStateDescription.of("virtio-net", 1, b -> b
            .u64("mac", s -> s.mac().bits()).bool("link-up", State::linkUp)
            .construct(v -> new State(new MacAddress(v.u64("mac")), v.bool("link-up"))));

    private final VirtioNetConfig config;
    private final TapBackend tap;
    private final int slot;
    private final Arena arena = Arena.ofShared();
    /** Where the tail of a frame longer than the guest's buffers goes, to be dropped: native, never the heap. */
    private final MemorySegment scratch = arena.allocate(SCRATCH, 64);
    private final IoVec rxVec = new IoVec(QUEUE_SIZE + 1), txVec = new IoVec(QUEUE_SIZE);
    private final AtomicLong rxDropped = new AtomicLong(), txErrors = new AtomicLong();
    private volatile MacAddress mac;
    private volatile boolean linkUp = true;
    private volatile boolean tapFailed;

    public VirtioNet(VirtioNetConfig config, TapBackend tap, int slot) {
        this.config = config;
        this.tap = tap;
        this.slot = slot;
        this.mac = config.mac();
    }

    @Override
    public int deviceId() {
        return DEVICE_ID;
    }

    @Override
    public String typeName() {
        return "virtio-net-device";
    }

    @Override
    public long features() {
        long f = F_CSUM | F_GUEST_CSUM | F_MAC | F_GUEST_TSO4 | F_GUEST_TSO6 | F_HOST_TSO4 | F_HOST_TSO6 | F_STATUS;
        return tap.hasUfo() ? f | F_GUEST_UFO | F_HOST_UFO : f;
    }

    @Override
    public int queueCount() {
        return 2;
    }

    @Override
    public int queueMaxSize() {
        return QUEUE_SIZE;
    }

    /** mac, then status (link up or down): what may change between two reads, made anew each time. */
    @Override
    public byte[] configSpace() {
        byte[] space = new byte[CONFIG_SIZE];
        System.arraycopy(mac.bytes(), 0, space, 0, MacAddress.BYTES);
        space[6] = (byte) (linkUp ? S_LINK_UP : 0);
        return space;
    }

    /** The guest's offloads become the tap's: the kernel may then hand it frames without checksums and GSO frames. */
    @Override
    public void setFeatures(long negotiated) {
        int flags = 0;
        if ((negotiated & F_GUEST_CSUM) != 0) {
            flags |= Tun.TUN_F_CSUM; // the tap takes TSO and UFO only with CSUM
            if ((negotiated & F_GUEST_TSO4) != 0) flags |= Tun.TUN_F_TSO4;
            if ((negotiated & F_GUEST_TSO6) != 0) flags |= Tun.TUN_F_TSO6;
            if ((negotiated & F_GUEST_UFO) != 0) flags |= Tun.TUN_F_UFO;
        }
        long r = tap.setOffload(flags);
        if (r != 0) System.err.printf("molt: %s: tap %s: TUNSETOFFLOAD 0x%x: %s%n", typeName(), tap.ifname(), flags, Errno.describe((int) -r));
    }

    /** The tap, whose frames are the receive queue's work; none once it failed (a tap that vanished). */
    @Override
    public Fd backendFd() {
        return tapFailed ? null : tap.fd();
    }

    @Override
    public int handle(int queue, DescriptorChain chain, GuestMemory mem, GuestWrites writes) {
        return queue == RX ? receive(chain, mem, writes) : transmit(chain, mem);
    }

    private int transmit(DescriptorChain chain, GuestMemory mem) {
        Spans out = Spans.of(chain.readable());
        if (out.length() < TapBackend.VNET_HDR) {
            throw new VirtqueueException("transmit chain at descriptor " + chain.head() + " is shorter than the " + TapBackend.VNET_HDR + "-byte header");
        }
        if (!linkUp || tapFailed) return 0; // a NIC whose link is down sends nothing, as QEMU's
        txVec.clear();
        for (Spans.Span s : out.parts()) txVec.add(mem.slice(s.gpa(), s.len()));
        long r = txVec.writeTo(tap.fd());
        if (r < 0) txErrors.incrementAndGet(); // the frame is lost, as on a wire: the guest's stack retransmits
        return 0;
    }

    private int receive(DescriptorChain chain, GuestMemory mem, GuestWrites writes) {
        Spans in = Spans.of(chain.writable());
        if (in.length() < TapBackend.VNET_HDR) {
            throw new VirtqueueException("receive chain at descriptor " + chain.head() + " has " + in.length()
                    + " device-writable bytes, less than the " + TapBackend.VNET_HDR + "-byte header");
        }
        if (tapFailed) return NOT_USED;
        rxVec.clear();
        for (Spans.Span s : in.parts()) rxVec.add(mem.slice(s.gpa(), s.len()));
        rxVec.add(scratch);
        long room = in.length();
        while (true) {
            long n = rxVec.readFrom(tap.fd());
            if (n == -Errno.EAGAIN.value) return NOT_USED;
            if (n < 0) {
                tapFailed = true;
                System.err.printf("molt: %s: tap %s: read: %s; no more frames are received%n", typeName(), tap.ifname(), Errno.describe((int) -n));
                return NOT_USED;
            }
            for (Spans.Span s : in.take(n).parts()) writes.written(s.gpa(), s.len()); // even a frame dropped below wrote there
            if (n > room || !linkUp) {
                rxDropped.incrementAndGet(); // longer than the chain: dropped, never written past it; the chain waits for the next frame
                continue;
            }
            // num_buffers: 1 chain per frame without MRG_RXBUF; the tap skips that field, so the device writes it.
            in.drop(NUM_BUFFERS).copyIn(mem, new byte[] {1, 0});
            return (int) n;
        }
    }

    /**
     * One round of QEMU's self-announce: a RARP request from the guest's MAC to everyone
     * (announce_self_create in QEMU's net/announce.c, 60 bytes with padding), written to the tap
     * behind a zeroed vnet header. A failure is only reported: the guest's own traffic teaches the
     * switches too.
     */
    @Override
    public void announce() {
        if (tapFailed) return;
        byte[] m = mac.bytes();
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(TapBackend.VNET_HDR + RARP_FRAME);
        b.position(TapBackend.VNET_HDR);
        b.put(new byte[] {-1, -1, -1, -1, -1, -1}).put(m).putShort((short) 0x8035) // ETH_P_RARP
                .putShort((short) 1).putShort((short) 0x0800).put((byte) 6).put((byte) 4).putShort((short) 3) // Ethernet, IPv4, reverse request
                .put(m).putInt(0).put(m).putInt(0); // sender and target: the guest's MAC, no address; then zero padding
        try (Arena a = Arena.ofConfined()) {
            MemorySegment frame = a.allocate(b.capacity());
            MemorySegment.copy(b.array(), 0, frame, java.lang.foreign.ValueLayout.JAVA_BYTE, 0, b.capacity());
            long r = dev.molt.sys.Syscall.raw(dev.molt.sys.Syscall.WRITE, tap.fd().num(), frame.address(), frame.byteSize(), 0, 0, 0);
            if (r < 0) System.err.printf("molt: %s: tap %s: self-announce: %s%n", typeName(), tap.ifname(), Errno.describe((int) -r));
        }
    }

    /** Frames dropped because they were longer than the receive chain (or the link was down). */
    public long rxDropped() {
        return rxDropped.get();
    }

    /** Frames the tap refused. */
    public long txErrors() {
        return txErrors.get();
    }

    public MacAddress mac() {
        return mac;
    }

    public boolean linkUp() {
        return linkUp;
    }

    /** Whether {@code name} is this NIC's for {@code set_link}: its own name or its netdev's id (QEMU takes either). */
    public boolean answersTo(String name) {
        return name.equals(config.name()) || name.equals(config.netdev().id());
    }

    /**
     * {@code set_link}: the link as the guest sees it in the status field. While it is down
     * nothing is sent and frames from the tap are dropped, as in QEMU. Returns whether it changed
     * (the transport then tells the driver with a configuration-change interrupt).
     */
    public boolean setLink(boolean up) {
        boolean changed = linkUp != up;
        linkUp = up;
        return changed;
    }

    public TapBackend tap() {
        return tap;
    }

    // ---- state ----

    @Override
    public VmStateDescription<State> vmState() {
        return VMSTATE;
    }

    @Override
    public int instance() {
        return slot;
    }

    @Override
    public State snapshot() {
        return new State(mac, linkUp);
    }

    /** The guest keeps the address it was given and its link state, as QEMU's virtio-net migrates them. */
    @Override
    public void restore(State s) {
        mac = s.mac();
        linkUp = s.linkUp();
    }

    @Override
    public void close() {
        tap.close();
        rxVec.close();
        txVec.close();
        arena.close();
    }
}
