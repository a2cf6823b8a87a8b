package dev.molt.devices.virtio;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * A split virtqueue as a hostile driver leaves it in guest RAM, for the fuzz targets of every
 * device: well-formed chains a target makes, then corrupted (addresses anywhere, lengths, flags,
 * links, heads and the available index), written at fixed places, served through a real
 * {@link Virtqueue}, and the check that the device wrote only where it was allowed to.
 */
public final class HostileQueue {
    private HostileQueue() {}

    public static final long DESC = 0x1000, AVAIL = 0x2000, USED = 0x3000, DATA = 0x4000;

    /** One descriptor as the driver wrote it. */
    public record Desc(long addr, int len, int flags, int next) {}

    /** The chains' descriptors, their heads and the available index, after what a hostile driver does to them. */
    public record Rings(int size, List<Desc> descs, List<Integer> heads, int availIdx) {}

    /** Corrupts some of {@code descs} (in a RAM of {@code ram} bytes), maybe a head and the available index. */
    public static Rings corrupt(int size, List<Desc> wellFormed, List<Integer> heads, int ram, Random r) {
        List<Desc> descs = new ArrayList<>(wellFormed);
        heads = new ArrayList<>(heads);
        int mutations = r.nextInt(3) == 0 ? 0 : 1 + r.nextInt(3);
        for (int m = 0; m < mutations; m++) {
            int i = r.nextInt(size);
            Desc d = descs.get(i);
            descs.set(i, switch (r.nextInt(6)) {
                case 0 -> new Desc(switch (r.nextInt(3)) {
                    case 0 -> r.nextLong();
                    case 1 -> ram - r.nextInt(32);
                    default -> DESC + r.nextInt(0x3000);
                }, d.len(), d.flags(), d.next());
                case 1 -> new Desc(d.addr(), r.nextBoolean() ? r.nextInt() : r.nextInt(4096), d.flags(), d.next());
                case 2 -> new Desc(d.addr(), d.len(), r.nextInt(8), d.next());
                case 3 -> new Desc(d.addr(), d.len(), d.flags() | 1, r.nextInt(4) == 0 ? r.nextInt(0x10000) : r.nextInt(size));
                default -> new Desc(d.addr(), d.len(), d.flags() ^ 2, d.next());
            });
        }
        if (r.nextInt(8) == 0) heads.set(r.nextInt(heads.size()), r.nextInt(0x10000));
        int availIdx = r.nextInt(16) == 0 ? r.nextInt(0x10000) : heads.size();
        return new Rings(size, descs, heads, availIdx);
    }

    /** Writes the descriptor table, the available ring and a zeroed used ring into {@code ram} (little-endian). */
    public static void write(ByteBuffer ram, Rings q) {
        for (int i = 0; i < q.size(); i++) {
            Desc d = q.descs().get(i);
            int at = (int) DESC + 16 * i;
            ram.putLong(at, d.addr()).putInt(at + 8, d.len()).putShort(at + 12, (short) d.flags()).putShort(at + 14, (short) d.next());
        }
        ram.putShort((int) AVAIL, (short) 0).putShort((int) AVAIL + 2, (short) q.availIdx());
        for (int i = 0; i < q.heads().size() && i < q.size(); i++) ram.putShort((int) AVAIL + 4 + 2 * i, (short) (int) q.heads().get(i));
        for (int i = 0; i < 4 + 8 * q.size(); i++) ram.put((int) USED + i, (byte) 0);
    }

    /** A ready queue of {@code size} at the fixed places. */
    public static Virtqueue queue(int size) {
        Virtqueue q = new Virtqueue(256);
        q.setSize(size);
        q.setDescTable(DESC);
        q.setAvailRing(AVAIL);
        q.setUsedRing(USED);
        q.setReady(true);
        return q;
    }

    /**
     * Serves the queue of {@code rings} as a transport's I/O thread would, {@code device} answering
     * on queue {@code queue}, until it is empty or the device gives a chain back untaken; collects
     * the writable buffers it was given. Returns how many chains were used, or throws the
     * {@link VirtqueueException} that makes the device need a reset.
     */
    public static int serve(dev.molt.memory.GuestMemory mem, Rings rings, VirtioDevice device, int queue,
                            List<DescriptorChain.Buffer> writable) {
        Virtqueue q = queue(rings.size());
        int used = 0;
        for (int served = 0; served <= rings.size(); served++) {
            DescriptorChain chain = q.pop(mem);
            if (chain == null) break;
            if (served == rings.size()) throw new AssertionError("more chains than the available index allowed");
            writable.addAll(chain.writable());
            int written = device.handle(queue, chain, mem, (gpa, len) -> { });
            if (written == VirtioDevice.NOT_USED) {
                q.unpop();
                break;
            }
            long room = chain.writable().stream().mapToLong(b -> Integer.toUnsignedLong(b.len())).sum();
            if (Integer.toUnsignedLong(written) > room) throw new AssertionError("used length " + written + " is more than the chain's " + room + " writable bytes");
            q.push(mem, (gpa, len) -> { }, chain.head(), written);
            used++;
        }
        return used;
    }

    /** Fails if a byte changed outside the used ring and the writable buffers the device was given. */
    public static void assertWroteOnlyInside(byte[] before, byte[] after, List<DescriptorChain.Buffer> writable, int size) {
        for (int i = 0; i < before.length; i++) {
            if (before[i] != after[i] && !inside(i, writable, size)) {
                throw new AssertionError("the device wrote guest RAM at 0x" + Integer.toHexString(i) + ", outside the buffers it was given");
            }
        }
    }

    private static boolean inside(long gpa, List<DescriptorChain.Buffer> writable, int size) {
        if (gpa >= USED + 2 && gpa < USED + 4 + 8L * size) return true; // the used ring's index and elements
        for (DescriptorChain.Buffer b : writable) if (gpa >= b.gpa() && gpa - b.gpa() < Integer.toUnsignedLong(b.len())) return true;
        return false;
    }
}
