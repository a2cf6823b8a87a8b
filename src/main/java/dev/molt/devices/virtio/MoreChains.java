package dev.molt.devices.virtio;

import dev.molt.devices.GuestWrites;
import dev.molt.memory.GuestMemory;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.Lock;

/**
 * The rest of the queue a device is answering on, for one answer spread over several chains
 * (virtio-net's mergeable receive buffers, 5.1.6.4): the device takes chains after the one it was
 * given, says how many of them its answer filled, and the transport then returns the first chain
 * and those in order under one used-index update and gives the others back to the driver untaken.
 * A device that answers one chain at a time never calls it.
 */
public final class MoreChains {
    private final Virtqueue queue;
    private final GuestMemory mem;
    private final GuestWrites writes;
    private final Lock lock;
    private static final int[] NONE = {};
    /** Made when the device first takes a chain: one is made for every request, and most take none. */
    private List<DescriptorChain> taken = List.of();
    private int[] used = NONE;

    MoreChains(Virtqueue queue, GuestMemory mem, GuestWrites writes, Lock lock) {
        this.queue = queue;
        this.mem = mem;
        this.writes = writes;
        this.lock = lock;
    }

    /**
     * The next chain the driver made available after those taken, or null if there is none now.
     *
     * @throws VirtqueueException if it breaks the rules (the device then needs a reset)
     */
    public DescriptorChain next() {
        lock.lock();
        try {
            DescriptorChain c = queue.pop(mem, writes);
            if (c != null) {
                if (taken.isEmpty()) taken = new ArrayList<>();
                taken.add(c);
            }
            return c;
        } finally {
            lock.unlock();
        }
    }

    /** The answer also filled the first {@code written.length} chains taken, with these many bytes each. */
    public void use(int... written) {
        if (written.length > taken.size()) throw new IllegalArgumentException(written.length + " chains used, " + taken.size() + " taken");
        used = written.clone();
    }

    /** The chains to return after the first one ({@code head} with {@code written} bytes), in order. */
    List<Virtqueue.Used> answer(int head, int written) {
        if (used.length == 0) return List.of(new Virtqueue.Used(head, written));
        List<Virtqueue.Used> all = new ArrayList<>();
        all.add(new Virtqueue.Used(head, written));
        for (int i = 0; i < used.length; i++) all.add(new Virtqueue.Used(taken.get(i).head(), used[i]));
        return all;
    }

    /** The chains taken after the first, in order. */
    List<DescriptorChain> taken() {
        return List.copyOf(taken);
    }

    /** How many chains were taken and not used: they go back to the driver's ring (all of them when nothing was used). */
    int unused(boolean answered) {
        return answered ? taken.size() - used.length : taken.size();
    }
}
