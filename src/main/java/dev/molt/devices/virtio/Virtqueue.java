package dev.molt.devices.virtio;

import dev.molt.devices.GuestWrites;
import dev.molt.memory.GuestMemory;
import dev.molt.memory.GuestMemoryException;

import java.lang.invoke.VarHandle;

import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
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
    static final int AVAIL_F_NO_INTERRUPT = 1;
    /** Ring features (6): a driver that negotiated them gets them from every queue of every device. */
    public static final long F_INDIRECT_DESC = 1L << 28, F_EVENT_IDX = 1L << 29;

    private final int maxSize;
    private int size;
    private boolean ready;
    private long descTable, availRing, usedRing;
    private int lastAvail; // the next available-ring entry the device takes, mod 2^16
    private int usedIdx;   // the used ring's idx as the device last published it, mod 2^16
    private boolean indirectDesc, eventIdx; // the ring features the driver took
    // The used index when the driver was last interrupted (QEMU's signalled_used); not valid at
    // first, so the first batch after a reset or a restore interrupts whatever used_event says.
    private int signalledUsed;
    private boolean signalledValid;

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
        signalledValid = false;
    }

    /** The features the driver negotiated (its ring features matter here); 0 on reset. */
    public void setFeatures(long negotiated) {
        indirectDesc = (negotiated & F_INDIRECT_DESC) != 0;
        eventIdx = (negotiated & F_EVENT_IDX) != 0;
        signalledValid = false;
    }

    public void reset() {
        size = maxSize;
        ready = false;
        descTable = availRing = usedRing = 0;
        lastAvail = usedIdx = 0;
        setFeatures(0);
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

    /** The used ring's index as the device last published it. */
    public int usedIndex() {
        return usedIdx;
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
     * Takes the next chain the driver made available, or null if there is none. With
     * VIRTIO_F_EVENT_IDX it first writes avail_event (2.7.10): the driver notifies again once it
     * makes the entry this call looks at available, so a queue found empty here is notified of its
     * next request, and a busy one is not notified of each (this thread serves it until empty anyway).
     *
     * @throws VirtqueueException if the rings or the chain break the rules; the entry is not taken
     */
    public DescriptorChain pop(GuestMemory mem, GuestWrites writes) {
        try {
            if (eventIdx) {
                long availEvent = usedRing + 4 + 8L * size;
                mem.slice(availEvent, 2).set(JAVA_SHORT_UNALIGNED, 0, (short) lastAvail);
                writes.written(availEvent, 2);
                VarHandle.fullFence(); // written before the available index is read: the driver sees it, or we see its entry
            }
            int availIdx = u16(mem, availRing + 2);
            int pending = (availIdx - lastAvail) & 0xFFFF;
            if (pending == 0) return null;
            if (pending > size) {
                throw new VirtqueueException("the available index moved " + pending + " entries past the last one taken, more than the queue's " + size);
            }
            VarHandle.acquireFence(); // the ring entry and the chain are read after the index that published them
            int head = u16(mem, availRing + 4 + 2L * (lastAvail % size));
            DescriptorChain chain = DescriptorWalk.chain(mem, descTable, size, head, indirectDesc);
            lastAvail = (lastAvail + 1) & 0xFFFF;
            return chain;
        } catch (GuestMemoryException e) {
            throw new VirtqueueException("a ring of the queue is outside guest RAM: " + e.getMessage());
        }
    }

    /** Gives back the last {@code count} chains {@link #pop} took, untaken: the device had nothing to put in them yet. */
    public void unpop(int count) {
        lastAvail = (lastAvail - count) & 0xFFFF;
    }

    /** A used-ring element: the chain's head and how many bytes the device wrote into it. */
    public record Used(int head, int written) {}

    /** Returns the chain at {@code head} to the driver, with {@code written} bytes written into its buffers. */
    public void push(GuestMemory mem, GuestWrites writes, int head, int written) {
        push(mem, writes, java.util.List.of(new Used(head, written)));
    }

    /**
     * Returns chains to the driver in this order, published by one update of the used index: the
     * driver sees all of them or none (one frame over several receive chains).
     */
    public void push(GuestMemory mem, GuestWrites writes, java.util.List<Used> used) {
        try {
            int idx = usedIdx;
            for (Used u : used) {
                long elem = usedRing + 4 + 8L * (idx % size);
                var e = mem.slice(elem, 8);
                e.set(JAVA_INT_UNALIGNED, 0, u.head());
                e.set(JAVA_INT_UNALIGNED, 4, u.written());
                writes.written(elem, 8);
                idx = (idx + 1) & 0xFFFF;
            }
            VarHandle.releaseFence(); // the elements are visible before the index that publishes them
            mem.slice(usedRing + 2, 2).set(JAVA_SHORT_UNALIGNED, 0, (short) idx);
            usedIdx = idx;
            writes.written(usedRing + 2, 2);
        } catch (GuestMemoryException e) {
            throw new VirtqueueException("the used ring is outside guest RAM: " + e.getMessage());
        }
    }

    /**
     * Whether the driver wants an interrupt for the buffers used since the last one: without
     * VIRTIO_F_EVENT_IDX unless it set VIRTQ_AVAIL_F_NO_INTERRUPT; with it (the flag then means
     * nothing, 2.7.10) only if the used index went past used_event since the last interrupt, as
     * vring_need_event computes. Called once per batch of used buffers.
     */
    public boolean wantsInterrupt(GuestMemory mem) {
        VarHandle.fullFence(); // the used index is published before the driver's flag or used_event is read
        try {
            if (!eventIdx) return (u16(mem, availRing) & AVAIL_F_NO_INTERRUPT) == 0;
            int old = signalledUsed;
            boolean valid = signalledValid;
            signalledUsed = usedIdx;
            signalledValid = true;
            if (!valid) return true;
            int usedEvent = u16(mem, availRing + 4 + 2L * size);
            return ((usedIdx - usedEvent - 1) & 0xFFFF) < ((usedIdx - old) & 0xFFFF);
        } catch (GuestMemoryException e) {
            return true;
        }
    }

    private static int u16(GuestMemory mem, long gpa) {
        return mem.slice(gpa, 2).get(JAVA_SHORT_UNALIGNED, 0) & 0xFFFF;
    }
}
