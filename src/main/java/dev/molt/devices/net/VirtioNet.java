package dev.molt.devices.net;

import dev.molt.devices.GuestWrites;
import dev.molt.devices.Snapshottable;
import dev.molt.devices.virtio.DescriptorChain;
import dev.molt.devices.virtio.MoreChains;
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
 * virtio-net (virtio 1.x 5.1) over a tap: queue 0 receives, queue 1 transmits, queue 2 is the
 * control queue (rx mode, MAC address and table, announce acknowledgements). Receiving is
 * {@link TapReceiver}'s: a frame in one chain, or with MRG_RXBUF spread over several.
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
    public static final int RX = 0, TX = 1, CTRL = 2;

    // Feature bits (5.1.3).
    static final long F_CSUM = 1L << 0, F_GUEST_CSUM = 1L << 1, F_MAC = 1L << 5, F_GUEST_TSO4 = 1L << 7, F_GUEST_TSO6 = 1L << 8,
            F_GUEST_UFO = 1L << 10, F_HOST_TSO4 = 1L << 11, F_HOST_TSO6 = 1L << 12, F_HOST_UFO = 1L << 14, F_MRG_RXBUF = 1L << 15,
            F_STATUS = 1L << 16, F_CTRL_VQ = 1L << 17, F_CTRL_RX = 1L << 18, F_CTRL_RX_EXTRA = 1L << 20, F_GUEST_ANNOUNCE = 1L << 21,
            F_CTRL_MAC_ADDR = 1L << 23;
    static final int S_LINK_UP = 1, S_ANNOUNCE = 2;
    /** The control queue's answers (5.1.6.5). */
    static final int CTRL_OK = 0, CTRL_ERR = 1;
    /**
     * The most a control command may carry. Linux's MAC_TABLE_SET lists every address of the
     * interface, however many (QEMU keeps 64 and records the rest as an overflow): 64 KiB holds
     * over 10000, where 4 KiB held 680 and a guest in more multicast groups would lose them all.
     */
    static final int CTRL_MAX = 64 * 1024;
    /** mac and status (struct virtio_net_config up to status: the fields the offered features make valid). */
    static final int CONFIG_SIZE = 8;
    /** A self-announce RARP frame: Ethernet's minimum without the FCS. */
    static final int RARP_FRAME = 60;

    /** What moves with the guest besides the transport's state: the address the guest was given, the link and the receive filter. */
    public record State(MacAddress mac, boolean linkUp, RxFilter filter) {}

    /**
     * The filter is a subsection, present only when the driver changed it from its reset state: a
     * stream without it (molt 0.6.0's, or a guest that never programmed it) loads with that state,
     * promiscuous, which takes every frame as those molts did.
     */
    public static final VmStateDescription<State> VMSTATE = VmStateDescription.of("virtio-net", 1, b -> b
            .u64("mac", s -> s.mac().bits()).bool("link-up", State::linkUp)
            .subsection(RxFilter.VMSTATE, s -> !s.filter().equals(RxFilter.RESET), State::filter)
            .construct(v -> new State(new MacAddress(v.u64("mac")), v.bool("link-up"), v.subsection(RxFilter.VMSTATE).orElse(RxFilter.RESET))));

    private final VirtioNetConfig config;
    private final TapBackend tap;
    private final int slot;
    private final TapReceiver rx;
    private final IoVec txVec = new IoVec(TapReceiver.IOVECS);
    private final AtomicLong txErrors = new AtomicLong();
    private volatile MacAddress mac;
    private volatile boolean linkUp = true;
    private volatile long negotiated;
    /** VIRTIO_NET_S_ANNOUNCE: the device asked the guest to announce itself and it has not acknowledged yet. */
    private volatile boolean announcePending;
    /** What the guest takes from the tap: replaced whole by a control command, read by the receive queue. */
    private volatile RxFilter filter = RxFilter.RESET;
    /** Told when the guest changed its filter or address, once until {@link #rxFilterQueried} (QEMU's rxfilter_notify). */
    private volatile Runnable onRxFilterChanged = () -> { };
    /** QEMU's rxfilter_notify_enabled: on at the start, off once told, on again when queried (no event flood). */
    private final java.util.concurrent.atomic.AtomicBoolean rxFilterNotify = new java.util.concurrent.atomic.AtomicBoolean(true);

    public VirtioNet(VirtioNetConfig config, TapBackend tap, int slot) {
        this.config = config;
        this.tap = tap;
        this.slot = slot;
        this.mac = config.mac();
        this.rx = new TapReceiver(tap, typeName());
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
        long f = F_CSUM | F_GUEST_CSUM | F_MAC | F_GUEST_TSO4 | F_GUEST_TSO6 | F_HOST_TSO4 | F_HOST_TSO6 | F_MRG_RXBUF | F_STATUS
                | F_CTRL_VQ | F_CTRL_RX | F_CTRL_RX_EXTRA | F_GUEST_ANNOUNCE | F_CTRL_MAC_ADDR;
        return tap.hasUfo() ? f | F_GUEST_UFO | F_HOST_UFO : f;
    }

    @Override
    public int queueCount() {
        return 3;
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
        space[6] = (byte) ((linkUp ? S_LINK_UP : 0) | (announcePending ? S_ANNOUNCE : 0));
        return space;
    }

    /** The guest's offloads become the tap's: the kernel may then hand it frames without checksums and GSO frames. */
    @Override
    public void setFeatures(long negotiated) {
        if (negotiated == 0) { // a reset: QEMU's virtio_net_reset also forgets the filter and the MAC the driver set
            announcePending = false;
            filter = RxFilter.RESET;
            mac = config.mac();
        }
        this.negotiated = negotiated;
        rx.reset();
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
        return rx.pollable() ? tap.fd() : null;
    }

    @Override
    public int handle(int queue, DescriptorChain chain, MoreChains more, GuestMemory mem, GuestWrites writes) {
        return switch (queue) {
            case RX -> rx.receive(chain, more, (negotiated & F_MRG_RXBUF) != 0, linkUp, filter, mac, mem, writes);
            case TX -> transmit(chain, mem);
            default -> control(chain, mem, writes);
        };
    }

    private int transmit(DescriptorChain chain, GuestMemory mem) {
        Spans out = Spans.of(chain.readable());
        if (out.length() < TapBackend.VNET_HDR) {
            throw new VirtqueueException("transmit chain at descriptor " + chain.head() + " is shorter than the " + TapBackend.VNET_HDR + "-byte header");
        }
        if (!linkUp || rx.failed()) return 0; // a NIC whose link is down sends nothing, as QEMU's
        txVec.clear();
        for (Spans.Span s : out.parts()) txVec.add(mem.slice(s.gpa(), s.len()));
        long r = txVec.writeTo(tap.fd());
        if (r < 0) txErrors.incrementAndGet(); // the frame is lost, as on a wire: the guest's stack retransmits
        return 0;
    }

    /**
     * One command on the control queue: class and command bytes and data the device reads, an ack
     * byte it writes last. A chain without them is a broken driver, as in QEMU; a command it does
     * not know or with the wrong data is answered VIRTIO_NET_ERR.
     */
    private int control(DescriptorChain chain, GuestMemory mem, GuestWrites writes) {
        Spans out = Spans.of(chain.readable());
        Spans in = Spans.of(chain.writable());
        if (out.length() < 2 || in.length() < 1) {
            throw new VirtqueueException("control command at descriptor " + chain.head() + " has " + out.length()
                    + " readable bytes and " + in.length() + " writable, less than its class, command and ack");
        }
        int ack = CTRL_ERR;
        if (out.length() <= CTRL_MAX) {
            byte[] command = out.copyOut(mem, (int) out.length());
            ack = apply(ControlCommand.parse(command[0] & 0xFF, command[1] & 0xFF, ControlCommand.data(command)));
        }
        Spans ackByte = in.drop(in.length() - 1);
        ackByte.copyIn(mem, new byte[] {(byte) ack});
        ackByte.written(writes, 1);
        return 1;
    }

    /**
     * What a control command does. The rx modes and the MAC table make the receive filter (a mode
     * of CTRL_RX_EXTRA's only when the driver took that feature); the MAC the guest sets is the one
     * the filter takes as the NIC's, the configuration space shows, self-announces send and
     * migration moves.
     */
    private int apply(ControlCommand c) {
        int status = applyCommand(c);
        // As QEMU: a filter or address the guest changed is told (once until queried); the announce ack is not such a change.
        if (status == CTRL_OK && !(c instanceof ControlCommand.AnnounceAck) && rxFilterNotify.getAndSet(false)) onRxFilterChanged.run();
        return status;
    }

    private int applyCommand(ControlCommand c) {
        return switch (c) {
            case ControlCommand.RxMode r -> {
                long needs = r.mode().extra() ? F_CTRL_RX | F_CTRL_RX_EXTRA : F_CTRL_RX;
                if ((negotiated & needs) != needs) yield CTRL_ERR;
                filter = filter.with(r.mode(), r.on());
                yield CTRL_OK;
            }
            case ControlCommand.MacTable t -> {
                if ((negotiated & F_CTRL_RX) == 0) yield CTRL_ERR;
                filter = filter.withTable(t.unicast(), t.multicast());
                yield CTRL_OK;
            }
            case ControlCommand.SetMac m -> {
                if ((negotiated & F_CTRL_MAC_ADDR) == 0) yield CTRL_ERR;
                mac = m.mac();
                yield CTRL_OK;
            }
            case ControlCommand.AnnounceAck a -> {
                boolean was = announcePending; // QEMU answers an acknowledgement nobody asked for with an error
                announcePending = false;
                yield was ? CTRL_OK : CTRL_ERR;
            }
            case ControlCommand.Refused r -> CTRL_ERR;
        };
    }

    /**
     * One round of QEMU's self-announce: a RARP request from the guest's MAC to everyone
     * (announce_self_create in QEMU's net/announce.c, 60 bytes with padding), written to the tap
     * behind a zeroed vnet header. A failure is only reported: the guest's own traffic teaches the
     * switches too.
     */
    @Override
    public boolean announce() {
        boolean askGuest = (negotiated & (F_GUEST_ANNOUNCE | F_CTRL_VQ)) == (F_GUEST_ANNOUNCE | F_CTRL_VQ);
        if (askGuest) announcePending = true; // and the guest sends its own gratuitous ARPs and neighbour adverts
        if (rx.failed()) return askGuest;
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
        return askGuest;
    }

    /** Frames dropped because they were longer than the receive chain (or the link was down). */
    public long rxDropped() {
        return rx.dropped();
    }

    /** Frames from the tap the guest's receive filter refused (rx mode, MAC table): dropped before it saw them. */
    public long rxFiltered() {
        return rx.filtered();
    }

    public RxFilter rxFilter() {
        return filter;
    }

    /** What runs (on the device's I/O thread: it must not block) when the guest changes its filter or address, once per query. */
    public void onRxFilterChanged(Runnable action) {
        onRxFilterChanged = action;
    }

    /** query-rx-filter read the filter: the next change is told again. */
    public void rxFilterQueried() {
        rxFilterNotify.set(true);
    }

    /** The NIC's canonical QOM path (NIC_RX_FILTER_CHANGED's "path"). */
    public String qomPath() {
        return config.qomPath();
    }

    /** The NIC's name (QEMU's net client name). */
    public String name() {
        return config.name();
    }

    /** The id of the netdev (tap) it sends through. */
    public String netdevId() {
        return config.netdev().id();
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
        return new State(mac, linkUp, filter);
    }

    /** The guest keeps the address it was given, its link state and its filter, as QEMU's virtio-net migrates them. */
    @Override
    public void restore(State s) {
        mac = s.mac();
        linkUp = s.linkUp();
        filter = s.filter();
    }

    @Override
    public void close() {
        tap.close();
        rx.close();
        txVec.close();
    }
}
