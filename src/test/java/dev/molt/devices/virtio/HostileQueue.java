package dev.molt.devices.virtio;

import dev.molt.devices.GuestWrites;

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

    public static final long DESC = 0x1000, AVAIL = 0x2000, USED = 0x3000, TABLES = 0x3400, DATA = 0x4000;
    /** Room for one indirect table per chain head: 4 descriptors, the longest chain the targets make. */
    static final int TABLE_SLOT = 64;

    /** One descriptor as the driver wrote it. */
    public record Desc(long addr, int len, int flags, int next) {}

    /** An indirect table (VIRTIO_F_INDIRECT_DESC) at {@code gpa}. */
    public record Table(long gpa, List<Desc> descs) {}

    /**
     * The chains' descriptors, their heads and the available index, after what a hostile driver
     * does to them; the indirect tables some chains were moved into, and the ring features the
     * driver negotiated.
     */
    public record Rings(int size, List<Desc> descs, List<Integer> heads, int availIdx, List<Table> tables, long features) {}

    /**
     * Moves some chains into indirect tables (when the driver took the feature), then corrupts some
     * of the descriptors and table entries (in a RAM of {@code ram} bytes), maybe a head and the
     * available index.
     */
    public static Rings corrupt(int size, List<Desc> wellFormed, List<Integer> heads, int ram, Random r) {
        List<Desc> descs = new ArrayList<>(wellFormed);
        heads = new ArrayList<>(heads);
        long features = r.nextInt(4) == 0 ? 0 : Virtqueue.F_INDIRECT_DESC | Virtqueue.F_EVENT_IDX;
        List<Table> tables = new ArrayList<>();
        if (features != 0) {
            for (int head : heads) if (r.nextBoolean()) tables.add(intoTable(descs, head));
        }
        int mutations = r.nextInt(3) == 0 ? 0 : 1 + r.nextInt(3);
        for (int m = 0; m < mutations; m++) {
            List<Desc> target = tables.isEmpty() || r.nextInt(3) > 0 ? descs : tables.get(r.nextInt(tables.size())).descs();
            int i = r.nextInt(target.size());
            target.set(i, mutate(target.get(i), target.size(), ram, r));
        }
        if (r.nextInt(8) == 0) heads.set(r.nextInt(heads.size()), r.nextInt(0x10000));
        int availIdx = r.nextInt(16) == 0 ? r.nextInt(0x10000) : heads.size();
        return new Rings(size, descs, heads, availIdx, tables, features);
    }

    /** The chain from {@code head} copied into a table of its own; the head descriptor now points to it (INDIRECT). */
    private static Table intoTable(List<Desc> descs, int head) {
        List<Desc> entries = new ArrayList<>();
        int i = head;
        while (true) {
            Desc d = descs.get(i);
            boolean more = (d.flags() & 1) != 0 && entries.size() < TABLE_SLOT / 16 - 1;
            entries.add(new Desc(d.addr(), d.len(), more ? d.flags() : d.flags() & ~1, more ? entries.size() + 1 : 0));
            if (!more) break;
            i = d.next();
        }
        Table t = new Table(TABLES + (long) TABLE_SLOT * head, entries);
        descs.set(head, new Desc(t.gpa(), 16 * entries.size(), DescriptorWalk.DESC_F_INDIRECT, 0));
        return t;
    }

    /** One thing a hostile driver does to a descriptor in a table of {@code entries}. */
    private static Desc mutate(Desc d, int entries, int ram, Random r) {
        return switch (r.nextInt(6)) {
            case 0 -> new Desc(switch (r.nextInt(3)) {
                case 0 -> r.nextLong();
                case 1 -> ram - r.nextInt(32);
                default -> DESC + r.nextInt(0x3000);
            }, d.len(), d.flags(), d.next());
            case 1 -> new Desc(d.addr(), r.nextBoolean() ? r.nextInt() : r.nextInt(4096), d.flags(), d.next());
            case 2 -> new Desc(d.addr(), d.len(), r.nextInt(8), d.next());
            case 3 -> new Desc(d.addr(), d.len(), d.flags() | 1, r.nextInt(4) == 0 ? r.nextInt(0x10000) : r.nextInt(entries));
            default -> new Desc(d.addr(), d.len(), d.flags() ^ 2, d.next());
        };
    }

    /** Writes the descriptor table, the available ring and a zeroed used ring into {@code ram} (little-endian). */
    public static void write(ByteBuffer ram, Rings q) {
        writeDescs(ram, DESC, q.descs());
        for (Table t : q.tables()) writeDescs(ram, t.gpa(), t.descs());
        ram.putShort((int) AVAIL, (short) 0).putShort((int) AVAIL + 2, (short) q.availIdx());
        for (int i = 0; i < q.heads().size() && i < q.size(); i++) ram.putShort((int) AVAIL + 4 + 2 * i, (short) (int) q.heads().get(i));
        for (int i = 0; i < 6 + 8 * q.size(); i++) ram.put((int) USED + i, (byte) 0);
    }

    private static void writeDescs(ByteBuffer ram, long table, List<Desc> descs) {
        for (int i = 0; i < descs.size(); i++) {
            Desc d = descs.get(i);
            int at = (int) table + 16 * i;
            ram.putLong(at, d.addr()).putInt(at + 8, d.len()).putShort(at + 12, (short) d.flags()).putShort(at + 14, (short) d.next());
        }
    }

    /** A ready queue of {@code size} at the fixed places, with the ring features the driver took. */
    public static Virtqueue queue(int size, long features) {
        Virtqueue q = new Virtqueue(256);
        q.setSize(size);
        q.setDescTable(DESC);
        q.setAvailRing(AVAIL);
        q.setUsedRing(USED);
        q.setReady(true);
        q.setFeatures(features);
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
        Virtqueue q = queue(rings.size(), rings.features());
        int used = 0, taken = 0;
        while (true) {
            DescriptorChain chain = q.pop(mem, GuestWrites.NONE);
            if (chain == null) break;
            MoreChains more = new MoreChains(q, mem, GuestWrites.NONE, new java.util.concurrent.locks.ReentrantLock());
            int written = device.handle(queue, chain, more, mem, GuestWrites.NONE);
            taken += 1 + more.taken().size();
            if (taken > rings.size()) throw new AssertionError("more chains than the available index allowed");
            writable.addAll(chain.writable());
            for (DescriptorChain c : more.taken()) writable.addAll(c.writable());
            if (written == VirtioDevice.NOT_USED) {
                q.unpop(1 + more.unused(false));
                break;
            }
            q.unpop(more.unused(true));
            taken -= more.unused(true);
            List<Virtqueue.Used> answer = more.answer(chain.head(), written);
            for (int i = 0; i < answer.size(); i++) {
                DescriptorChain c = i == 0 ? chain : more.taken().get(i - 1);
                long room = c.writable().stream().mapToLong(b -> Integer.toUnsignedLong(b.len())).sum();
                long w = Integer.toUnsignedLong(answer.get(i).written());
                if (w > room) throw new AssertionError("used length " + w + " is more than the chain's " + room + " writable bytes");
            }
            q.push(mem, GuestWrites.NONE, answer);
            used += answer.size();
        }
        return used;
    }

    /** Fails if a byte changed outside the used ring and the writable buffers the device was given. */
    public static void assertWroteOnlyInside(byte[] before, byte[] after, List<DescriptorChain.Buffer> writable, Rings rings) {
        for (int i = 0; i < before.length; i++) {
            if (before[i] != after[i] && !inside(i, writable, rings)) {
                throw new AssertionError("the device wrote guest RAM at 0x" + Integer.toHexString(i) + ", outside the buffers it was given");
            }
        }
    }

    private static boolean inside(long gpa, List<DescriptorChain.Buffer> writable, Rings rings) {
        long usedEnd = USED + 4 + 8L * rings.size() + ((rings.features() & Virtqueue.F_EVENT_IDX) != 0 ? 2 : 0);
        if (gpa >= USED + 2 && gpa < usedEnd) return true; // the used ring's index, its elements, and avail_event if negotiated
        for (DescriptorChain.Buffer b : writable) if (gpa >= b.gpa() && gpa - b.gpa() < Integer.toUnsignedLong(b.len())) return true;
        return false;
    }
}
