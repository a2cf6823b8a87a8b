package dev.molt.devices.virtio;

import dev.molt.devices.GuestWrites;
import dev.molt.memory.GuestMemory;
import dev.molt.memory.GuestMemoryException;

import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.List;

import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;

/**
 * A split virtqueue (virtio 1.x, 2.7): the driver's descriptor table and available ring, the
 * device's used ring, all in guest RAM, and the device's own two counters (the next available
 * entry to take, the next used index). Every read of guest memory is bounds-checked, and whatever
 * the driver wrote there is treated as hostile: a bad ring or chain is a {@link VirtqueueException},
 * never an access outside RAM or a loop.
 *
 * <p>Not thread-safe: the transport's lock guards it.
 */
public final class Virtqueue {
    static final int DESC_F_NEXT = 1, DESC_F_WRITE = 2, DESC_F_INDIRECT = 4;
    static final int AVAIL_F_NO_INTERRUPT = 1;
    private static final int DESC_SIZE = 16;

    private final int maxSize;
    private int size;
    private boolean ready;
    private long descTable, availRing, usedRing;
    private int lastAvail; // the next available-ring entry the device takes, mod 2^16
    private int usedIdx;   // the used ring's idx as the device last published it, mod 2^16

    public Virtqueue(int maxSize) {
        if (maxSize <= 0 || maxSize > 32768 || Integer.bitCount(maxSize) != 1) {
            throw new IllegalArgumentException("queue size " + maxSize + " is not a power of 2 up to 32768");
        }
        this.maxSize = maxSize;
        reset();
    }

    /** What a virtqueue's state is, for migration: its configuration and the device's counters. */
    public record State(int size, boolean ready, long descTable, long availRing, long usedRing, int lastAvail, int usedIdx) {}

    public State state() {
        return new State(size, ready, descTable, availRing, usedRing, lastAvail, usedIdx);
    }

    public void restore(State s) {
        if (s.size() < 0 || s.size() > maxSize) throw new IllegalArgumentException("queue size " + s.size() + " exceeds " + maxSize);
        size = s.size();
        ready = s.ready();
        descTable = s.descTable();
        availRing = s.availRing();
        usedRing = s.usedRing();
        lastAvail = s.lastAvail() & 0xFFFF;
        usedIdx = s.usedIdx() & 0xFFFF;
    }

    public void reset() {
        size = maxSize;
        ready = false;
        descTable = availRing = usedRing = 0;
        lastAvail = usedIdx = 0;
    }

    public int maxSize() {
        return maxSize;
    }

    public int size() {
        return size;
    }

    /** QueueNum: a split queue's size is a power of 2 no larger than the maximum; others are ignored. */
    public void setSize(int n) {
        if (n > 0 && n <= maxSize && Integer.bitCount(n) == 1) size = n;
    }

    public boolean ready() {
        return ready;
    }

    public void setReady(boolean r) {
        ready = r;
    }

    public long descTable() {
        return descTable;
    }

    public long availRing() {
        return availRing;
    }

    public long usedRing() {
        return usedRing;
    }

    public void setDescTable(long gpa) {
        descTable = gpa;
    }

    public void setAvailRing(long gpa) {
        availRing = gpa;
    }

    public void setUsedRing(long gpa) {
        usedRing = gpa;
    }

    /**
     * Takes the next chain the driver made available, or null if there is none.
     *
     * @throws VirtqueueException if the rings or the chain break the rules; the entry is not taken
     */
    public DescriptorChain pop(GuestMemory mem) {
        try {
            int availIdx = u16(mem, availRing + 2);
            int pending = (availIdx - lastAvail) & 0xFFFF;
            if (pending == 0) return null;
            if (pending > size) {
                throw new VirtqueueException("the available index moved " + pending + " entries past the last one taken, more than the queue's " + size);
            }
            VarHandle.acquireFence(); // the ring entry and the chain are read after the index that published them
            int head = u16(mem, availRing + 4 + 2L * (lastAvail % size));
            DescriptorChain chain = walk(mem, head);
            lastAvail = (lastAvail + 1) & 0xFFFF;
            return chain;
        } catch (GuestMemoryException e) {
            throw new VirtqueueException("a ring of the queue is outside guest RAM: " + e.getMessage());
        }
    }

    /** Gives back the chain {@link #pop} took last, untaken: the device had nothing to put in it yet. */
    public void unpop() {
        lastAvail = (lastAvail - 1) & 0xFFFF;
    }

    private DescriptorChain walk(GuestMemory mem, int head) {
        if (head >= size) throw new VirtqueueException("descriptor index " + head + " is outside the queue of " + size);
        List<DescriptorChain.Buffer> buffers = new ArrayList<>();
        boolean seenWritable = false;
        int i = head;
        while (true) {
            if (buffers.size() == size) throw new VirtqueueException("the chain from descriptor " + head + " is longer than the queue (a loop)");
            long d = descTable + (long) DESC_SIZE * i;
            long addr = mem.slice(d, DESC_SIZE).get(JAVA_LONG_UNALIGNED, 0);
            int len = mem.slice(d + 8, 4).get(JAVA_INT_UNALIGNED, 0);
            int flags = u16(mem, d + 12);
            int next = u16(mem, d + 14);
            if ((flags & DESC_F_INDIRECT) != 0) throw new VirtqueueException("descriptor " + i + " is indirect, a feature the device did not offer");
            boolean writable = (flags & DESC_F_WRITE) != 0;
            if (!writable && seenWritable) throw new VirtqueueException("descriptor " + i + " is device-readable after a device-writable one");
            seenWritable |= writable;
            long unsignedLen = Integer.toUnsignedLong(len);
            if (unsignedLen > 0 && !inRam(mem, addr, unsignedLen)) {
                throw new VirtqueueException(String.format("descriptor %d's buffer 0x%x+0x%x is outside guest RAM", i, addr, unsignedLen));
            }
            if (len < 0) throw new VirtqueueException("descriptor " + i + " is 2 GiB or more long");
            buffers.add(new DescriptorChain.Buffer(addr, len, writable));
            if ((flags & DESC_F_NEXT) == 0) return new DescriptorChain(head, buffers);
            if (next >= size) throw new VirtqueueException("descriptor " + i + " chains to " + next + ", outside the queue of " + size);
            i = next;
        }
    }

    private static boolean inRam(GuestMemory mem, long addr, long len) {
        return addr >= 0 && addr + len > addr && mem.contains(addr, len);
    }

    /** Returns the chain at {@code head} to the driver, with {@code written} bytes written into its buffers. */
    public void push(GuestMemory mem, GuestWrites writes, int head, int written) {
        try {
            long elem = usedRing + 4 + 8L * (usedIdx % size);
            var e = mem.slice(elem, 8);
            e.set(JAVA_INT_UNALIGNED, 0, head);
            e.set(JAVA_INT_UNALIGNED, 4, written);
            usedIdx = (usedIdx + 1) & 0xFFFF;
            VarHandle.releaseFence(); // the element is visible before the index that publishes it
            mem.slice(usedRing + 2, 2).set(JAVA_SHORT_UNALIGNED, 0, (short) usedIdx);
            writes.written(elem, 8);
            writes.written(usedRing + 2, 2);
        } catch (GuestMemoryException e) {
            throw new VirtqueueException("the used ring is outside guest RAM: " + e.getMessage());
        }
    }

    /** Whether the driver wants an interrupt for used buffers (it has not set VIRTQ_AVAIL_F_NO_INTERRUPT). */
    public boolean wantsInterrupt(GuestMemory mem) {
        VarHandle.fullFence(); // the used index is published before the driver's flag is read
        try {
            return (u16(mem, availRing) & AVAIL_F_NO_INTERRUPT) == 0;
        } catch (GuestMemoryException e) {
            return true;
        }
    }

    private static int u16(GuestMemory mem, long gpa) {
        return mem.slice(gpa, 2).get(JAVA_SHORT_UNALIGNED, 0) & 0xFFFF;
    }
}
