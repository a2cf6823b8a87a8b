package dev.molt.devices.net;

import dev.molt.devices.GuestWrites;
import dev.molt.devices.virtio.DescriptorChain;
import dev.molt.devices.virtio.MoreChains;
import dev.molt.devices.virtio.Spans;
import dev.molt.devices.virtio.VirtioDevice;
import dev.molt.devices.virtio.VirtqueueException;
import dev.molt.memory.GuestMemory;
import dev.molt.sys.Errno;
import dev.molt.sys.IoVec;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * virtio-net's receive queue: frames from the tap into the guest's receive chains, on the
 * transport's I/O thread.
 *
 * <p>Without VIRTIO_NET_F_MRG_RXBUF a frame fills one chain: readv into the chain's buffers and a
 * native overflow buffer behind them, a frame longer than the chain dropped and counted.
 *
 * <p>With it (5.1.6.4) a frame may spread over several chains, num_buffers in its header saying
 * how many. The device takes chains until they hold the largest frame the tap can give, and then
 * reads straight into them; the chains the frame did not reach go back to the driver untaken. When
 * the ring holds less than that, the frame is read into the native buffer first and copied into the
 * chains if they hold it; if not, it waits there (and the tap is not read) until the driver adds
 * buffers, as QEMU's frame waits in its queue. A tap cannot say how long its next frame is
 * (no FIONREAD), hence the two ways.
 *
 * <p>A frame the guest's {@link RxFilter} refuses is dropped as soon as it is read, before it can
 * wait for buffers. One read straight into the chains is then in guest RAM already, but never made
 * visible: no used entry, and the same chains take the next frame. What it leaves in them beyond
 * the next frame's length is no leak: the filter is the guest's own choice (it may turn PROMISC on).
 */
final class TapReceiver implements AutoCloseable {
    /** num_buffers' offset in virtio_net_hdr_v1. */
    static final int NUM_BUFFERS = 10;
    /** Where a frame's destination address ends: the vnet header, then the address. */
    static final int DESTINATION_END = TapBackend.VNET_HDR + MacAddress.BYTES;
    /** The largest frame a tap gives: the vnet header, a 64 KiB GSO packet, Ethernet and a VLAN tag. */
    static final int MAX_FRAME = TapBackend.VNET_HDR + 65535 + 14 + 4;
    /** Room for that frame, where the tail of one too long for the chains goes, or a frame waits: native, never the heap. */
    static final int SCRATCH = 128 * 1024;
    /** readv's limit (IOV_MAX): the chains' buffers and the overflow buffer. */
    static final int IOVECS = 1024;

    private final TapBackend tap;
    private final String typeName;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment scratch = arena.allocate(SCRATCH, 64);
    private final IoVec vec = new IoVec(IOVECS);
    private final AtomicLong dropped = new AtomicLong();
    private final AtomicLong filtered = new AtomicLong();
    private volatile boolean failed;
    /** The length of a frame waiting in {@link #scratch} for receive buffers (mergeable only), 0 for none. */
    private volatile int waiting;

    TapReceiver(TapBackend tap, String typeName) {
        this.tap = tap;
        this.typeName = typeName;
    }

    /** Whether the tap is worth polling: not failed, and no frame waiting for buffers (it would be readable, and spin). */
    boolean pollable() {
        return !failed && waiting == 0;
    }

    boolean failed() {
        return failed;
    }

    long dropped() {
        return dropped.get();
    }

    long filtered() {
        return filtered.get();
    }

    /** A reset (or a driver that changed its mind about mergeable buffers): a frame that waited is lost, as QEMU purges its queue. */
    void reset() {
        if (waiting != 0) dropped.incrementAndGet();
        waiting = 0;
    }

    /**
     * Receives one frame into {@code chain} (and with {@code mergeable} chains after it from
     * {@code more}); returns the bytes written into {@code chain}, or {@link VirtioDevice#NOT_USED}
     * when there is no frame (or not room enough for the one waiting). Frames {@code filter} refuses
     * ({@code own} being the NIC's address) are skipped.
     */
    int receive(DescriptorChain chain, MoreChains more, boolean mergeable, boolean linkUp, RxFilter filter, MacAddress own,
                GuestMemory mem, GuestWrites writes) {
        List<Spans> chains = new ArrayList<>();
        chains.add(writable(chain));
        if (failed && waiting == 0) return VirtioDevice.NOT_USED;
        long room = chains.getFirst().length();
        if (mergeable) {
            long wanted = waiting != 0 ? waiting : MAX_FRAME;
            for (DescriptorChain c; room < wanted && (c = more.next()) != null; ) {
                chains.add(writable(c));
                room += chains.getLast().length();
            }
        }
        Spans all = Spans.concat(chains);
        while (true) {
            long n = waiting;
            boolean direct = false;
            if (n == 0) {
                direct = (!mergeable || room >= MAX_FRAME) && all.parts().size() < IOVECS;
                n = read(direct ? all : Spans.NONE, mem);
                if (n < 0) return VirtioDevice.NOT_USED;
                if (direct) all.written(writes, n); // even a frame dropped below wrote there
                if (!filter.on(RxFilter.Mode.PROMISC) && !(n >= DESTINATION_END && filter.accepts(destination(direct, all, room, mem), own))) {
                    filtered.incrementAndGet();
                    continue;
                }
            }
            if (n > room && mergeable && linkUp && !direct) {
                waiting = (int) n; // more buffers will come: the driver notifies when it adds them
                return VirtioDevice.NOT_USED;
            }
            waiting = 0;
            if (n > room || !linkUp) {
                dropped.incrementAndGet(); // longer than the chain, or the link is down: dropped, never written past the buffers
                continue;
            }
            if (!direct) {
                all.copyFrom(mem, scratch, n);
                all.written(writes, n);
            }
            return answer(chains, all, n, more, mem);
        }
    }

    /**
     * The destination address of the frame just read: in the chains when it was read straight into
     * them (the native buffer after them holding the rest), else in the native buffer.
     */
    private MacAddress destination(boolean direct, Spans all, long room, GuestMemory mem) {
        byte[] head = new byte[DESTINATION_END];
        int inChains = direct ? (int) Math.min(room, DESTINATION_END) : 0;
        System.arraycopy(all.copyOut(mem, inChains), 0, head, 0, inChains);
        MemorySegment.copy(scratch, ValueLayout.JAVA_BYTE, 0, head, inChains, DESTINATION_END - inChains);
        return MacAddress.of(Arrays.copyOfRange(head, TapBackend.VNET_HDR, DESTINATION_END));
    }

    /** How the frame's {@code n} bytes fall over the chains: num_buffers in its header, the lengths to the transport. */
    private static int answer(List<Spans> chains, Spans all, long n, MoreChains more, GuestMemory mem) {
        int[] lengths = new int[chains.size()];
        int used = 0;
        for (long left = n; used == 0 || left > 0; used++) {
            lengths[used] = (int) Math.min(left, chains.get(used).length());
            left -= lengths[used];
        }
        // The tap skips num_buffers, so the device writes it: 1 without MRG_RXBUF.
        all.drop(NUM_BUFFERS).copyIn(mem, new byte[] {(byte) used, (byte) (used >>> 8)});
        more.use(Arrays.copyOfRange(lengths, 1, used));
        return lengths[0];
    }

    /** A receive chain's writable buffers: every chain must hold the header (5.1.6.3.1; QEMU calls less a broken driver). */
    private static Spans writable(DescriptorChain chain) {
        Spans in = Spans.of(chain.writable());
        if (in.length() < TapBackend.VNET_HDR) {
            throw new VirtqueueException("receive chain at descriptor " + chain.head() + " has " + in.length()
                    + " device-writable bytes, less than the " + TapBackend.VNET_HDR + "-byte header");
        }
        return in;
    }

    /**
     * One frame from the tap into {@code into} and the native buffer behind it (at most
     * {@link #IOVECS} - 1 of its spans, the caller saw to that): its length, or -1 for none (the tap
     * empty, or failed: then said once and never read again).
     */
    private long read(Spans into, GuestMemory mem) {
        vec.clear();
        for (Spans.Span s : into.parts()) vec.add(mem.slice(s.gpa(), s.len()));
        vec.add(scratch);
        long n = vec.readFrom(tap.fd());
        if (n == -Errno.EAGAIN.value) return -1;
        if (n < 0) {
            failed = true;
            System.err.printf("molt: %s: tap %s: read: %s; no more frames are received%n", typeName, tap.ifname(), Errno.describe((int) -n));
            return -1;
        }
        return n;
    }

    @Override
    public void close() {
        vec.close();
        arena.close();
    }
}
